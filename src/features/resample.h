// Mono mix-down and sample-rate conversion (libsamplerate).
#ifndef MLIOT_FEATURES_RESAMPLE_H_
#define MLIOT_FEATURES_RESAMPLE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

// The mean of the channels of each frame. `samples` is frames x channels.
void MixToMono(const float* samples, int64_t frames, int channels, std::vector<float>* mono);

// Converts mono `in` from `from_hz` to `to_hz` with libsamplerate's
// SRC_SINC_FASTEST converter (band-limited sinc; 97 dB SNR, 80 % of the
// bandwidth). Output length: round(frames * to_hz / from_hz).
// Errors: a rate <= 0, or the ratio outside libsamplerate's [1/256, 256].
absl::Status Resample(const float* in, int64_t frames, double from_hz, double to_hz,
                      std::vector<float>* out);

}  // namespace mliot

#endif  // MLIOT_FEATURES_RESAMPLE_H_
