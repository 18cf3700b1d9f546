// audio:DIR and sensor:DIR on recordings the test makes: rows, groups,
// labels, and one-line errors that name the bad file.
#include "features/raw_source.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "data/audio_file.h"
#include "features/iot_data_for_tests.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class RawSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mliot_raw_source_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Clip(const std::string& cls, const std::string& name, const Signal& s) {
    fs::create_directories(dir_ / "audio" / cls);
    const std::string path = (dir_ / "audio" / cls / name).string();
    EXPECT_TRUE(WriteWavFile(path, s).ok());
    return path;
  }

  fs::path dir_;
};

const std::vector<std::string> kActivities = {"SEATED", "WALKING"};

std::string SeatedThenWalking(double t) { return t < 6 ? "SEATED" : "WALKING"; }

TEST_F(RawSourceTest, AudioFolderGivesPatchesGroupedByClip) {
  Clip("knock", "a.wav", testing::Tone(500, 0.4, 44100, 2));  // short, stereo, 44.1 kHz: 1 row
  Clip("knock", "b.wav", testing::Tone(500, 2.5, 16000));     // 3 rows
  Clip("speech", "c.wav", testing::Tone(3000, 1.0, 22050));   // 1 row
  auto raw = LoadRawDataset("audio:" + (dir_ / "audio").string(), {});
  ASSERT_TRUE(raw.ok()) << raw.status();
  const Dataset& d = raw->data;
  EXPECT_EQ(d.rows, 5);
  EXPECT_EQ(d.cols, 96 * 64);
  ASSERT_TRUE(d.shape.has_value());
  EXPECT_EQ(d.shape->height, 96);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"knock", "speech"}));
  EXPECT_EQ(d.groups, (std::vector<int32_t>{0, 1, 1, 1, 2}));
  EXPECT_EQ(d.labels, (std::vector<int32_t>{0, 0, 0, 0, 1}));
  EXPECT_EQ(raw->featurizer.name, "logmel");
  ASSERT_EQ(raw->windows.size(), 5u);
  EXPECT_EQ(raw->recordings[0].sample_rate, 44100);
}

TEST_F(RawSourceTest, SplitsNeverPutARecordingOnBothSides) {
  for (int i = 0; i < 6; ++i) {
    Clip("a", "a" + std::to_string(i) + ".wav", testing::Tone(400 + i, 3.0));
    Clip("b", "b" + std::to_string(i) + ".wav", testing::Tone(2000 + i, 3.0));
  }
  auto raw = LoadRawDataset("audio:" + (dir_ / "audio").string(), {});
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_EQ(raw->data.rows, 36);
  for (uint64_t seed : {1, 2, 3}) {
    auto [train, val] = StratifiedSplit(raw->data, 0.3, seed);
    std::set<int32_t> train_groups, val_groups;
    for (int64_t r : train) train_groups.insert(raw->data.groups[r]);
    for (int64_t r : val) val_groups.insert(raw->data.groups[r]);
    for (int32_t g : val_groups) EXPECT_EQ(train_groups.count(g), 0u) << "recording " << g << " on both sides";
    EXPECT_FALSE(val.empty());
    const std::vector<int> folds = StratifiedFolds(raw->data, 3, seed);
    for (int64_t r = 0; r < raw->data.rows; ++r) {
      for (int64_t q = 0; q < raw->data.rows; ++q) {
        if (raw->data.groups[r] == raw->data.groups[q]) {
          ASSERT_EQ(folds[r], folds[q]);
        }
      }
    }
  }
}

TEST_F(RawSourceTest, UnreadableAudioNamesTheFile) {
  Clip("a", "ok.wav", testing::Tone(400, 1.0));
  fs::create_directories(dir_ / "audio" / "b");
  std::ofstream(dir_ / "audio" / "b" / "broken.wav") << "not audio at all";
  auto raw = LoadRawDataset("audio:" + (dir_ / "audio").string(), {});
  ASSERT_FALSE(raw.ok());
  EXPECT_THAT(raw.status().message(), HasSubstr("broken.wav: unreadable audio"));
}

