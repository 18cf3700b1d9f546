// The featurizers against golden files computed independently by the numpy
// reference (testdata/make_golden.py, from the published VGGish and Mites
// formulas), plus properties a reader can check by hand.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "data/audio_file.h"
#include "features/featurizer.h"
#include "features/fft.h"
#include "features/iot_data_for_tests.h"
#include "features/logmel.h"
#include "features/resample.h"
#include "features/sensor_stats.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::HasSubstr;

std::string TestData(const std::string& name) {
  const char* src = std::getenv("MLIOT_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/src/features/testdata/" + name;
}

std::vector<double> ReadNumbers(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> out;
  double v;
  while (in >> v) out.push_back(v);
  return out;
}

std::unique_ptr<Featurizer> LogMelFeaturizer() {
  auto f = MakeFeaturizer(FeaturizerConfig{.name = "logmel"});
  EXPECT_TRUE(f.ok()) << f.status();
  return *std::move(f);
}

TEST(LogMelTest, HannMatchesGolden) {
  const std::vector<double> golden = ReadNumbers(TestData("hann400.txt"));
  const std::vector<float> w = PeriodicHann(400);
  ASSERT_EQ(golden.size(), w.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i], golden[i], 1e-6) << i;
  EXPECT_EQ(w[0], 0.0f);  // periodic: starts at 0, does not end at 0
  EXPECT_GT(w[399], 0.0f);
}

TEST(LogMelTest, MelMatrixMatchesGolden) {
  const std::vector<float> mel = MelMatrix(64, 512, 16000, 125, 7500);
  std::ifstream in(TestData("mel_matrix.txt"));
  int k, b;
  double weight;
  int golden_nonzero = 0;
  while (in >> k >> b >> weight) {
    ++golden_nonzero;
    EXPECT_NEAR(mel[k * 64 + b], weight, 1e-5) << "bin " << k << " band " << b;
  }
  int nonzero = 0;
  for (float v : mel) nonzero += v != 0.0f ? 1 : 0;
  EXPECT_EQ(nonzero, golden_nonzero);
  EXPECT_GT(golden_nonzero, 400);
  for (int band = 0; band < 64; ++band) EXPECT_EQ(mel[band], 0.0f);  // DC bin
  EXPECT_NEAR(HertzToMel(700), 1127 * std::log(2.0), 1e-9);
}

class LogMelGoldenTest : public ::testing::TestWithParam<FftBackend> {};

TEST_P(LogMelGoldenTest, ToneMatchesNumpy) {
  setenv("MLIOT_FFT", GetParam() == FftBackend::kFftw ? "fftw" : "kissfft", 1);
  auto f = LogMelFeaturizer();
  unsetenv("MLIOT_FFT");
  auto clip = ReadAudioFile(TestData("tone.wav"));
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_EQ(clip->sample_rate, 16000);
  EXPECT_EQ(clip->frames(), 16000);
  const std::vector<double> golden = ReadNumbers(TestData("logmel_tone.txt"));
  ASSERT_EQ(golden.size(), 96u * 64u);
  std::vector<float> row(static_cast<size_t>(f->num_features()));
  ASSERT_TRUE(f->FeaturizeWindow(*clip, {0, clip->frames()}, row.data()).ok());
  double worst = 0;
  for (size_t i = 0; i < row.size(); ++i) worst = std::max(worst, std::abs(row[i] - golden[i]));
  EXPECT_LT(worst, 2e-3) << "largest difference from numpy";
}

INSTANTIATE_TEST_SUITE_P(Backends, LogMelGoldenTest, ::testing::Values(FftBackend::kFftw, FftBackend::kKissFft));

TEST(LogMelTest, SineLandsInItsMelBand) {
  auto f = LogMelFeaturizer();
  for (double hz : {500.0, 2000.0, 5000.0}) {
    const Signal s = testing::Tone(hz, 1.0, 16000, 1, 0.5f);
    std::vector<float> row(static_cast<size_t>(f->num_features()));
    ASSERT_TRUE(f->FeaturizeWindow(s, {0, s.frames()}, row.data()).ok());
    // The band whose centre is nearest the tone on the mel scale.
    const double low = HertzToMel(125), high = HertzToMel(7500), want = HertzToMel(hz);
    int expected = 0;
    for (int b = 0; b < 64; ++b) {
      const double center = low + (high - low) * (b + 1) / 65;
      const double best = low + (high - low) * (expected + 1) / 65;
      if (std::abs(center - want) < std::abs(best - want)) expected = b;
    }
    const float* frame = row.data() + 48 * 64;  // a frame in the middle
    const int loudest = static_cast<int>(std::max_element(frame, frame + 64) - frame);
    EXPECT_NEAR(loudest, expected, 1) << hz << " Hz";
  }
}

