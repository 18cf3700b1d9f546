// Signal: a uniformly sampled multichannel recording — audio from a
// microphone, or sensor readings aligned onto one clock.
//
//   samples        frames x channels, interleaved (frame-major)
//   sample_rate    frames per second
//   channel_names  optional; empty or `channels` long (e.g. "sp.x_acc")
//
// A plain value, like Dataset.
#ifndef MLIOT_DATA_SIGNAL_H_
#define MLIOT_DATA_SIGNAL_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace mliot {

struct Signal {
  std::vector<float> samples;
  int channels = 1;
  double sample_rate = 0;
  std::vector<std::string> channel_names;

  int64_t frames() const { return channels > 0 ? static_cast<int64_t>(samples.size()) / channels : 0; }
  double seconds() const { return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0; }

  // Frames [begin, end) (clamped to the signal), same channels and rate.
  Signal Slice(int64_t begin, int64_t end) const {
    Signal out;
    out.channels = channels;
    out.sample_rate = sample_rate;
    out.channel_names = channel_names;
    begin = std::clamp<int64_t>(begin, 0, frames());
    end = std::clamp<int64_t>(end, begin, frames());
    out.samples.assign(samples.begin() + begin * channels, samples.begin() + end * channels);
    return out;
  }
};

}  // namespace mliot

#endif  // MLIOT_DATA_SIGNAL_H_
