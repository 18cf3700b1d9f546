// logmel: the VGGish audio front end (paper §6.1, the Ubicoustics features).
//
//   mono -> 16 kHz (libsoxr) -> 25 ms periodic-Hann frames, 10 ms hop
//   -> |FFT| of size 512 -> 64 HTK-mel bands, 125-7500 Hz, triangular
//   filters of peak 1 (mel = 1127 ln(1 + f/700); the DC bin has no weight)
//   -> log(mel + 0.01) -> patches of 96 frames (0.96 s), hop 96 frames.
//
// One patch is one 96x64 row (shape {96, 64}). Its window needs 15,600
// samples at 16 kHz: 95 hops plus one frame. Windows of a clip:
//   * a clip shorter than one window gives one window, zero-padded at the
//     end (padding is silence: log(0.01) in every band it covers);
//   * a longer clip gives a window every 0.96 s; the remainder after the
//     last full window becomes one more, zero-padded window when it is at
//     least half a window long (0.48 s), and is dropped otherwise.
// Windows are cut from the clip at its own rate; each is converted to 16 kHz
// on its own, so that a device streaming one window at a time gets exactly
// the rows training saw.
#ifndef MLIOT_FEATURES_LOGMEL_H_
#define MLIOT_FEATURES_LOGMEL_H_

#include <vector>

#include "features/featurizer.h"

namespace mliot {

inline constexpr double kLogMelRate = 16000;
inline constexpr int kLogMelFrame = 400;   // 25 ms
inline constexpr int kLogMelHop = 160;     // 10 ms
inline constexpr int kLogMelFft = 512;
inline constexpr int kLogMelBands = 64;
inline constexpr int kLogMelPatch = 96;    // frames per patch
inline constexpr int kLogMelPatchSamples = (kLogMelPatch - 1) * kLogMelHop + kLogMelFrame;  // 15600
inline constexpr int kLogMelPatchHop = kLogMelPatch * kLogMelHop;                           // 15360

// The periodic Hann window: 0.5 - 0.5 cos(2 pi n / N), n = 0 .. N-1.
std::vector<float> PeriodicHann(int n);

// HTK mel scale: 1127 ln(1 + hz / 700).
double HertzToMel(double hz);

// Mel weights as a (fft/2 + 1) x bands row-major matrix, as VGGish's
// spectrogram_to_mel_matrix: bands equally spaced on the mel scale between
// low and high Hz, triangles of peak 1, no weight on the DC bin.
std::vector<float> MelMatrix(int bands, int fft_size, double rate, double low_hz, double high_hz);

FeaturizerKind LogMelKind();

}  // namespace mliot

#endif  // MLIOT_FEATURES_LOGMEL_H_
