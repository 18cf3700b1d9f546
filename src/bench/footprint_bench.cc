#include "bench/footprint_bench.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/kit.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "data/idx.h"

namespace mliot::bench {
namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Sample {
  double rss_mib = 0;
  double start_ms = 0;
  int libraries = 0;
};

double MsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

// A field of /proc/PID/status in MiB ("VmRSS", "VmHWM"); 0 when gone.
double StatusMib(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::strtod(line.c_str() + field.size() + 1, nullptr) / 1024.0;
  }
  return 0;
}

// Distinct shared objects in /proc/PID/maps.
int MappedLibraries(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/maps"));
  std::set<std::string> libs;
  std::string line;
  while (std::getline(in, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find(".so") != std::string::npos) libs.insert(path);
  }
  return static_cast<int>(libs.size());
}

bool Running(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

void Stop(pid_t pid) { StopProcess(pid, SIGTERM, std::chrono::seconds(5)); }

// Waits for `ready` (polled every 2 ms) while `pid` runs.
absl::Status WaitReady(pid_t pid, const std::string& what, const std::function<bool()>& ready,
                       double timeout_s = 120) {
  const auto start = SteadyClock::now();
  while (!ready()) {
    if (!Running(pid)) return absl::InternalError(absl::StrCat(what, " exited before it was ready"));
    if (MsSince(start) > timeout_s * 1000) {
      Stop(pid);
      return absl::DeadlineExceededError(absl::StrCat(what, " not ready after ", timeout_s, " s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::OkStatus();
}

bool FileContains(const std::string& path, const std::string& text) {
  absl::StatusOr<std::string> content = ReadFile(path);
  return content.ok() && content->find(text) != std::string::npos;
}

// A command that exits: wall time, peak RSS (wait4) and what the dynamic
// loader maps for it.
absl::StatusOr<Sample> RunToExit(const std::vector<std::string>& args, const std::string& log) {
  const auto start = SteadyClock::now();
  MLIOT_ASSIGN_OR_RETURN(pid_t pid,
                         Spawn({.args = args, .stdin_path = "/dev/null", .stdout_path = log, .stderr_path = log + ".err"}));
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  Sample s;
  s.start_ms = MsSince(start);
  s.rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "), " failed; see ", log, ".err"));
  }
  // The same command under LD_TRACE_LOADED_OBJECTS lists what it loads.
  setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
  absl::StatusOr<pid_t> trace = Spawn({.args = args, .stdin_path = "/dev/null", .stdout_path = log + ".libs"});
  unsetenv("LD_TRACE_LOADED_OBJECTS");
  MLIOT_RETURN_IF_ERROR(trace.status());
  waitpid(*trace, nullptr, 0);
  std::ifstream in(log + ".libs");
  std::string line;
  while (std::getline(in, line)) s.libraries += line.find(".so") != std::string::npos ? 1 : 0;
  return s;
}

// A server: start to `ready`, then resident memory and mapped libraries
// after `settle_ms` of idling; stopped afterwards.
absl::StatusOr<Sample> RunServer(const std::vector<std::string>& args, const std::string& log,
                                 const std::function<bool()>& ready, int settle_ms = 500) {
  const auto start = SteadyClock::now();
  MLIOT_ASSIGN_OR_RETURN(pid_t pid,
                         Spawn({.args = args, .stdin_path = "/dev/null", .stdout_path = log, .stderr_path = log}));
  MLIOT_RETURN_IF_ERROR(Annotate(WaitReady(pid, args[1], ready), log));
  Sample s;
  s.start_ms = MsSince(start);
  std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
  s.rss_mib = StatusMib(pid, "VmRSS");
  s.libraries = MappedLibraries(pid);
  Stop(pid);
  return s;
}

// A task directory as a node prepares it: spec.yaml, tokens, data/.
absl::Status WriteTask(const std::string& dir, const std::string& name, const std::string& models,
                       const std::vector<float>& x, const std::vector<int64_t>& dims, const std::vector<int32_t>& y,
                       double budget_s) {
  fs::remove_all(dir);
  fs::create_directories(dir + "/data");
  fs::create_directories(dir + "/feedback");
  MLIOT_RETURN_IF_ERROR(WriteIdxFloat(dir + "/data/train.x.idx", dims, x.data()));
  MLIOT_RETURN_IF_ERROR(WriteIdxInt32(dir + "/data/train.y.idx", y));
  MLIOT_RETURN_IF_ERROR(WriteFileAtomically(dir + "/tokens", std::string(64, '0') + " 0\n"));
  return WriteFileAtomically(dir + "/spec.yaml",
                             absl::StrCat("name: ", name, "\ndata: idx:train.x.idx,train.y.idx\nmodel:\n  budget_s: ",
                                          budget_s, "\n  models: [", models, "]\n"));
}

// Class-dependent synthetic rows (classes differ in which block of the
// input is brighter), like digits (8x8) or Fashion-MNIST (28x28) in shape.
void Synthetic(int64_t rows, int64_t cols, int classes, uint64_t seed, std::vector<float>* x, std::vector<int32_t>* y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  x->resize(static_cast<size_t>(rows * cols));
  y->resize(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(i % classes);
    (*y)[i] = c;
    for (int64_t j = 0; j < cols; ++j) {
      (*x)[i * cols + j] = std::clamp(0.3f + noise(rng) + ((j * classes / cols) == c ? 0.5f : 0.0f), 0.0f, 1.0f);
    }
  }
}

// A training worker on `dir` until it is idle (training done): its start
// (first status line), resident and peak memory, libraries once idle.
absl::StatusOr<Sample> RunTrainWorker(const std::string& exe, const std::string& dir, double* peak_mib) {
  const auto start = SteadyClock::now();
  MLIOT_ASSIGN_OR_RETURN(pid_t pid, Spawn({.args = {exe, "worker", "train", "--task-dir", dir, "--threads", "1"},
                                           .stdin_path = "/dev/null",
                                           .stdout_path = dir + "/train.log",
                                           .stderr_path = dir + "/train.log"}));
  const std::string status = dir + "/train.status";
  MLIOT_RETURN_IF_ERROR(WaitReady(pid, "train worker", [&] { return fs::exists(status); }));
  Sample s;
  s.start_ms = MsSince(start);
  MLIOT_RETURN_IF_ERROR(Annotate(
      WaitReady(pid, "train worker", [&] { return FileContains(status, "trained"); }, 600), dir + "/train.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  s.rss_mib = StatusMib(pid, "VmRSS");
  *peak_mib = StatusMib(pid, "VmHWM");
  s.libraries = MappedLibraries(pid);
  Stop(pid);
  return s;
}

json Summary(const std::string& role, const std::vector<Sample>& samples, const std::string& what) {
  std::vector<double> rss, start, libs;
  for (const Sample& s : samples) {
    rss.push_back(s.rss_mib);
    start.push_back(s.start_ms);
    libs.push_back(s.libraries);
  }
  auto range = [](const std::vector<double>& v) {
    return json::array({*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())});
  };
  return {{"role", role},
          {"what", what},
          {"rss_mib", Percentile(rss, 0.5)},
          {"start_ms", Percentile(start, 0.5)},
          {"libraries", static_cast<int>(Percentile(libs, 0.5))},
          {"range", {{"rss_mib", range(rss)}, {"start_ms", range(start)}, {"libraries", range(libs)}}},
          {"repeats", samples.size()}};
}

}  // namespace

void MakeQuick(FootprintBenchOptions& o) {
  o.repeat = 2;
  o.train_budget_s = 3;
  o.image_rows = 600;
}

absl::StatusOr<json> RunFootprintBench(const FootprintBenchOptions& o) {
  if (o.repeat < 1) return absl::InvalidArgumentError("--repeat must be at least 1");
  const std::string dir = o.work_dir.empty() ? TempDir("footprint") : o.work_dir;
  fs::create_directories(dir);
  const std::string exe = o.binary.empty() ? SelfExe() : o.binary;
  json roles = json::array();
  auto repeat = [&](const std::string& role, const std::string& what,
                    const std::function<absl::StatusOr<Sample>(int)>& once) -> absl::Status {
    std::vector<Sample> samples;
    for (int i = 0; i < o.repeat; ++i) {
      MLIOT_ASSIGN_OR_RETURN(Sample s, once(i));
      samples.push_back(s);
    }
    roles.push_back(Summary(role, samples, what));
    Progress("footprint", absl::StrFormat("%-22s %7.1f MiB %8.1f ms %4d libraries", role,
                                          roles.back()["rss_mib"].get<double>(),
                                          roles.back()["start_ms"].get<double>(), roles.back()["libraries"].get<int>()));
    return absl::OkStatus();
  };

  MLIOT_RETURN_IF_ERROR(repeat("cli --help", "mliot --help, to exit (peak RSS)",
                               [&](int i) { return RunToExit({exe, "--help"}, absl::StrCat(dir, "/help-", i)); }));

  // One coordinator for the CLI and node roles.
  const int coord_port = FreeLoopbackPort();
  const std::string coord_addr = absl::StrCat("127.0.0.1:", coord_port);
  MLIOT_ASSIGN_OR_RETURN(pid_t coordinator,
                         Spawn({.args = {exe, "coordinator", "--listen", coord_addr, "--data-dir", dir + "/coord"},
                                .stdin_path = "/dev/null",
                                .stdout_path = dir + "/coord.log",
                                .stderr_path = dir + "/coord.log"}));
  absl::Status status = WaitReady(coordinator, "coordinator", [&] { return LoopbackAccepts(coord_port); });
  if (status.ok()) {
    status = repeat("cli nodes", "mliot nodes against a running coordinator, to exit (peak RSS)", [&](int i) {
      return RunToExit({exe, "nodes", "--coordinator", coord_addr, "--admin-token-file", dir + "/coord/admin.token"},
                       absl::StrCat(dir, "/nodes-", i));
    });
  }
  if (status.ok()) {
    status = repeat("node", "node agent to listening (includes its quick device benchmark, in a child)", [&](int i) {
      const int port = FreeLoopbackPort();
      return RunServer({exe, "node", "--coordinator", coord_addr, "--listen", absl::StrCat("127.0.0.1:", port),
                        "--data-dir", absl::StrCat(dir, "/node-", i), "--name", absl::StrCat("fp", i)},
                       absl::StrCat(dir, "/node-", i, ".log"), [port] { return LoopbackAccepts(port); });
    });
  }
  Stop(coordinator);
  MLIOT_RETURN_IF_ERROR(status);

  MLIOT_RETURN_IF_ERROR(repeat("coordinator", "coordinator to listening, idle", [&](int i) {
    const int port = FreeLoopbackPort();
    return RunServer({exe, "coordinator", "--listen", absl::StrCat("127.0.0.1:", port), "--data-dir",
                      absl::StrCat(dir, "/coord-", i)},
                     absl::StrCat(dir, "/coord-", i, ".log"), [port] { return LoopbackAccepts(port); });
  }));
  MLIOT_RETURN_IF_ERROR(repeat("up", "mliot up (coordinator + node, one process) to its node running, idle, no tasks",
                               [&](int i) {
                                 const std::string log = absl::StrCat(dir, "/up-", i, ".log");
                                 return RunServer({exe, "up", "--listen", absl::StrCat("127.0.0.1:", FreeLoopbackPort()),
                                                   "--data-dir", absl::StrCat(dir, "/up-", i)},
                                                  log, [log] { return FileContains(log, "mliot up: coordinator"); },
                                                  1000);
                               }));

  // Tasks: digits-shaped (1,797 x 64, 10 classes) with and without an mlp
  // member; 28x28 images with a cnn.
  std::vector<float> tx, ix;
  std::vector<int32_t> ty, iy;
  Synthetic(1797, 64, 10, 1, &tx, &ty);
  Synthetic(o.image_rows, 28 * 28, 10, 2, &ix, &iy);
  struct Task {
    std::string role, what, models;
    bool image;
  };
  const std::vector<Task> tasks = {
      {"serve worker", "serving worker, digits-shaped task: rbf_svm + knn + mlp", "rbf_svm, knn, mlp", false},
      {"serve worker (no nn)", "serving worker, digits-shaped task: rbf_svm + knn", "rbf_svm, knn", false},
      {"serve worker (cnn)", "serving worker, 28x28 images: cnn + logreg", "cnn, logreg", true},
  };
  json train_peak = json::array();
  for (const Task& t : tasks) {
    const std::string task_dir = absl::StrCat(dir, "/task-", roles.size());
    auto write = [&](const std::string& d) {
      return t.image ? WriteTask(d, "footprint", t.models, ix, {o.image_rows, 28, 28}, iy, o.train_budget_s)
                     : WriteTask(d, "footprint", t.models, tx, {1797, 64}, ty, o.train_budget_s);
    };
    if (&t == &tasks.front()) {
      // The training worker's role on the first task, `repeat` fresh trainings.
      std::vector<double> peaks;
      MLIOT_RETURN_IF_ERROR(repeat("train worker",
                                   "training worker, digits-shaped task (rbf_svm + knn + mlp) to its first status; "
                                   "memory once training is done",
                                   [&](int i) -> absl::StatusOr<Sample> {
                                     const std::string d = absl::StrCat(dir, "/train-", i);
                                     MLIOT_RETURN_IF_ERROR(write(d));
                                     double peak = 0;
                                     MLIOT_ASSIGN_OR_RETURN(Sample s, RunTrainWorker(exe, d, &peak));
                                     peaks.push_back(peak);
                                     return s;
                                   }));
      roles.back()["peak_mib"] = Percentile(peaks, 0.5);
    }
    MLIOT_RETURN_IF_ERROR(write(task_dir));
    double peak = 0;
    MLIOT_RETURN_IF_ERROR(RunTrainWorker(exe, task_dir, &peak).status());
    MLIOT_RETURN_IF_ERROR(repeat(t.role, t.what, [&](int i) {
      const std::string addr = task_dir + "/serve.addr";
      fs::remove(addr);
      return RunServer({exe, "worker", "serve", "--task-dir", task_dir, "--listen", "127.0.0.1:0"},
                       absl::StrCat(task_dir, "/serve-", i, ".log"), [addr] { return fs::exists(addr); });
    }));
  }
  return json{{"roles", roles}, {"binary", exe}, {"work_dir", dir}, {"machine", MachineFacts()}};
}

}  // namespace mliot::bench
