// A streaming task on a real node (issue 4, item 4): a real Mosquitto broker
// started by the test, a real `mliot coordinator` and `mliot node`, a real
// `mliot device simulate` publishing Fashion-MNIST. The task's data is the
// topic: the node's training worker ingests it into the tiered cache and
// trains while samples arrive, each epoch is published as a bundle version
// the serving worker hot-swaps in; predictions are answered over gRPC and on
// the task's infer topic; feedback raises the version.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "data/source.h"
#include "features/iot_data_for_tests.h"
#include "gtest/gtest.h"
#include "mliot/v1/sample.pb.h"
#include "nlohmann/json.hpp"
#include "process.h"
#include "stream/device_simulator.h"
#include "stream/infer_topic.h"
#include "stream/mosquitto_broker.h"
#include "stream/transport.h"

namespace mliot::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class StreamNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("mliot-stream-node-" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    absl::StatusOr<std::unique_ptr<stream::MosquittoBroker>> broker = stream::MosquittoBroker::Start(dir_ + "/broker");
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = std::move(*broker);
    address_ = "127.0.0.1:" + std::to_string(FreePort());
    setenv("MLIOT_ADMIN_TOKEN_FILE", (dir_ + "/coord/admin.token").c_str(), 1);
    setenv("MLIOT_JOIN_TOKEN_FILE", (dir_ + "/coord/join.token").c_str(), 1);
    coordinator_ = Process({"coordinator", "--listen", address_, "--data-dir", dir_ + "/coord"}, dir_ + "/coord.log");
    node_ = Process({"node", "--coordinator", address_, "--listen", "127.0.0.1:0", "--data-dir", dir_ + "/edge",
                     "--name", "edge", "--benchmark", "quick"},
                    dir_ + "/edge.log");
    const auto start = Clock::now();
    bool alive = false;
    while (!alive && Since(start) < 60) {
      const json nodes = json::parse(LastLine(Mliot({"nodes", "--json"}, std::chrono::seconds(10)).out), nullptr, false);
      alive = nodes.is_array() && nodes.size() == 1 && nodes[0].value("alive", false);
      if (!alive) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ASSERT_TRUE(alive) << node_.Log();
  }
  void TearDown() override {
    node_ = Process();
    coordinator_ = Process();
    broker_.reset();
    if (std::getenv("MLIOT_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir_);
  }

  RunResult Mliot(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    args.insert(args.begin() + 1, {"--coordinator", address_});
    return RunMliot(args, timeout);
  }
  json Task(const std::string& task) {
    const RunResult r = Mliot({"tasks", "--json"}, std::chrono::seconds(10));
    const json list = json::parse(LastLine(r.out), nullptr, false);
    if (!list.is_array()) return nullptr;
    for (const json& t : list) {
      if (t.value("name", "") == task) return t;
    }
    return nullptr;
  }
  // Polls `tasks --json` until `ok(task)` or the timeout.
  template <typename Pred>
  json WaitTask(const std::string& task, Pred ok, double timeout_s) {
    const auto start = Clock::now();
    json t;
    while (Since(start) < timeout_s) {
      t = Task(task);
      if (!t.is_null() && ok(t)) return t;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return t;
  }
  std::string TaskDir(const std::string& task) const { return dir_ + "/edge/tasks/" + task; }

  std::string dir_, address_;
  std::unique_ptr<stream::MosquittoBroker> broker_;
  Process coordinator_, node_;
};

TEST_F(StreamNodeTest, TrainsWhileTheDeviceStreamsServesOverGrpcAndTopicsAndAdaptsOnFeedback) {
  const std::string task = "wardrobe";
  const std::string data_uri = broker_->Uri("mliot/wardrobe/data");
  const std::string spec = dir_ + "/wardrobe.yaml";
  std::ofstream(spec) << "name: wardrobe\n"
                      << "data: " << data_uri << "\n"
                      << "stream:\n"
                      << "  classes: [T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag,"
                         " Ankle boot]\n"
                      << "  epoch_samples: 6000\n"
                      << "  epochs: 2\n"
                      << "  policy: shade\n"
                      << "  cache_mb: 2\n";
  const RunResult submitted = Mliot({"submit", spec, "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.out << submitted.err << "\n" << node_.Log();
  EXPECT_TRUE(json::parse(LastLine(submitted.out)).value("accepted", false)) << submitted.out;

  // The training worker subscribes (a persistent session) before the device
  // sends: the broker queues nothing for a session it has not seen yet.
  const std::string status_path = TaskDir(task) + "/train.status";
  const auto start = Clock::now();
  while (Since(start) < 60 && ReadText(status_path).find("waiting for the first sample") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(ReadText(status_path).find("waiting for the first sample"), std::string::npos)
      << ReadText(status_path) << "\n" << node_.Log() << ReadText(TaskDir(task) + "/train.log");

  // The device streams 6,000 samples at 2,000/s: epoch 1 trains on them as
  // they arrive, so its version follows the last sample within seconds.
  const RunResult sent = RunMliot({"device", "simulate", "--data", "fashion-mnist:train:6000", "--broker", data_uri,
                                   "--task", task, "--rate", "2000", "--device", "closet-cam"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  const double streamed_at = Since(start);
  const json serving = WaitTask(task, [](const json& t) { return t.value("state", "") == "serving" && t.value("version", 0) >= 2; }, 60);
  ASSERT_EQ(serving.value("state", ""), "serving") << serving.dump() << "\n" << ReadText(TaskDir(task) + "/train.log");
  EXPECT_GE(serving.value("version", 0), 2) << serving.dump();  // one version per epoch
  const std::string train_log = ReadText(TaskDir(task) + "/train.log");
  EXPECT_NE(train_log.find("epoch 1 of 2: 6000 samples"), std::string::npos) << train_log;
  EXPECT_NE(train_log.find("epoch 2 of 2"), std::string::npos) << train_log;
  std::printf("streamed for %.1f s; serving version %d at %.1f s\n", streamed_at,
              serving.value("version", 0), Since(start));

  // gRPC predictions on the test set, end to end through the node's worker.
  const RunResult predicted = Mliot({"predict", "--task", task, "--data", "fashion-mnist:test:1000", "--json"});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  const json p = json::parse(LastLine(predicted.out));
  EXPECT_GE(p.value("accuracy", 0.0), 0.70) << p.dump();
  EXPECT_GE(p.value("version", 0), 2) << p.dump();
  std::printf("predict: %s\n", p.dump().c_str());

  // Prediction requests on mliot/<task>/infer, answers on pred/<device>.
  absl::StatusOr<Dataset> test = LoadDataset("fashion-mnist:test:200");
  ASSERT_TRUE(test.ok()) << test.status();
  absl::Mutex mu;
  std::map<std::string, v1::SamplePrediction> answers;
  absl::StatusOr<BrokerUri> pred_uri = BrokerUri::Parse(broker_->Uri(stream::PredTopic("mqtt", task, "door-sensor")));
  ASSERT_TRUE(pred_uri.ok());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> preds = stream::OpenSubscriber(*pred_uri, {});
  ASSERT_TRUE(preds.ok()) << preds.status();
  ASSERT_TRUE((*preds)->Start([&](const stream::Message& m) {
                          v1::SamplePrediction a;
                          if (!a.ParseFromString(m.payload)) return;
                          absl::MutexLock lock(&mu);
                          answers[a.id()] = a;
                        }).ok());
  absl::StatusOr<BrokerUri> infer_uri = BrokerUri::Parse(broker_->Uri(stream::InferTopic("mqtt", task)));
  absl::StatusOr<std::unique_ptr<stream::Publisher>> requests = stream::OpenPublisher(*infer_uri, {});
  ASSERT_TRUE(requests.ok()) << requests.status();
  stream::SimulateOptions device;
  device.task = task;
  device.device = "door-sensor";
  std::map<std::string, std::string> truth;
  for (int64_t i = 0; i < test->rows; ++i) {
    v1::Sample s = stream::RowToSample(*test, i, i, device);
    truth[s.id()] = s.label();
    s.clear_label();  // a request, not a training sample
    ASSERT_TRUE((*requests)->Publish(s.id(), s.SerializeAsString()).ok());
  }
  ASSERT_TRUE((*requests)->Flush(10).ok());
  const auto asked = Clock::now();
  while (Since(asked) < 20) {
    {
      absl::MutexLock lock(&mu);
      if (answers.size() >= truth.size()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*preds)->Stop();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(answers.size(), truth.size()) << ReadText(TaskDir(task) + "/serve.log");
  int correct = 0;
  for (const auto& [id, a] : answers) {
    EXPECT_TRUE(a.error().empty()) << a.error();
    EXPECT_EQ(a.device(), "door-sensor");
    EXPECT_GE(a.version(), 2);
    EXPECT_EQ(a.certainties_size(), 10);
    correct += a.label() == truth[id] ? 1 : 0;
  }
  EXPECT_GE(correct, 140) << "of 200 answered on the topic";  // 0.70
  std::printf("infer topic: %d of %zu correct\n", correct, answers.size());

  // Feedback: the training worker re-fits and publishes the next version,
  // which the serving worker swaps in.
  const int before = serving.value("version", 0);
  const RunResult fed = Mliot({"feedback", "--task", task, "--data", "fashion-mnist:test:300", "--json"});
  ASSERT_EQ(fed.exit_code, 0) << fed.err;
  const json adapted = WaitTask(task, [&](const json& t) { return t.value("version", 0) > before; }, 60);
  EXPECT_GT(adapted.value("version", 0), before) << adapted.dump() << ReadText(TaskDir(task) + "/train.log");
  EXPECT_NE(adapted.value("message", "").find("adapted with 300 feedback rows"), std::string::npos) << adapted.dump();

  // The task's resources: both workers, found through the coordinator.
  const std::string csv = dir_ + "/wardrobe.csv";
  const RunResult monitored = Mliot({"monitor", "--task", task, "--csv", csv, "--interval-s", "0.5", "--duration-s", "2"});
  ASSERT_EQ(monitored.exit_code, 0) << monitored.err;
  std::istringstream rows(ReadText(csv));
  std::string header, row;
  std::getline(rows, header);
  EXPECT_EQ(header.substr(header.rfind(',') + 1), "processes");
  int n = 0;
  while (std::getline(rows, row)) {
    ++n;
    EXPECT_EQ(row.substr(row.rfind(',') + 1), "2") << row << ": the training and the serving worker";
  }
  EXPECT_GE(n, 3);
  const RunResult unknown = Mliot({"monitor", "--task", "nope", "--csv", csv}, std::chrono::seconds(20));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("nope"), std::string::npos) << unknown.err;
}

TEST_F(StreamNodeTest, BadStreamSpecsAreRefusedNamingTheKey) {
  const std::string uri = broker_->Uri("mliot/x/data");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"name: x\ndata: " + uri + "\n", "stream: missing"},
      {"name: x\ndata: " + uri + "\nstream:\n  epoch_samples: 10\n", "stream.classes: missing"},
      {"name: x\ndata: " + uri + "\nstream:\n  classes: [a, b]\n  epoch_samples: 10\n  policy: fifo\n",
       "stream.policy: 'fifo'; valid: lru, shade, icache"},
      {"name: x\ndata: " + uri + "\nstream:\n  classes: [a, b]\n  epoch_samples: 10\n  epocs: 3\n",
       "unknown key 'stream.epocs'"},
      {"name: x\ndata: mqtt://127.0.0.1/x\nstream:\n  classes: [a, b]\n  epoch_samples: 10\n", "expected HOST:PORT"},
      {"name: x\ndata: kafka://127.0.0.1:9092/mliot/x\nstream:\n  classes: [a, b]\n  epoch_samples: 10\n",
       "kafka topic 'mliot/x' may use only"},
      {"name: x\ndata: csv:a.csv\nstream:\n  classes: [a, b]\n  epoch_samples: 10\n",
       "stream: applies only when data is a topic"},
  };
  for (const auto& [yaml, error] : cases) {
    const std::string path = dir_ + "/bad.yaml";
    std::ofstream(path) << yaml;
    const RunResult r = Mliot({"submit", path, "--json"}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 2) << yaml << r.err;
    EXPECT_NE(r.err.find(error), std::string::npos) << yaml << "\n" << r.err;
  }
  const RunResult tasks = Mliot({"tasks", "--json"}, std::chrono::seconds(10));
  EXPECT_EQ(LastLine(tasks.out), "[]") << "nothing stored half-way";
}

}  // namespace
}  // namespace mliot::testing

namespace mliot::testing {
namespace {

// Item 7: data-parallel workers each get their share from the broker — an
// MQTT shared subscription or a Kafka consumer group — and train one model
// with Gloo all-reduce. Real worker processes, a real Mosquitto / the Kafka
// mock cluster, through the benchmark command that shows it.
class DataParallelFromBroker : public ::testing::TestWithParam<std::string> {};

TEST_P(DataParallelFromBroker, WorkersSplitTheStreamAndStayIdentical) {
  const RunResult r = RunMliot({"bench", "data-parallel", "--workers", "2", "--data", "fashion-mnist:train:4000",
                                "--epochs", "2", "--broker", GetParam(), "--json"},
                               std::chrono::seconds(300));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(LastLine(r.out));
  EXPECT_EQ(j.value("broker", ""), GetParam());
  const std::vector<int64_t> shares = j["share_rows"].get<std::vector<int64_t>>();
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0] + shares[1], 4000) << "every sample reached exactly one worker";
  EXPECT_GT(shares[0], 1000);
  EXPECT_GT(shares[1], 1000);
  EXPECT_TRUE(j.value("replicas_identical", false));
  EXPECT_NEAR(j.value("accuracy_parallel", 0.0), j.value("accuracy_single", 1.0), 0.03) << j.dump();
  std::printf("%s: %s\n", GetParam().c_str(), j.dump().c_str());
}

INSTANTIATE_TEST_SUITE_P(Brokers, DataParallelFromBroker, ::testing::Values("mqtt", "kafka"));

// Raw audio on the data path (issue 12, item 4): a device streams clips
// with background between them as 16-bit PCM chunks; the node windows and
// featurizes the stream on ingest and trains a cnn on the 96x64 patches; a
// device streaming unlabelled audio to the infer topic gets one answer per
// window on its pred topic, none lost; raw PCM over gRPC works on the same
// streaming bundle.
TEST_F(StreamNodeTest, StreamedAudioIsWindowedTrainedOnAndAnsweredWindowByWindow) {
  const std::string task = "sounds";
  WriteAudioSet(dir_ + "/train", 6, 3);
  WriteAudioSet(dir_ + "/test", 2, 42);
  const std::string data_uri = broker_->Uri("mliot/sounds/data");
  const std::string spec = dir_ + "/sounds.yaml";
  std::ofstream(spec) << "name: sounds\n"
                      << "data: " << data_uri << "\n"
                      << "features: {name: logmel}\n"
                      << "stream:\n  classes: [background, burst, hum, whistle]\n  epoch_samples: 20\n"
                      << "  epochs: 3\n  model: cnn\n";
  const RunResult submitted = Mliot({"submit", spec, "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string status_path = TaskDir(task) + "/train.status";
  const auto start = Clock::now();
  while (Since(start) < 60 && ReadText(status_path).find("waiting for the first sample") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(ReadText(status_path).find("waiting for the first sample"), std::string::npos) << node_.Log();
  // 18 clips of 0.4-2.2 s with 0.5 s of noise before each: about 30 s of audio, sent as fast as possible.
  const RunResult sent = RunMliot({"device", "simulate", "--data", "audio:" + dir_ + "/train", "--broker", data_uri,
                                   "--task", task, "--rate", "max", "--gap-s", "0.5", "--device", "mic-1", "--json"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  const json streamed = json::parse(LastLine(sent.out));
  EXPECT_GT(streamed["stream_s"].get<double>(), 20.0);
  const json serving =
      WaitTask(task, [](const json& t) { return t.value("state", "") == "serving" && t.value("version", 0) >= 1; }, 120);
  ASSERT_EQ(serving.value("state", ""), "serving") << serving.dump() << ReadText(TaskDir(task) + "/train.log");

  // Unlabelled? No: the test clips keep their labels, so accuracy is measured too.
  const RunResult live = RunMliot({"device", "simulate", "--data", "audio:" + dir_ + "/test", "--broker",
                                   broker_->Uri(stream::InferTopic("mqtt", task)), "--task", task, "--rate", "4x",
                                   "--gap-s", "0.5", "--device", "mic-2", "--json"},
                                  std::chrono::seconds(120));
  ASSERT_EQ(live.exit_code, 0) << live.err << node_.Log();
  const json p = json::parse(LastLine(live.out))["predictions"];
  std::printf("infer topic: %s\n", p.dump().c_str());
  EXPECT_GE(p["windows"].get<int>(), 5);
  EXPECT_EQ(p["lost"], 0);
  EXPECT_EQ(p["errors"], 0);
  EXPECT_EQ(p["answered"], p["windows"]);
  // The streaming bundle featurizes raw PCM sent over gRPC as well.
  const RunResult grpc = Mliot({"predict", "--task", task, "--data", "audio:" + dir_ + "/test", "--json"});
  ASSERT_EQ(grpc.exit_code, 0) << grpc.err;
  EXPECT_GT(json::parse(LastLine(grpc.out))["n"].get<int>(), 0);
}

}  // namespace
}  // namespace mliot::testing
