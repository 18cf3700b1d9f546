#include "features/resample.h"

#include <soxr.h>

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
  const int64_t want = std::llround(static_cast<double>(frames) * to_hz / from_hz);
  out->assign(static_cast<size_t>(want), 0.0f);
  if (frames == 0 || want == 0) return absl::OkStatus();
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);  // the caller's thread only
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(from_hz, to_hz, 1, in, static_cast<size_t>(frames), nullptr, out->data(),
                                        out->size(), &done, nullptr, &quality, &runtime);
  if (err != nullptr) return absl::InternalError(absl::StrCat("soxr: ", err));
  return absl::OkStatus();  // any frames soxr did not produce stay 0
}

}  // namespace mliot
