#include "bench/paper/testbed_run.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/kit.h"
#include "bench/paper/experiment.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/status_util.h"

namespace mliot::bench::paper {
using nlohmann::json;

absl::StatusOr<std::unique_ptr<TestbedRun>> TestbedRun::Start(const std::string& file,
                                                               const std::string& dir,
                                                               int devices) {
  std::unique_ptr<TestbedRun> run(new TestbedRun());
  run->dir_ = dir;
  run->address_ = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
  std::filesystem::create_directories(dir);
  MLIOT_ASSIGN_OR_RETURN(
      run->up_, Spawn(SpawnOptions{.args = {SelfExe(), "up", "--testbed", file, "--listen",
                                            run->address_, "--data-dir", dir + "/state"},
                                   .stdin_path = "/dev/null",
                                   .stdout_path = dir + "/up.log",
                                   .stderr_path = dir + "/up.err"}));
  Say(absl::StrCat("testbed ", file, ": starting (log ", dir, "/up.err)"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(run->up_, nullptr, WNOHANG) == run->up_) {
      run->up_ = -1;
      return absl::InternalError(absl::StrCat("mliot up --testbed ", file, " exited; see ", dir,
                                              "/up.err"));
    }
    absl::StatusOr<json> nodes = run->Nodes();
    int alive = 0;
    if (nodes.ok() && nodes->is_array()) {
      for (const json& n : *nodes) alive += n.value("alive", false) ? 1 : 0;
    }
    if (alive >= devices) {
      run->WaitIdle();
      return run;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("testbed ", file, ": ", devices, " nodes not alive after 180 s; see ", dir,
                   "/up.err"));
}

void TestbedRun::WaitIdle() {
  // Each device starts with its benchmark (which loads libtorch and fits a
  // cnn under the device's quota); its CPU, an EWMA over heartbeats, stays
  // high for a while after. The experiments start on an idle testbed.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(kIdleTimeoutS)) {
    absl::StatusOr<json> nodes = Nodes();
    bool idle = nodes.ok() && nodes->is_array() && !nodes->empty();
    for (const json& n : nodes.ok() && nodes->is_array() ? *nodes : json::array()) {
      idle = idle && n.value("cpu", 100.0) < kIdleCpuPercent;
    }
    if (idle) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  Say(absl::StrCat("testbed: devices still busy after ", kIdleTimeoutS, " s; starting anyway"));
}

TestbedRun::~TestbedRun() { StopProcess(up_, SIGINT, std::chrono::seconds(20)); }

absl::StatusOr<json> TestbedRun::Cli(std::vector<std::string> args,
                                     std::chrono::seconds timeout) {
  const std::string what = absl::StrCat("mliot ", args.front());
  args.insert(args.begin(), SelfExe());
  args.insert(args.end(), {"--coordinator", address_, "--admin-token-file", dir_ + "/state/admin.token", "--json"});
  return RunForJson(args, timeout, what, {0, 3});
}

absl::Status TestbedRun::WaitTrained(const std::string& task, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // The training worker stays for feedback; its status says when the
    // search ended ("trained: version N", train/train_worker.cc).
    absl::StatusOr<json> tasks = Cli({"tasks"});
    if (tasks.ok() && tasks->is_array()) {
      for (const json& t : *tasks) {
        if (t.value("name", "") == task && absl::StartsWith(t.value("message", ""), "trained")) {
          return absl::OkStatus();
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(task, ": still training after ", timeout.count(), " s"));
}

absl::StatusOr<json> TestbedRun::Submit(const std::string& task, const std::string& data,
                                        double budget_s, const std::string& require,
                                        const std::string& prefer) {
  const std::string spec = absl::StrCat(dir_, "/", task, ".yaml");
  std::ofstream out(spec);
  out << "name: " << task << "\ndata: csv:" << data << "\nlabel: label\n"
      << "model:\n  budget_s: " << budget_s << "\n";
  if (!require.empty() || !prefer.empty()) out << "device:\n";
  if (!require.empty()) out << "  require: \"" << require << "\"\n";
  if (!prefer.empty()) out << "  prefer: \"" << prefer << "\"\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat(spec, ": cannot write"));
  return Cli({"submit", spec});
}

absl::Status WriteCsvRows(const Dataset& d, const std::string& path) {
  std::ofstream out(path);
  for (int64_t j = 0; j < d.cols; ++j) out << "f" << j << ",";
  out << "label\n";
  for (int64_t i = 0; i < d.rows; ++i) {
    const float* r = d.row(i);
    for (int64_t j = 0; j < d.cols; ++j) out << absl::StrFormat("%.6g", r[j]) << ",";
    out << d.class_names[static_cast<size_t>(d.labels[static_cast<size_t>(i)])] << "\n";
  }
  out.close();
  return out ? absl::OkStatus() : absl::UnavailableError(absl::StrCat(path, ": cannot write"));
}

absl::StatusOr<TraceFiles> WriteTraceFiles(Context& c, const std::string& dir) {
  std::filesystem::create_directories(dir);
  Dataset train, test;
  if (c.options.quick) {
    train = SyntheticRows(300, 1);
    test = SyntheticRows(120, 2);
  } else {
    MLIOT_ASSIGN_OR_RETURN(const FeaturizedSplit* d, c.Data("sensor"));
    train = Sample(d->train, 1000, 5);
    test = d->test;
  }
  TraceFiles files{.train = dir + "/train.csv"};
  MLIOT_RETURN_IF_ERROR(WriteCsvRows(train, files.train));
  for (int k = 0; k < 6; ++k) {
    std::vector<int64_t> rows;
    for (int64_t i = test.rows * k / 6; i < test.rows * (k + 1) / 6; ++i) rows.push_back(i);
    files.parts.push_back(absl::StrCat(dir, "/T", k + 1, ".csv"));
    MLIOT_RETURN_IF_ERROR(WriteCsvRows(test.Subset(rows), files.parts.back()));
  }
  return files;
}

Dataset SyntheticRows(int64_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  Dataset d;
  d.cols = 4;
  d.class_names = {"closed", "open"};
  for (int64_t i = 0; i < rows; ++i) {
    const int32_t y = static_cast<int32_t>(i % 2);
    for (int j = 0; j < 4; ++j) d.features.push_back((y ? 1.5f : -1.5f) * (j < 2) + noise(rng));
    d.labels.push_back(y);
    ++d.rows;
  }
  return d;
}

}  // namespace mliot::bench::paper