TEST(LogMelTest, SilenceIsTheLogFloor) {
  auto f = LogMelFeaturizer();
  Signal silence;
  silence.sample_rate = 16000;
  silence.samples.assign(20000, 0.0f);
  std::vector<float> row(static_cast<size_t>(f->num_features()));
  ASSERT_TRUE(f->FeaturizeWindow(silence, {0, silence.frames()}, row.data()).ok());
  for (float v : row) ASSERT_NEAR(v, std::log(0.01f), 1e-6);
}

TEST(LogMelTest, ShortClipIsPaddedWithSilence) {
  auto f = LogMelFeaturizer();
  const Signal s = testing::Tone(1000, 0.3, 16000);  // 30 frames of tone, 66 of padding
  ASSERT_EQ(f->Windows(s.frames(), s.sample_rate).size(), 1u);
  std::vector<float> row(static_cast<size_t>(f->num_features()));
  ASSERT_TRUE(f->FeaturizeWindow(s, {0, s.frames()}, row.data()).ok());
  EXPECT_GT(row[10 * 64 + 20], std::log(0.01f) + 1);  // tone
  for (int b = 0; b < 64; ++b) EXPECT_NEAR(row[80 * 64 + b], std::log(0.01f), 1e-6);  // padding
}

TEST(LogMelTest, WindowsOfLongerClips) {
  auto f = LogMelFeaturizer();
  EXPECT_EQ(f->Windows(19200, 16000).size(), 1u);  // 1.2 s: remainder 0.24 s dropped
  const auto w = f->Windows(40000, 16000);          // 2.5 s: two full, remainder 0.58 s kept
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[1].begin, 15360);
  EXPECT_EQ(w[1].end, 15360 + 15600);
  EXPECT_EQ(w[2].end, 40000);
  const auto w44 = f->Windows(44100 * 2, 44100);  // the same cut at 44.1 kHz
  ASSERT_EQ(w44.size(), 2u);
  EXPECT_EQ(w44[1].begin, std::llround(15360 * 44100.0 / 16000));
  EXPECT_TRUE(f->shape().has_value());
  EXPECT_EQ(f->shape()->height, 96);
  EXPECT_EQ(f->shape()->width, 64);
}

TEST(ResampleTest, From44100To16000KeepsTheTone) {
  const Signal s = testing::Tone(1000, 1.0, 44100, 1, 0.5f);
  std::vector<float> out;
  ASSERT_TRUE(Resample(s.samples.data(), s.frames(), 44100, 16000, &out).ok());
  EXPECT_EQ(out.size(), 16000u);
  // The 1 kHz tone's peak stays at 1 kHz (bin 32 of a 512-point FFT at 16 kHz).
  RealFft fft(512);
  std::vector<std::complex<float>> spec(257);
  fft.Forward(out.data() + 4000, spec.data());
  int peak = 0;
  for (int k = 0; k < 257; ++k) {
    if (std::abs(spec[k]) > std::abs(spec[peak])) peak = k;
  }
  EXPECT_EQ(peak, 32);
  // And the log-mel of the 44.1 kHz tone matches that of the same tone at 16 kHz.
  auto f = LogMelFeaturizer();
  const Signal s16 = testing::Tone(1000, 1.0, 16000, 1, 0.5f);
  std::vector<float> a(96 * 64), b(96 * 64);
  ASSERT_TRUE(f->FeaturizeWindow(s, f->Windows(s.frames(), 44100)[0], a.data()).ok());
  ASSERT_TRUE(f->FeaturizeWindow(s16, f->Windows(s16.frames(), 16000)[0], b.data()).ok());
  const int band = static_cast<int>(std::max_element(b.begin() + 48 * 64, b.begin() + 49 * 64) - (b.begin() + 48 * 64));
  EXPECT_NEAR(a[48 * 64 + band], b[48 * 64 + band], 0.1);
  EXPECT_FALSE(Resample(s.samples.data(), s.frames(), 0, 16000, &out).ok());
}

TEST(LogMelTest, StereoIsMixedToMono) {
  auto f = LogMelFeaturizer();
  const Signal mono = testing::Tone(800, 1.0, 16000, 1);
  const Signal stereo = testing::Tone(800, 1.0, 16000, 2);
  std::vector<float> a(96 * 64), b(96 * 64);
  ASSERT_TRUE(f->FeaturizeWindow(mono, {0, mono.frames()}, a.data()).ok());
  ASSERT_TRUE(f->FeaturizeWindow(stereo, {0, stereo.frames()}, b.data()).ok());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5);
}

