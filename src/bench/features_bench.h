// bench features: featurization speed on one thread, mliot vs the numpy
// peer (bench/peers/features_peer.py) on the same input files.
//
//   audio   clips of 0.5-3 s (tones, chirps, noise; seeded), 16 kHz PCM16
//           WAV, windowed and featurized by logmel clip by clip; also the
//           same clips at 44.1 kHz (the resampling path, mliot only)
//   sensors one 6-channel recording (3-axis accelerometer + gyroscope) at
//           50 Hz, sensor_stats windows of 2 s every 1 s
#ifndef MLIOT_BENCH_FEATURES_BENCH_H_
#define MLIOT_BENCH_FEATURES_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct FeaturesBenchOptions {
  double audio_s = 120;        // total audio
  int sensor_windows = 3000;   // windows of the sensor recording
  int repeat = 3;              // interleaved rounds
  bool peer = true;
  std::string source_dir;      // where bench/peers/ is (default: looked up)
  std::string work_dir;        // input files (default: a temporary directory)
};

// `make bench-quick`: 10 s of audio, 200 sensor windows, one round.
void MakeQuick(FeaturesBenchOptions& options);

// {logmel: {realtime_factor, ms_per_s_audio, ms_per_s_audio_44k, speedup_vs_peer,
//  peer: {ms_per_s_audio}}, sensor_stats: {windows_per_s, speedup_vs_peer,
//  peer: {windows_per_s}}, range, repeats, machine}. Without the peer (or
// when it fails) `peer_error` says why and the peer figures are absent.
absl::StatusOr<nlohmann::json> RunFeaturesBench(const FeaturesBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_FEATURES_BENCH_H_
