// sensor_stats: per-window features of multichannel sensor readings (the
// Mites statistical set, paper §2.1, plus spectral features).
//
// The recording is on one clock at rate_hz (data/sensor_recording.h aligns
// devices). Windows of window_s seconds every hop_s seconds; a recording
// shorter than one window has none. For every channel, and for the
// magnitude sqrt(x² + y² + z²) of every 3-axis sensor (channels x_NAME,
// y_NAME, z_NAME, optionally behind a "DEVICE." prefix -> mag_NAME):
//
//   min, max, range, mean, sum, std (population), centroid
//     (centroid: sum(i |x_i|) / sum(|x_i|) / (n - 1), 0.5 for all zeros)
//   band0 .. band{bands-1}: log(1 + energy) in equal-width bands of the
//     non-DC bins of |FFT(x - mean)|²
//   dominant_hz, spectral_centroid_hz, spectral_entropy (normalised to
//     [0, 1]; all three 0 for a constant window)
#ifndef MLIOT_FEATURES_SENSOR_STATS_H_
#define MLIOT_FEATURES_SENSOR_STATS_H_

#include <string>
#include <utility>
#include <vector>

#include "features/featurizer.h"

namespace mliot {

// For channel names, the 3-axis triples: (name of the magnitude, x, y, z).
struct AxisTriple {
  std::string name;
  int x = 0, y = 0, z = 0;
};
std::vector<AxisTriple> AxisTriples(const std::vector<std::string>& channels);

FeaturizerKind SensorStatsKind();

}  // namespace mliot

#endif  // MLIOT_FEATURES_SENSOR_STATS_H_