TEST_F(RawSourceTest, SensorDevicesAreAlignedAndWindowsTakeTheMajorityLabel) {
  fs::create_directories(dir_ / "s" / "s01");
  for (int e = 1; e <= 2; ++e) {
    const std::string stem = (dir_ / "s" / "s01" / ("s01_0" + std::to_string(e))).string();
    // The phone at 100 Hz, the watch at 60 Hz on a clock 37 ms later.
    testing::WriteSensorCsv(stem + "_sp.csv", 1.6e12, 100, 12, SeatedThenWalking, kActivities, e);
    testing::WriteSensorCsv(stem + "_sw.csv", 1.6e12 + 37, 60, 12, SeatedThenWalking, kActivities, 10 + e);
  }
  FeaturizerConfig f{.name = "sensor_stats", .devices = {"sp", "sw"}};
  auto raw = LoadRawDataset("sensor:" + (dir_ / "s").string(), f);
  ASSERT_TRUE(raw.ok()) << raw.status();
  const Dataset& d = raw->data;
  // 12 s minus the 37 ms offset, windows of 2 s every 1 s: 10 per recording.
  EXPECT_EQ(d.rows, 20);
  EXPECT_EQ(raw->featurizer.channels.size(), 12u);
  EXPECT_EQ(raw->featurizer.channels[6], "sw.x_acc");
  EXPECT_EQ(d.cols, (12 + 4) * 14);  // two magnitudes per device
  EXPECT_EQ(d.class_names, kActivities);
  EXPECT_EQ(d.labels[0], 0);   // [0, 2) s: seated
  EXPECT_EQ(d.labels[4], 0);   // [4, 6) s: seated
  EXPECT_EQ(d.labels[5], 1);   // [5, 7) s: half and half, ties go to the first in the window
  EXPECT_EQ(d.labels[9], 1);
  EXPECT_EQ(d.groups[9], 0);
  EXPECT_EQ(d.groups[10], 1);
  // The phone alone.
  auto phone = LoadRawDataset("sensor:" + (dir_ / "s").string(), FeaturizerConfig{.devices = {"sp"}});
  ASSERT_TRUE(phone.ok()) << phone.status();
  EXPECT_EQ(phone->featurizer.channels[0], "x_acc");
  EXPECT_EQ(phone->data.cols, (6 + 2) * 14);
}

TEST_F(RawSourceTest, BadSensorFilesAreNamed) {
  fs::create_directories(dir_ / "s");
  const std::string stem = (dir_ / "s" / "r1").string();
  testing::WriteSensorCsv(stem + "_sp.csv", 0, 50, 5, SeatedThenWalking, kActivities);
  FeaturizerConfig both{.devices = {"sp", "sw"}};
  auto missing = LoadRawDataset("sensor:" + (dir_ / "s").string(), both);
  EXPECT_THAT(missing.status().message(), HasSubstr("r1_sw.csv: missing"));

  testing::WriteSensorCsv(stem + "_sw.csv", 0, 50, 1.5, SeatedThenWalking, kActivities);
  auto short_one = LoadRawDataset("sensor:" + (dir_ / "s").string(), both);
  EXPECT_THAT(short_one.status().message(), HasSubstr("shorter than one window"));

  testing::WriteSensorCsv(stem + "_sw.csv", 0, 50, 5, SeatedThenWalking, kActivities, 3, /*with_label=*/false);
  auto unlabelled = LoadRawDataset("sensor:" + (dir_ / "s").string(), both);
  EXPECT_THAT(unlabelled.status().message(), HasSubstr("r1_sw.csv:1: no label column 'label'"));

  std::ofstream(stem + "_sw.csv") << "x_acc,timestamp,label\n1,100,A\n2,200,A\n3,150,B\n";
  auto backwards = LoadRawDataset("sensor:" + (dir_ / "s").string(), both);
  EXPECT_THAT(backwards.status().message(), HasSubstr("r1_sw.csv: timestamps do not increase at reading 3"));

  std::ofstream(stem + "_sw.csv") << "x_acc,time,label\n1,100,A\n";
  auto no_time = LoadRawDataset("sensor:" + (dir_ / "s").string(), both);
  EXPECT_THAT(no_time.status().message(), HasSubstr("no time column 'timestamp'"));
}

}  // namespace
}  // namespace mliot
