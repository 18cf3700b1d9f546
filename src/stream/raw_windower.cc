#include "stream/raw_windower.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"

namespace mliot::stream {

absl::Status ChunkFrames(const v1::Sample& chunk, std::vector<float>* out) {
  if (chunk.shape_size() != 2 || chunk.shape(0) <= 0 || chunk.shape(1) <= 0 || !(chunk.sample_rate() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sample ", chunk.id(), ": a raw chunk needs shape [frames, channels] and sample_rate"));
  }
  const int64_t n = int64_t{chunk.shape(0)} * chunk.shape(1);
  if (chunk.dtype() == v1::DTYPE_PCM16) {
    if (static_cast<int64_t>(chunk.payload().size()) != 2 * n) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", chunk.id(), ": ", chunk.payload().size(),
                                                     " bytes for ", n, " int16 samples"));
    }
    out->resize(static_cast<size_t>(n));
    const auto* b = reinterpret_cast<const unsigned char*>(chunk.payload().data());
    for (int64_t i = 0; i < n; ++i) {
      (*out)[i] = static_cast<float>(static_cast<int16_t>(b[2 * i] | (b[2 * i + 1] << 8))) / 32768.0f;
    }
    return absl::OkStatus();
  }
  if (chunk.dtype() == v1::DTYPE_FLOAT32) {
    if (static_cast<int64_t>(chunk.payload().size()) != 4 * n) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", chunk.id(), ": ", chunk.payload().size(),
                                                     " bytes for ", n, " float32 samples"));
    }
    out->resize(static_cast<size_t>(n));
    std::memcpy(out->data(), chunk.payload().data(), chunk.payload().size());
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("sample ", chunk.id(), ": raw chunks are PCM16 or float32"));
}

absl::StatusOr<std::vector<FeaturizedWindow>> RawWindower::Add(const v1::Sample& chunk) {
  ++counters_.chunks;
  std::vector<float> frames;
  if (absl::Status s = ChunkFrames(chunk, &frames); !s.ok()) {
    ++counters_.rejected;
    return s;
  }
  if (!featurizer_) {
    FeaturizerConfig config = config_;
    if (config.channels.empty() && config.name != "logmel") {
      config.channels.assign(chunk.channel_names().begin(), chunk.channel_names().end());
    }
    absl::StatusOr<std::unique_ptr<Featurizer>> f = MakeFeaturizer(config);
    if (!f.ok()) {
      ++counters_.rejected;
      return f.status();
    }
    featurizer_ = *std::move(f);
  }
  const int channels = chunk.shape(1);
  const int64_t n = chunk.shape(0);
  Device& d = devices_[chunk.device()];
  const bool continues = d.rate == chunk.sample_rate() && d.channels == channels &&
                         chunk.stream_offset() == d.buffer_begin + static_cast<int64_t>(d.labels.size());
  if (!continues) {
    if (d.rate != 0) ++counters_.restarts;
    d = Device{chunk.sample_rate(), channels, chunk.stream_offset(), chunk.stream_offset(), {}, {}, 0};
  }
  d.buffer.insert(d.buffer.end(), frames.begin(), frames.end());
  d.labels.insert(d.labels.end(), static_cast<size_t>(n), chunk.label());

  std::vector<FeaturizedWindow> out;
  Signal window;
  window.channels = channels;
  window.sample_rate = d.rate;
  window.channel_names.assign(chunk.channel_names().begin(), chunk.channel_names().end());
  for (;;) {
    const FrameRange w = featurizer_->WindowAt(d.next, d.rate);
    const int64_t begin = d.start_offset + w.begin, end = d.start_offset + w.end;
    if (end > d.buffer_begin + static_cast<int64_t>(d.labels.size())) break;
    const int64_t from = begin - d.buffer_begin;
    window.samples.assign(d.buffer.begin() + from * channels, d.buffer.begin() + (end - d.buffer_begin) * channels);
    FeaturizedWindow fw;
    fw.device = chunk.device();
    fw.index = d.next++;
    fw.first_frame = begin;
    fw.end_frame = end;
    fw.row.resize(static_cast<size_t>(featurizer_->num_features()));
    if (absl::Status s = featurizer_->FeaturizeWindow(window, {0, end - begin}, fw.row.data()); !s.ok()) {
      ++counters_.rejected;
      devices_.erase(chunk.device());
      return s;
    }
    std::map<std::string, int64_t> count;
    for (int64_t i = from; i < end - d.buffer_begin; ++i) ++count[d.labels[i]];
    int64_t best = -1;
    for (int64_t i = from; i < end - d.buffer_begin; ++i) {
      if (count[d.labels[i]] > best) {
        best = count[d.labels[i]];
        fw.label = d.labels[i];
      }
    }
    fw.last_chunk_id = chunk.id();
    fw.last_chunk_timestamp_ms = chunk.timestamp_ms();
    out.push_back(std::move(fw));
    ++counters_.windows;
    // Drop the frames no later window needs.
    const int64_t keep_from = d.start_offset + featurizer_->WindowAt(d.next, d.rate).begin;
    const int64_t drop = std::min<int64_t>(keep_from - d.buffer_begin, static_cast<int64_t>(d.labels.size()));
    if (drop > 0) {
      d.buffer.erase(d.buffer.begin(), d.buffer.begin() + drop * channels);
      d.labels.erase(d.labels.begin(), d.labels.begin() + drop);
      d.buffer_begin += drop;
    }
  }
  return out;
}

std::string WindowId(const FeaturizedWindow& w) {
  return absl::StrCat(w.device, "-f", w.first_frame, "-", w.end_frame);
}

v1::Sample RawWindower::ToSample(const FeaturizedWindow& w, const std::string& task) const {
  v1::Sample s;
  s.set_id(WindowId(w));
  s.set_task(task);
  s.set_device(w.device);
  s.set_label(w.label);
  s.set_timestamp_ms(w.last_chunk_timestamp_ms);
  if (featurizer_ && featurizer_->shape()) {
    s.add_shape(featurizer_->shape()->height);
    s.add_shape(featurizer_->shape()->width);
  } else {
    s.add_shape(static_cast<int32_t>(w.row.size()));
  }
  s.set_dtype(v1::DTYPE_FLOAT32);
  s.set_payload(std::string(reinterpret_cast<const char*>(w.row.data()), w.row.size() * sizeof(float)));
  return s;
}

}  // namespace mliot::stream