TEST(FftTest, BackendsAgreeOnOddAndEvenSizes) {
  for (int n : {100, 101, 512}) {
    RealFft fftw(n, FftBackend::kFftw), kiss(n, FftBackend::kKissFft);
    std::vector<float> x(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) x[i] = std::sin(0.3 * i) + 0.01f * i;
    std::vector<std::complex<float>> a(n / 2 + 1), b(n / 2 + 1);
    fftw.Forward(x.data(), a.data());
    kiss.Forward(x.data(), b.data());
    for (int k = 0; k <= n / 2; ++k) ASSERT_NEAR(std::abs(a[k] - b[k]), 0.0, 1e-3) << n << " bin " << k;
  }
}

TEST(SensorStatsTest, MatchesGolden) {
  std::ifstream in(TestData("sensor_window.txt"));
  std::string line;
  std::getline(in, line);
  Signal s;
  s.channel_names = absl::StrSplit(line, ',');
  s.channels = static_cast<int>(s.channel_names.size());
  s.sample_rate = 50;
  while (std::getline(in, line)) {
    for (absl::string_view v : absl::StrSplit(line, ',')) s.samples.push_back(std::stof(std::string(v)));
  }
  ASSERT_EQ(s.frames(), 100);
  FeaturizerConfig config{.name = "sensor_stats", .channels = s.channel_names};
  config.params.Set("window_s", 2.0);
  auto f = MakeFeaturizer(config);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::vector<double> golden = ReadNumbers(TestData("sensor_stats.txt"));
  ASSERT_EQ((*f)->num_features(), static_cast<int64_t>(golden.size()));  // 4 channels + mag_acc
  std::vector<float> row(golden.size());
  ASSERT_TRUE((*f)->FeaturizeWindow(s, {0, 100}, row.data()).ok());
  const std::vector<std::string> names = (*f)->feature_names();
  for (size_t i = 0; i < row.size(); ++i) {
    EXPECT_NEAR(row[i], golden[i], 1e-4 * std::max(1.0, std::abs(golden[i]))) << names[i];
  }
  EXPECT_EQ(names[4 * 14], "mag_acc.min");
}

TEST(SensorStatsTest, DominantFrequencyAndConstantChannel) {
  Signal s;
  s.channel_names = {"a", "b"};
  s.channels = 2;
  s.sample_rate = 50;
  for (int i = 0; i < 100; ++i) {
    s.samples.push_back(static_cast<float>(std::sin(2 * std::numbers::pi * 5.0 * i / 50)));
    s.samples.push_back(3.0f);
  }
  auto f = MakeFeaturizer(FeaturizerConfig{.name = "sensor_stats", .channels = s.channel_names});
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<float> row(static_cast<size_t>((*f)->num_features()));
  ASSERT_TRUE((*f)->FeaturizeWindow(s, {0, 100}, row.data()).ok());
  EXPECT_NEAR(row[7 + 4], 5.0, 1e-3);       // a.dominant_hz
  EXPECT_NEAR(row[14 + 2], 0.0, 1e-6);      // b.range
  EXPECT_NEAR(row[14 + 4], 300.0, 1e-3);    // b.sum
  EXPECT_EQ(row[14 + 7 + 4], 0.0f);         // b.dominant_hz: constant
  // Wrong input is refused with a message naming what is wrong.
  Signal three = s;
  three.channels = 1;
  absl::Status bad = (*f)->FeaturizeWindow(three, {0, 100}, row.data());
  EXPECT_THAT(bad.message(), HasSubstr("channels"));
  Signal fast = s;
  fast.sample_rate = 100;
  EXPECT_THAT((*f)->FeaturizeWindow(fast, {0, 100}, row.data()).message(), HasSubstr("sample_rate"));
}

TEST(FeaturizerRegistryTest, UnknownNameListsKnownOnes) {
  auto f = MakeFeaturizer(FeaturizerConfig{.name = "mfcc"});
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("logmel, sensor_stats"));
  auto parsed = ParseFeaturizerText("sensor_stats:window_s=3,hop_s=0.5");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->params.Double("window_s"), 3.0);
  EXPECT_THAT(ParseFeaturizerText("sensor_stats:windows=3").status().message(), HasSubstr("windows"));
  auto help = DescribeFeaturizer("sensor_stats");
  ASSERT_TRUE(help.ok());
  EXPECT_THAT(*help, HasSubstr("hop_s"));
}

}  // namespace
}  // namespace mliot
