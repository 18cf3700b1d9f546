// Audio files (libsndfile) and timed CSV files.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "data/audio_file.h"
#include "data/csv.h"
#include "data/sensor_recording.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::HasSubstr;

TEST(AudioFileTest, WavRoundTripAndErrors) {
  const std::string dir = std::filesystem::temp_directory_path() / ("mliot_audio_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Signal s;
  s.channels = 2;
  s.sample_rate = 22050;
  for (int i = 0; i < 1000; ++i) s.samples.insert(s.samples.end(), {0.25f, -0.5f});
  ASSERT_TRUE(WriteWavFile(dir + "/a.wav", s).ok());
  auto back = ReadAudioFile(dir + "/a.wav");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->channels, 2);
  EXPECT_EQ(back->sample_rate, 22050);
  EXPECT_EQ(back->frames(), 1000);
  EXPECT_NEAR(back->samples[1], -0.5f, 1e-4);
  EXPECT_EQ(ReadAudioFile(dir + "/none.wav").status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir + "/text.wav") << "hello";
  EXPECT_THAT(ReadAudioFile(dir + "/text.wav").status().message(), HasSubstr("text.wav: unreadable audio"));
  std::filesystem::remove_all(dir);
}

TEST(TimedCsvTest, TimestampsKeepMillisecondPrecision) {
  const std::string path = std::filesystem::temp_directory_path() / ("mliot_timed_" + std::to_string(::getpid()) + ".csv");
  std::ofstream(path) << "x,timestamp,label\n1.5,1657533977813,A\n2.5,1657533977864,B\n";
  auto t = LoadTimedCsv(path, CsvOptions{.require_two_classes = false}, "timestamp");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->data.cols, 1);
  EXPECT_EQ(t->times[1] - t->times[0], 51.0);
  std::ofstream(path) << "x,timestamp,label\n1.5,soon,A\n";
  EXPECT_THAT(LoadTimedCsv(path, CsvOptions{}, "timestamp").status().message(),
              HasSubstr(":2: column 'timestamp': timestamp 'soon' is not a number"));
  std::filesystem::remove(path);
}

TEST(SensorRecordingTest, RepeatedTimestampsKeepTheFirstReading) {
  const std::string path = std::filesystem::temp_directory_path() / ("mliot_dup_" + std::to_string(::getpid()) + ".csv");
  std::ofstream(path) << "x,timestamp,label\n1,100,A\n2,100,B\n3,120,B\n4,140,A\n";
  auto r = ReadSensorCsv(path, "timestamp", "label", true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->t_ms, (std::vector<double>{100, 120, 140}));
  EXPECT_EQ(r->values, (std::vector<float>{1, 3, 4}));
  EXPECT_EQ(r->labels, (std::vector<std::string>{"A", "B", "A"}));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mliot
