#include "features/resample.h"

#include <samplerate.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace mliot {

void MixToMono(const float* samples, int64_t frames, int channels, std::vector<float>* mono) {
  mono->resize(static_cast<size_t>(frames));
  if (channels == 1) {
    std::copy(samples, samples + frames, mono->begin());
    return;
  }
  const float scale = 1.0f / static_cast<float>(channels);
  for (int64_t f = 0; f < frames; ++f) {
    float sum = 0;
    for (int c = 0; c < channels; ++c) sum += samples[f * channels + c];
    (*mono)[f] = sum * scale;
  }
}

absl::Status Resample(const float* in, int64_t frames, double from_hz, double to_hz,
                      std::vector<float>* out) {
  if (!(from_hz > 0) || !(to_hz > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("sample rate must be > 0 (got ", from_hz, " -> ", to_hz, ")"));
  }
  const double ratio = to_hz / from_hz;
  if (src_is_valid_ratio(ratio) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resample ", from_hz, " Hz to ", to_hz, " Hz"));
  }
  const int64_t want = std::llround(static_cast<double>(frames) * ratio);
  out->assign(static_cast<size_t>(want + 2), 0.0f);
  SRC_DATA data{};
  data.data_in = in;
  data.input_frames = static_cast<long>(frames);
  data.data_out = out->data();
  data.output_frames = static_cast<long>(out->size());
  data.src_ratio = ratio;
  data.end_of_input = 1;
  if (const int err = src_simple(&data, SRC_SINC_FASTEST, 1); err != 0) {
    return absl::InternalError(absl::StrCat("libsamplerate: ", src_strerror(err)));
  }
  out->resize(static_cast<size_t>(want));  // zero-filled if the converter gave fewer
  return absl::OkStatus();
}

}  // namespace mliot
