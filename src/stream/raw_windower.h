// RawWindower: a device's stream of raw chunks (audio from a microphone,
// readings from a sensor board; Sample.sample_rate set, shape [frames,
// channels]) cut into its featurizer's windows and featurized, as the
// chunks arrive. Windows follow Featurizer::WindowAt on the stream's frame
// index (Sample.stream_offset), so a device streaming a clip gets the rows
// `train --data audio:` would cut from it.
//
// Each device has its own buffer. A chunk that does not continue its
// device's stream (a lost chunk, a restarted device, another rate) starts
// the device's windows afresh at that chunk, and is counted.
//
//   RawWindower w(config);
//   for (RawWindow& win : *w.Add(chunk)) Predict(win.row);
//
// Thread-safety: not thread-safe; one ingest thread calls Add.
#ifndef MLIOT_STREAM_RAW_WINDOWER_H_
#define MLIOT_STREAM_RAW_WINDOWER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/featurizer.h"
#include "mliot/v1/sample.pb.h"

namespace mliot::stream {

struct FeaturizedWindow {
  std::string device;
  int64_t index = 0;               // k: the device's k-th window since its stream (re)started
  int64_t first_frame = 0;         // stream frames [first_frame, end_frame) of the device
  int64_t end_frame = 0;
  std::vector<float> row;          // num_features() floats
  std::string label;               // the label of most of its frames ("" when unlabelled)
  std::string last_chunk_id;       // the chunk that completed it
  int64_t last_chunk_timestamp_ms = 0;
};

struct WindowerCounters {
  int64_t chunks = 0;
  int64_t windows = 0;
  int64_t restarts = 0;  // chunks that did not continue their device's stream
  int64_t rejected = 0;  // chunks the featurizer cannot take
};

// A window's id: "<device>-f<first_frame>-<end_frame>" (the answer on the
// pred topic carries it, so a device can tell which window it answers).
std::string WindowId(const FeaturizedWindow& window);

class RawWindower {
 public:
  // `config` as in a bundle or a task spec; a sensor featurizer without
  // channels takes them from the first chunk's channel_names.
  explicit RawWindower(FeaturizerConfig config) : config_(std::move(config)) {}

  // Errors (the chunk is dropped, the stream goes on): not a raw chunk, or
  // channels/rate the featurizer cannot take.
  absl::StatusOr<std::vector<FeaturizedWindow>> Add(const v1::Sample& chunk);

  // The sample a window becomes on the training path: float32, shape the
  // featurizer's ([96, 64] for logmel, [n] otherwise), its label.
  v1::Sample ToSample(const FeaturizedWindow& window, const std::string& task) const;

  const Featurizer* featurizer() const { return featurizer_.get(); }
  const WindowerCounters& counters() const { return counters_; }

 private:
  struct Device {
    double rate = 0;
    int channels = 0;
    int64_t start_offset = 0;  // stream offset of the stream's frame 0
    int64_t buffer_begin = 0;  // stream frame index of buffer[0]
    std::deque<float> buffer;  // frames x channels
    std::deque<std::string> labels;  // one per frame
    int64_t next = 0;          // the next window's index
  };

  FeaturizerConfig config_;
  std::unique_ptr<Featurizer> featurizer_;
  std::map<std::string, Device> devices_;
  WindowerCounters counters_;
};

// Decodes a raw chunk's frames (PCM16 or float32) into `out`; errors name
// the sample.
absl::Status ChunkFrames(const v1::Sample& chunk, std::vector<float>* out);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_RAW_WINDOWER_H_
