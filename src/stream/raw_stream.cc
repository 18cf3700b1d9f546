#include "stream/raw_stream.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "data/audio_file.h"
#include "data/sensor_recording.h"
#include "features/resample.h"
#include "mliot/v1/sample.pb.h"
#include "stream/infer_topic.h"
#include "stream/sample_codec.h"

namespace mliot::stream {

absl::StatusOr<std::vector<RawSegment>> AudioStream(const std::vector<RawSegment>& clips, double rate,
                                                    double gap_s, const std::optional<Signal>& background,
                                                    float noise, const std::string& background_label) {
  if (!(rate > 0)) return absl::InvalidArgumentError("audio stream rate must be > 0");
  std::vector<float> bg;
  if (background) {
    std::vector<float> mono;
    MixToMono(background->samples.data(), background->frames(), background->channels, &mono);
    MLIOT_RETURN_IF_ERROR(Resample(mono.data(), static_cast<int64_t>(mono.size()), background->sample_rate, rate, &bg));
    if (bg.empty()) return absl::InvalidArgumentError("background recording is empty");
  }
  std::mt19937_64 rng(11);
  std::normal_distribution<float> white(0.0f, noise);
  int64_t bg_pos = 0;
  const auto gap = [&] {
    RawSegment s;
    s.label = background_label;
    s.signal.sample_rate = rate;
    const int64_t n = std::llround(gap_s * rate);
    s.signal.samples.resize(static_cast<size_t>(std::max<int64_t>(0, n)));
    for (float& v : s.signal.samples) v = bg.empty() ? white(rng) : bg[static_cast<size_t>(bg_pos++ % bg.size())];
    return s;
  };
  std::vector<RawSegment> out;
  for (const RawSegment& clip : clips) {
    if (gap_s > 0) out.push_back(gap());
    RawSegment s;
    s.label = clip.label;
    s.signal.sample_rate = rate;
    std::vector<float> mono;
    MixToMono(clip.signal.samples.data(), clip.signal.frames(), clip.signal.channels, &mono);
    MLIOT_RETURN_IF_ERROR(Resample(mono.data(), static_cast<int64_t>(mono.size()), clip.signal.sample_rate, rate,
                                   &s.signal.samples));
    out.push_back(std::move(s));
  }
  if (gap_s > 0) out.push_back(gap());  // the last clip's windows complete too
  return out;
}

absl::StatusOr<RawStreamReport> PublishRawStream(
    const std::vector<RawSegment>& segments, Publisher& publisher, const RawStreamOptions& o,
    const std::atomic<bool>& stop,
    const std::function<void(int64_t, std::chrono::steady_clock::time_point)>& on_chunk) {
  if (segments.empty()) return absl::InvalidArgumentError("nothing to stream");
  const double rate = segments.front().signal.sample_rate;
  RawStreamReport r;
  const auto start = std::chrono::steady_clock::now();
  int64_t offset = 0;
  for (const RawSegment& seg : segments) {
    const Signal& s = seg.signal;
    if (s.sample_rate != rate) return absl::InvalidArgumentError("every segment of a stream needs one rate");
    const int64_t step = std::max<int64_t>(1, std::llround(o.chunk_s * rate));
    for (int64_t b = 0; b < s.frames() && !stop.load(); b += step) {
      const int64_t e = std::min(s.frames(), b + step);
      // A microphone hands over a chunk once it has recorded it.
      if (o.speed > 0) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                  std::chrono::duration<double>((offset + e - b) / rate / o.speed)));
      }
      v1::Sample c;
      c.set_id(absl::StrCat(o.device, "-", offset));
      c.set_task(o.task);
      c.set_device(o.device);
      c.set_label(seg.label);
      c.set_timestamp_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
      c.set_sample_rate(rate);
      c.set_stream_offset(offset);
      c.add_shape(static_cast<int32_t>(e - b));
      c.add_shape(s.channels);
      for (const std::string& n : s.channel_names) c.add_channel_names(n);
      const float* from = s.samples.data() + b * s.channels;
      const int64_t n = (e - b) * s.channels;
      if (o.pcm16) {
        c.set_dtype(v1::DTYPE_PCM16);
        std::string bytes(static_cast<size_t>(2 * n), '\0');
        for (int64_t i = 0; i < n; ++i) {
          const auto v = static_cast<int16_t>(std::clamp<long>(std::lround(from[i] * 32768.0f), -32768, 32767));
          bytes[2 * i] = static_cast<char>(v & 0xff);
          bytes[2 * i + 1] = static_cast<char>((v >> 8) & 0xff);
        }
        c.set_payload(std::move(bytes));
      } else {
        c.set_dtype(v1::DTYPE_FLOAT32);
        c.set_payload(std::string(reinterpret_cast<const char*>(from), static_cast<size_t>(n) * sizeof(float)));
      }
      for (const std::string& m : EncodeChunks(c, 64 * 1024)) {
        MLIOT_RETURN_IF_ERROR(publisher.Publish(c.id(), m));
        r.bytes += static_cast<int64_t>(m.size());
      }
      offset += e - b;
      ++r.chunks;
      if (on_chunk) on_chunk(offset, std::chrono::steady_clock::now());
    }
  }
  MLIOT_RETURN_IF_ERROR(publisher.Flush(60));
  r.frames = offset;
  r.stream_s = offset / rate;
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

