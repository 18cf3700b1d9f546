// The cluster the integration tests drive: a real `mliot coordinator` and
// real `mliot node` processes on loopback under a scratch directory, used
// through the real client commands (tests/process.h runs them).
#ifndef MLIOT_TESTS_CLUSTER_H_
#define MLIOT_TESTS_CLUSTER_H_

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "process.h"

namespace mliot::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Two Gaussian classes in 4 dimensions with string labels.
inline void WriteCsv(const std::string& path, int rows, unsigned seed, double shift = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::ofstream out(path);
  out << "a,b,c,d,label\n";
  for (int i = 0; i < rows; ++i) {
    const int y = i % 2;
    for (int j = 0; j < 4; ++j) out << (y == 1 ? 1.2 : -1.2) * (j < 2 ? 1 : 0) + shift + noise(rng) << ",";
    out << (y == 1 ? "open" : "closed") << "\n";
  }
}

inline json ParseLast(const RunResult& r) {
  const std::string line = LastLine(r.out);
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  return j;
}

// One coordinator plus any number of nodes under a scratch directory.
class Cluster {
 public:
  explicit Cluster(const std::string& name) {
    dir_ = (fs::temp_directory_path() / ("mliot-cluster-" + name + "-" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    address_ = "127.0.0.1:" + std::to_string(FreePort());
    WriteCsv(dir_ + "/train.csv", 300, 1);
    WriteCsv(dir_ + "/test.csv", 200, 2);
    WriteCsv(dir_ + "/feedback.csv", 200, 3, 0.8);  // a shifted distribution
    WriteCsv(dir_ + "/shifted_test.csv", 200, 4, 0.8);
  }
  ~Cluster() {
    nodes_.clear();
    coordinator_ = Process();
    if (std::getenv("MLIOT_KEEP_TEST_DIRS") == nullptr) fs::remove_all(dir_);
  }

  const std::string& dir() const { return dir_; }
  const std::string& address() const { return address_; }
  void set_client_tls(std::vector<std::string> flags) { client_tls_ = std::move(flags); }

  void StartCoordinator(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"coordinator", "--listen", address_, "--data-dir", dir_ + "/coord"};
    args.insert(args.end(), extra.begin(), extra.end());
    // The credentials it writes (src/auth/): every mliot this test starts
    // after this point, nodes and commands, finds them through these.
    setenv("MLIOT_ADMIN_TOKEN_FILE", (dir_ + "/coord/admin.token").c_str(), 1);
    setenv("MLIOT_JOIN_TOKEN_FILE", (dir_ + "/coord/join.token").c_str(), 1);
    coordinator_ = Process(args, dir_ + "/coordinator.log");
  }
  Process& coordinator() { return coordinator_; }

  void StartNode(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"node",       "--coordinator", address_,           "--listen", "127.0.0.1:0",
                                     "--data-dir", dir_ + "/" + name, "--name", name, "--benchmark", "quick"};
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_[name] = Process(args, dir_ + "/" + name + ".log");
  }
  Process& node(const std::string& name) { return nodes_.at(name); }

  RunResult Mliot(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    args.insert(args.begin() + 1, {"--coordinator", address_});
    args.insert(args.end(), client_tls_.begin(), client_tls_.end());
    return RunMliot(args, timeout);
  }

  // Waits until `count` nodes are registered and alive.
  bool WaitNodes(size_t count, double timeout_s = 60) {
    const auto start = Clock::now();
    while (Since(start) < timeout_s) {
      const RunResult r = Mliot({"nodes", "--json"}, std::chrono::seconds(10));
      if (r.exit_code == 0) {
        const json j = ParseLast(r);
        size_t alive = 0;
        if (j.is_array()) {
          for (const json& n : j) alive += n.value("alive", false) ? 1 : 0;
        }
        if (alive >= count) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    return false;
  }

  // `extra`: more top-level YAML (e.g. a versions: section).
  std::string WriteSpec(const std::string& task, const std::string& device, double budget_s = 3,
                        const std::string& models = "logreg, knn", const std::string& extra = "") {
    const std::string path = dir_ + "/" + task + ".yaml";
    std::ofstream out(path);
    out << "name: " << task << "\n"
        << "data: csv:train.csv\n"
        << "label: label\n"
        << "model:\n  budget_s: " << budget_s << "\n  models: [" << models << "]\n  hpo: random\n"
        << (device.empty() ? "" : "device:\n" + device) << extra;
    return path;
  }

  RunResult Submit(const std::string& task, const std::string& device, double budget_s = 3,
                   const std::string& models = "logreg, knn") {
    return Mliot({"submit", WriteSpec(task, device, budget_s, models), "--json"});
  }

  // The task's record from `tasks --json` (null when absent or unreachable).
  json Task(const std::string& task) {
    const RunResult r = Mliot({"tasks", "--json"}, std::chrono::seconds(10));
    const json list = ParseLast(r);
    if (!list.is_array()) return nullptr;
    for (const json& t : list) {
      if (t.value("name", "") == task) return t;
    }
    return nullptr;
  }

  bool WaitServing(const std::string& task, double timeout_s = 120) {
    const RunResult r = Mliot({"wait", "--task", task, "--state", "serving", "--timeout-s", std::to_string(timeout_s)},
                              std::chrono::seconds(static_cast<int>(timeout_s) + 30));
    return r.exit_code == 0;
  }

  json Predict(const std::string& task, const std::string& data, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"predict", "--task", task, "--data", "csv:" + dir_ + "/" + data, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = Mliot(args);
    last_err_ = r.err;
    return r.exit_code == 0 ? ParseLast(r) : json(nullptr);
  }
  const std::string& last_err() const { return last_err_; }

  std::string Logs() {
    std::string all = "coordinator:\n" + coordinator_.Log();
    for (auto& [name, p] : nodes_) all += "\nnode " + name + ":\n" + p.Log();
    return all;
  }

 private:
  std::string dir_;
  std::string address_;
  std::vector<std::string> client_tls_;
  Process coordinator_;
  std::map<std::string, Process> nodes_;
  std::string last_err_;
};

}  // namespace mliot::testing

#endif  // MLIOT_TESTS_CLUSTER_H_
