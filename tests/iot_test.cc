// Raw IoT data end to end with the real binary: audio clips and two-device
// sensor recordings the test makes, through train, eval, a cluster (`mliot
// up`: submit a folder of clips, wait, predict raw PCM over gRPC), and the
// check that raw predictions through the serving worker are exactly the
// local featurize-then-predict answers of the same bundle.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "data/audio_file.h"
#include "features/iot_data_for_tests.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "process.h"

namespace mliot::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

json Last(const RunResult& r) { return json::parse(LastLine(r.out), nullptr, false); }

class IotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("mliot-iot-test-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (std::getenv("MLIOT_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(IotTest, AudioTrainEvalAndRawPredictOverGrpcAgree) {
  WriteAudioSet(dir_ + "/train", 8, 1);
  WriteAudioSet(dir_ + "/test", 4, 99);
  const RunResult train = RunMliot({"train", "--data", "audio:" + dir_ + "/train", "--features", "logmel", "--out",
                                    dir_ + "/bundle", "--budget-s", "12", "--models", "logreg,ridge,knn", "--json"},
                                   std::chrono::seconds(120));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_GE(Last(train)["bundle_version"].get<int>(), 1);
  const RunResult eval = RunMliot({"eval", "--bundle", dir_ + "/bundle", "--data", "audio:" + dir_ + "/test", "--json"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const json e = Last(eval);
  EXPECT_GE(e["accuracy"].get<double>(), 0.9) << eval.out;
  EXPECT_GE(e["n"].get<int>(), 12);
  EXPECT_GT(e["latency_ms"]["p50"].get<double>(), 0.0);  // featurization included
  EXPECT_GT(e["throughput_rows_per_s"].get<double>(), 0.0);

  // The same task on a cluster: the folder is shipped with the spec. It is a
  // folder of links to the clips, as a user's split often is.
  for (const auto& cls : fs::directory_iterator(dir_ + "/train")) {
    fs::create_directories(dir_ + "/linked/" + cls.path().filename().string());
    for (const auto& clip : fs::directory_iterator(cls.path())) {
      fs::create_symlink(clip.path(), dir_ + "/linked/" + cls.path().filename().string() + "/" +
                                          clip.path().filename().string());
    }
  }
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  Process up({"up", "--listen", address, "--data-dir", dir_ + "/state"}, dir_ + "/up.log");
  setenv("MLIOT_ADMIN_TOKEN_FILE", (dir_ + "/state/admin.token").c_str(), 1);
  {
    std::ofstream spec(dir_ + "/sounds.yaml");
    spec << "name: sounds\ndata: audio:linked\nfeatures: {name: logmel}\n"
         << "model:\n  budget_s: 12\n  models: [logreg, ridge, knn]\n";
  }
  RunResult submit;
  for (int attempt = 0; attempt < 50; ++attempt) {  // until the coordinator answers
    submit = RunMliot({"submit", "--coordinator", address, dir_ + "/sounds.yaml", "--json"});
    if (submit.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ASSERT_EQ(submit.exit_code, 0) << submit.err << up.Log();
  const RunResult wait = RunMliot({"wait", "--coordinator", address, "--task", "sounds", "--state", "serving",
                                   "--timeout-s", "120"},
                                  std::chrono::seconds(150));
  ASSERT_EQ(wait.exit_code, 0) << wait.err << up.Log();
  const RunResult predict = RunMliot(
      {"predict", "--coordinator", address, "--task", "sounds", "--data", "audio:" + dir_ + "/test", "--json"});
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  const json p = Last(predict);
  EXPECT_EQ(p["n"], e["n"]);
  EXPECT_EQ(p["failed"], 0);
  // The node's bundle evaluated locally (featurize, then predict) gives the
  // same accuracy as the raw windows sent through the serving worker.
  std::string node_bundle;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ + "/state")) {
    if (entry.is_directory() && entry.path().filename() == "bundle" &&
        entry.path().string().find("sounds") != std::string::npos && fs::exists(entry.path() / "1")) {
      node_bundle = entry.path().string();
    }
  }
  ASSERT_FALSE(node_bundle.empty());
  const RunResult local = RunMliot({"eval", "--bundle", node_bundle, "--version", std::to_string(p["version"].get<int>()),
                                    "--data", "audio:" + dir_ + "/test", "--json"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_DOUBLE_EQ(p["accuracy"].get<double>(), Last(local)["accuracy"].get<double>());
  EXPECT_GE(p["accuracy"].get<double>(), 0.9);
  // Feature rows sent to a task that featurizes raw input are a clear error.
  std::ofstream(dir_ + "/rows.csv") << "a,b,label\n1,2,hum\n";
  const RunResult wrong = RunMliot({"predict", "--coordinator", address, "--task", "sounds", "--data",
                                    "csv:" + dir_ + "/rows.csv"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find("featurizes raw input (logmel)"), std::string::npos) << wrong.err;
}

const std::vector<std::string> kActivities = {"SEATED", "WALKING", "TURNING"};

void WriteRecordings(const std::string& dir, int count, uint64_t seed) {
  fs::create_directories(dir);
  for (int r = 0; r < count; ++r) {
    const auto activity = [&](double t) { return kActivities[static_cast<int>(t / 8 + r) % 3]; };
    const std::string stem = dir + "/r" + std::to_string(r);
    WriteSensorCsv(stem + "_sp.csv", 1.6e12, 100, 40, activity, kActivities, seed + r);
    WriteSensorCsv(stem + "_sw.csv", 1.6e12 + 23, 50, 40, activity, kActivities, seed + 50 + r);
  }
}

TEST_F(IotTest, TwoDeviceSensorRecordingsTrainAndEvaluate) {
  WriteRecordings(dir_ + "/train", 4, 1);
  WriteRecordings(dir_ + "/test", 2, 77);
  const RunResult train =
      RunMliot({"train", "--data", "sensor:" + dir_ + "/train", "--features", "sensor_stats", "--window-s", "2",
                "--hop-s", "1", "--devices", "sp,sw", "--out", dir_ + "/bundle", "--budget-s", "10", "--models",
                "logreg,random_forest", "--json"},
               std::chrono::seconds(120));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const RunResult eval = RunMliot({"eval", "--bundle", dir_ + "/bundle", "--data", "sensor:" + dir_ + "/test", "--json"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  const json e = Last(eval);
  EXPECT_EQ(e["n"], 2 * 38);  // 40 s less the watch's 23 ms offset: windows at 0..37 s
  EXPECT_GE(e["accuracy"].get<double>(), 0.8) << eval.out;
  // The bundle remembers its devices: data with only the phone is refused by name.
  fs::create_directories(dir_ + "/phone");
  fs::copy(dir_ + "/test/r0_sp.csv", dir_ + "/phone/r0_sp.csv");
  const RunResult phone = RunMliot({"eval", "--bundle", dir_ + "/bundle", "--data", "sensor:" + dir_ + "/phone"});
  EXPECT_EQ(phone.exit_code, 2);
  EXPECT_NE(phone.err.find("r0_sw.csv: missing"), std::string::npos) << phone.err;
}

TEST_F(IotTest, CnnTrainsOnLogMelPatches) {
  WriteAudioSet(dir_ + "/train", 6, 5);
  const RunResult train = RunMliot({"train", "--data", "audio:" + dir_ + "/train", "--out", dir_ + "/bundle",
                                    "--budget-s", "25", "--models", "cnn", "--params", "cnn:epochs=4", "--json"},
                                   std::chrono::seconds(150));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  const json t = Last(train);
  ASSERT_EQ(t["members"].size(), 1u);
  EXPECT_EQ(t["members"][0]["kind"], "cnn");
  EXPECT_GT(t["val_accuracy"].get<double>(), 0.5);  // three classes: chance is 0.33
}

// `bench list` names every `bench` subcommand (and nothing else), so that a
// benchmark added without its description is caught.
TEST(BenchListTest, NamesEveryBenchmarkSubcommand) {
  const RunResult list = RunMliot({"bench", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::set<std::string> listed;
  const json benchmarks = Last(list)["benchmarks"];
  for (const json& b : benchmarks) {
    listed.insert(b["name"].get<std::string>());
    EXPECT_FALSE(b["measures"].get<std::string>().empty());
    EXPECT_FALSE(b["targets"].empty()) << b.dump();
  }
  const RunResult help = RunMliot({"bench", "--help"});
  std::set<std::string> commands;
  std::istringstream in(help.out + help.err);
  bool in_subcommands = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_subcommands = true;
      continue;
    }
    if (!in_subcommands || line.size() < 3 || line[0] != ' ') continue;
    std::istringstream words(line);
    std::string name;
    words >> name;
    if (name != "list") commands.insert(name);
  }
  EXPECT_GE(commands.size(), 8u) << help.out;
  EXPECT_EQ(listed, commands);
}

}  // namespace
}  // namespace mliot::testing