absl::StatusOr<RawDeviceReport> SimulateRawDevice(const std::vector<RawSegment>& segments, const BrokerUri& uri,
                                                  const RawStreamOptions& o, const Featurizer* featurizer,
                                                  const std::atomic<bool>& stop) {
  TransportOptions t;
  t.qos = 1;
  t.client_id = absl::StrCat("mliot-device-", o.device, "-", getpid());
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Publisher> publisher, OpenPublisher(uri, t));
  const bool infer = uri.topic == InferTopic(uri.scheme, o.task);
  if (infer && featurizer == nullptr) return absl::InvalidArgumentError("streaming to the infer topic needs the featurizer");
  // Answers on the pred topic, by window id, with their arrival time.
  struct Arrival {
    v1::SamplePrediction answer;
    std::chrono::steady_clock::time_point at;
  };
  absl::Mutex mu;
  std::map<std::string, Arrival> arrivals;
  std::unique_ptr<Subscriber> answers;
  if (infer) {
    BrokerUri pred = uri;
    pred.topic = PredTopic(uri.scheme, o.task, o.device);
    TransportOptions st;
    st.client_id = absl::StrCat("mliot-device-", o.device, "-pred-", getpid());
    if (uri.scheme == "kafka") st.group = st.client_id;
    MLIOT_ASSIGN_OR_RETURN(answers, OpenSubscriber(pred, st));
    MLIOT_RETURN_IF_ERROR(answers->Start([&](const Message& m) {
      v1::SamplePrediction p;
      if (!p.ParseFromString(m.payload)) return;
      const auto at = std::chrono::steady_clock::now();
      const std::string id = p.id();  // (the right side of = is evaluated first: move after reading the id)
      absl::MutexLock lock(&mu);
      arrivals[id] = Arrival{std::move(p), at};
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the subscription settles
  }
  std::vector<std::pair<int64_t, std::chrono::steady_clock::time_point>> sent;  // chunk end frame, when
  const auto start = std::chrono::steady_clock::now();
  MLIOT_ASSIGN_OR_RETURN(RawStreamReport stream,
                         PublishRawStream(segments, *publisher, o, stop, [&](int64_t end, auto at) {
                           sent.emplace_back(end, at);
                         }));
  RawDeviceReport report{stream, std::nullopt};
  if (!infer) return report;
  // The windows sent, each with its majority label.
  const double rate = segments.front().signal.sample_rate;
  std::vector<std::string> frame_labels;
  frame_labels.reserve(static_cast<size_t>(stream.frames));
  for (const RawSegment& s : segments) frame_labels.insert(frame_labels.end(), static_cast<size_t>(s.signal.frames()), s.label);
  frame_labels.resize(static_cast<size_t>(stream.frames));
  std::vector<FrameRange> windows;
  for (int64_t k = 0;; ++k) {
    const FrameRange w = featurizer->WindowAt(k, rate);
    if (w.end > stream.frames) break;
    windows.push_back(w);
  }
  const std::string prefix = absl::StrCat(o.device, "-f");
  const auto all_in = [&] {
    absl::MutexLock lock(&mu);
    return arrivals.size() >= windows.size();
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!all_in() && std::chrono::steady_clock::now() < deadline && !stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  answers->Stop();
  RawPredictionStats p;
  p.windows = static_cast<int64_t>(windows.size());
  std::vector<double> latency, from_end;
  int64_t correct = 0, stage2 = 0;
  absl::MutexLock lock(&mu);
  for (const FrameRange& w : windows) {
    auto it = arrivals.find(absl::StrCat(prefix, w.begin, "-", w.end));
    if (it == arrivals.end()) {
      ++p.lost;
      continue;
    }
    const v1::SamplePrediction& a = it->second.answer;
    if (!a.error().empty()) {
      ++p.errors;
      continue;
    }
    ++p.answered;
    auto chunk = std::lower_bound(sent.begin(), sent.end(), w.end,
                                  [](const auto& c, int64_t end) { return c.first < end; });
    if (chunk != sent.end()) latency.push_back(std::chrono::duration<double, std::milli>(it->second.at - chunk->second).count());
    const auto window_end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::duration<double>(o.speed > 0 ? w.end / rate / o.speed : 0));
    if (o.speed > 0) from_end.push_back(std::chrono::duration<double, std::milli>(it->second.at - window_end).count());
    std::map<std::string, int64_t> count;
    std::string label;
    int64_t best = -1;
    for (int64_t i = w.begin; i < w.end; ++i) {
      if (++count[frame_labels[i]] > best) {
        best = count[frame_labels[i]];
        label = frame_labels[i];
      }
    }
    if (!label.empty()) {
      ++p.labelled;
      correct += a.label() == label;
    }
    if (a.stage() == 1) {
      ++p.stage1;
      p.stage1_worker_ms += a.worker_latency_ms();
    } else {
      ++stage2;
      p.stage2_worker_ms += a.worker_latency_ms();
    }
  }
  p.accuracy = p.labelled > 0 ? static_cast<double>(correct) / p.labelled : 0;
  p.stage1_worker_ms = p.stage1 > 0 ? p.stage1_worker_ms / p.stage1 : 0;
  p.stage2_worker_ms = stage2 > 0 ? p.stage2_worker_ms / stage2 : 0;
  p.latency_p50_ms = Percentile(latency, 0.5);
  p.latency_p99_ms = Percentile(latency, 0.99);
  p.from_window_end_p50_ms = Percentile(from_end, 0.5);
  p.from_window_end_p99_ms = Percentile(from_end, 0.99);
  report.predictions = p;
  return report;
}

absl::StatusOr<std::vector<RawSegment>> LoadRawSegments(const RawSourceSpec& a) {
  const FeaturizerConfig& f = a.featurizer;
  const std::string dir = a.spec.substr(a.spec.find(':') + 1);
  std::vector<RawSegment> out;
  if (absl::StartsWith(a.spec, "audio:")) {
    MLIOT_ASSIGN_OR_RETURN(std::vector<AudioClipFile> files, ListAudioFolder(dir, /*allow_unlabelled=*/true));
    std::vector<RawSegment> clips;
    for (const AudioClipFile& c : files) {
      MLIOT_ASSIGN_OR_RETURN(Signal s, ReadAudioFile(c.path));
      clips.push_back({std::move(s), c.class_name});
    }
    std::optional<Signal> background;
    float noise = 0.01f;
    if (absl::StartsWith(a.background, "noise:")) {
      double level = 0;
      if (!absl::SimpleAtod(a.background.substr(6), &level) || level < 0) {
        return absl::InvalidArgumentError(absl::StrCat("--background '", a.background, "': noise:LEVEL (a standard deviation) or a recording"));
      }
      noise = static_cast<float>(level);
    } else {
      absl::StatusOr<Signal> rec = ReadAudioFile(a.background);
      if (!rec.ok()) return Annotate(rec.status(), "--background");
      background = *std::move(rec);
    }
    return AudioStream(clips, a.stream_rate, a.gap_s, background, noise, a.background_class);
  }
  MLIOT_ASSIGN_OR_RETURN(std::vector<SensorRecordingFiles> files, ListSensorFolder(dir, f.devices));
  MLIOT_ASSIGN_OR_RETURN(const FeaturizerConfig complete, CompleteFeaturizerConfig(f));
  const Params& params = complete.params;
  for (const SensorRecordingFiles& rec : files) {
    std::vector<SensorRecording> devices;
    for (const std::string& path : rec.paths) {
      MLIOT_ASSIGN_OR_RETURN(SensorRecording r, ReadSensorCsv(path, a.time_column, a.label_column, false));
      devices.push_back(std::move(r));
    }
    MLIOT_ASSIGN_OR_RETURN(AlignedRecording aligned, AlignRecordings(devices, f.devices, params.Double("rate_hz")));
    const Signal& s = aligned.signal;
    for (int64_t b = 0; b < s.frames();) {
      const std::string label = aligned.labels.empty() ? "" : aligned.labels[b];
      int64_t e = b + 1;
      while (e < s.frames() && !aligned.labels.empty() && aligned.labels[e] == label) ++e;
      out.push_back({s.Slice(b, e), label});
      b = e;
    }
  }
  return out;
}


}  // namespace mliot::stream
