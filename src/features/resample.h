// Mono mix-down and sample-rate conversion (libsoxr; docs/FEATURES.md says
// why soxr and not libsamplerate).
#ifndef MLIOT_FEATURES_RESAMPLE_H_
#define MLIOT_FEATURES_RESAMPLE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

// The mean of the channels of each frame. `samples` is frames x channels.
void MixToMono(const float* samples, int64_t frames, int channels, std::vector<float>* mono);

// Converts mono `in` from `from_hz` to `to_hz` with soxr's high-quality
// preset (SOXR_HQ: 20-bit precision, linear phase, 91 % bandwidth) on the
// calling thread. Output length: round(frames * to_hz / from_hz).
// Errors: a rate <= 0.
absl::Status Resample(const float* in, int64_t frames, double from_hz, double to_hz,
                      std::vector<float>* out);

}  // namespace mliot

#endif  // MLIOT_FEATURES_RESAMPLE_H_
