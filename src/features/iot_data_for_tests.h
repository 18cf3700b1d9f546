// Audio and sensor recordings that tests make for themselves (tones, noise,
// synthetic motion), so that no test needs data from outside the build.
#ifndef MLIOT_FEATURES_IOT_DATA_FOR_TESTS_H_
#define MLIOT_FEATURES_IOT_DATA_FOR_TESTS_H_

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/audio_file.h"
#include "data/signal.h"
#include "gtest/gtest.h"

namespace mliot::testing {

// A sine of `hz` (plus a little noise), `channels` identical channels.
inline Signal Tone(double hz, double seconds, double rate = 16000, int channels = 1, float amp = 0.5f,
                   uint64_t seed = 1) {
  Signal s;
  s.channels = channels;
  s.sample_rate = rate;
  const int64_t n = static_cast<int64_t>(seconds * rate);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  for (int64_t i = 0; i < n; ++i) {
    const float v = amp * static_cast<float>(std::sin(2 * std::numbers::pi * hz * i / rate)) + noise(rng);
    for (int c = 0; c < channels; ++c) s.samples.push_back(v);
  }
  return s;
}

// White noise of standard deviation `sd`.
inline Signal Noise(double seconds, double rate = 16000, float sd = 0.1f, uint64_t seed = 2) {
  Signal s;
  s.sample_rate = rate;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, sd);
  for (int64_t i = 0; i < static_cast<int64_t>(seconds * rate); ++i) s.samples.push_back(noise(rng));
  return s;
}

// A sensor CSV: x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label at
// `rate` Hz from t0_ms; activity(t_s) gives the label, and the motion is a
// sine whose frequency depends on the label's index in `classes`.
inline void WriteSensorCsv(const std::string& path, double t0_ms, double rate, double seconds,
                           const std::function<std::string(double)>& activity,
                           const std::vector<std::string>& classes, uint64_t seed = 3,
                           bool with_label = true) {
  std::ofstream out(path);
  out << "x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp" << (with_label ? ",label" : "") << "\n";
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.2);
  for (int64_t i = 0; i < static_cast<int64_t>(seconds * rate); ++i) {
    const double t = i / rate;
    const std::string label = activity(t);
    int k = 0;
    while (k < static_cast<int>(classes.size()) && classes[k] != label) ++k;
    const double f = 0.5 + 1.5 * k;
    const double w = 2 * std::numbers::pi * f * t;
    out << std::sin(w) * (1 + k) + noise(rng) << "," << std::cos(w) + noise(rng) << ","
        << 9.8 + 0.3 * k + noise(rng) << "," << 0.1 * k + noise(rng) << "," << std::sin(2 * w) * 0.2 * k + noise(rng)
        << "," << noise(rng) << "," << absl::StrCat(static_cast<int64_t>(t0_ms + 1000.0 * t));
    if (with_label) out << "," << label;
    out << "\n";
  }
}

// Three sound classes in DIR/<class>/: a low hum, a high whistle and
// broadband noise bursts, at mixed rates (16, 44.1, 22.05 kHz), lengths
// (0.4-2.2 s) and channel counts.
inline void WriteAudioSet(const std::string& dir, int per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> length(0.4, 2.2);
  const double rates[] = {16000, 44100, 22050};
  for (int i = 0; i < per_class; ++i) {
    const double rate = rates[i % 3];
    const int channels = i % 4 == 0 ? 2 : 1;
    Signal hum = Tone(220 + 15 * (i % 5), length(rng), rate, channels, 0.4f, seed + i);
    Signal whistle = Tone(3000 + 100 * (i % 5), length(rng), rate, channels, 0.3f, seed + 100 + i);
    Signal burst = Noise(length(rng), rate, 0.3f, seed + 200 + i);
    for (auto& [cls, s] : {std::pair<std::string, Signal*>{"hum", &hum}, {"whistle", &whistle}, {"burst", &burst}}) {
      std::filesystem::create_directories(dir + "/" + cls);
      ASSERT_TRUE(WriteWavFile(dir + "/" + cls + "/" + cls + std::to_string(i) + ".wav", *s).ok());
    }
  }
}

}  // namespace mliot::testing

#endif  // MLIOT_FEATURES_IOT_DATA_FOR_TESTS_H_
