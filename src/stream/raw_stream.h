// A microphone or a sensor board, simulated: a raw stream published in short
// chunks at the pace it was recorded (or faster), as `mliot device simulate
// --data audio:DIR|sensor:DIR` does.
//
//   audio    every clip, converted to one stream rate (a microphone has one),
//            with `gap_s` of background before each clip: a recording
//            (looped) or white noise; chunks are 16-bit PCM
//   sensors  every recording (devices aligned on one clock), one after the
//            other; chunks are float32 readings with their channel names
//
// A chunk never spans two labels, so a training topic gets each frame's
// label; Sample.stream_offset numbers the frames of the device's stream.
#ifndef MLIOT_STREAM_RAW_STREAM_H_
#define MLIOT_STREAM_RAW_STREAM_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/broker_uri.h"
#include "data/signal.h"
#include "features/featurizer.h"
#include "stream/transport.h"

namespace mliot::stream {

// One stretch of the stream with one label ("" unlabelled).
struct RawSegment {
  Signal signal;
  std::string label;
};

struct RawStreamOptions {
  std::string task;
  std::string device = "device-1";
  double speed = 1;       // 1: real time; 10: ten times faster; 0: as fast as the transport takes it
  double chunk_s = 0.02;  // frames per chunk, in seconds of the stream
  bool pcm16 = true;      // audio; sensors travel as float32
};

// Audio clips (any rate, any channels) as one mono stream at `rate`, each
// clip preceded by `gap_s` of `background` (looped; white noise of standard
// deviation `noise` when absent) labelled `background_label`.
absl::StatusOr<std::vector<RawSegment>> AudioStream(const std::vector<RawSegment>& clips, double rate,
                                                    double gap_s, const std::optional<Signal>& background,
                                                    float noise, const std::string& background_label);

// Where a simulated device's stream comes from (`device simulate` flags).
struct RawSourceSpec {
  std::string spec;                 // audio:DIR or sensor:DIR
  FeaturizerConfig featurizer;      // sensors: rate_hz and devices
  std::string time_column = "timestamp";
  std::string label_column = "label";
  std::string background = "noise:0.01";  // audio: noise:LEVEL or a recording
  double gap_s = 1.0;                     // audio: background before each clip
  std::string background_class = "background";
  double stream_rate = 16000;             // audio
};

// The segments of the stream: audio clips (DIR/<class>/<clip>, or clips in
// DIR unlabelled) with background between them at `stream_rate`, or sensor
// recordings aligned at the featurizer's rate, cut where the label changes.
// Errors name the file or flag.
absl::StatusOr<std::vector<RawSegment>> LoadRawSegments(const RawSourceSpec& source);

struct RawStreamReport {
  int64_t chunks = 0;
  int64_t frames = 0;
  int64_t bytes = 0;
  double stream_s = 0;   // seconds of signal sent
  double elapsed_s = 0;
};

// Publishes `segments` in order; `on_chunk(end_frame, sent_at)` is told when
// each chunk has been handed to the transport (for latency measurement).
absl::StatusOr<RawStreamReport> PublishRawStream(
    const std::vector<RawSegment>& segments, Publisher& publisher, const RawStreamOptions& options,
    const std::atomic<bool>& stop,
    const std::function<void(int64_t, std::chrono::steady_clock::time_point)>& on_chunk = nullptr);

// What a device that streamed to its task's infer topic saw come back on its
// pred topic: one answer per featurizer window, matched by window id.
struct RawPredictionStats {
  int64_t windows = 0;      // complete windows in what was sent
  int64_t answered = 0;     // windows answered with a prediction
  int64_t errors = 0;       // answered with an error
  int64_t lost = 0;         // never answered (5 s after the stream ended)
  int64_t labelled = 0;
  double accuracy = 0;      // against each window's majority label
  // From the moment the chunk completing a window was handed to the broker.
  double latency_p50_ms = 0, latency_p99_ms = 0;
  // From the window's end in stream time (adds the chunk's own length).
  double from_window_end_p50_ms = 0, from_window_end_p99_ms = 0;
  int64_t stage1 = 0;                        // answered by the background detector
  double stage1_worker_ms = 0, stage2_worker_ms = 0;  // mean worker latency per stage
};

struct RawDeviceReport {
  RawStreamReport stream;
  std::optional<RawPredictionStats> predictions;  // set when streaming to the infer topic
};

// Streams `segments` to `uri`. When uri's topic is the task's infer topic,
// also listens on the device's pred topic and matches the answers to the
// windows of `featurizer` (required then).
absl::StatusOr<RawDeviceReport> SimulateRawDevice(const std::vector<RawSegment>& segments, const BrokerUri& uri,
                                                  const RawStreamOptions& options, const Featurizer* featurizer,
                                                  const std::atomic<bool>& stop);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_RAW_STREAM_H_
