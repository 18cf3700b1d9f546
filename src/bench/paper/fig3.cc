// fig3: the device benchmark, shown: per device of the testbed, training
// time, CPU and memory of every model kind on image, audio and sensor data,
// each training a real `mliot train` process under the device's cgroup
// CPU quota and memory limit.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/kit.h"
#include "bench/paper/experiment.h"
#include "common/process.h"
#include "common/status_util.h"
#include "data/idx.h"
#include "data/source.h"
#include "ml/model.h"
#include "node/resource_limits.h"
#include "testbed/testbed.h"

namespace mliot::bench::paper {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The rows of one data type as IDX files `mliot train --data idx:X,Y` reads
// (2-D rows keep their shape).
absl::StatusOr<std::string> WriteIdxSpec(const Dataset& d, const std::string& prefix) {
  std::vector<int64_t> dims = {d.rows};
  if (d.shape) {
    dims.push_back(d.shape->height);
    dims.push_back(d.shape->width);
  } else {
    dims.push_back(d.cols);
  }
  MLIOT_RETURN_IF_ERROR(WriteIdxFloat(prefix + ".x.idx", dims, d.features.data()));
  MLIOT_RETURN_IF_ERROR(WriteIdxInt32(prefix + ".y.idx", d.labels));
  return absl::StrCat("idx:", prefix, ".x.idx,", prefix, ".y.idx");
}

// One training of one kind on one device.
struct Run {
  std::string device, type, kind;
  double cores = 0;
  int64_t memory_mb = 0;
  pid_t pid = -1;
  std::string out;
  std::chrono::steady_clock::time_point start;
  json result;
  bool stopped = false;  // killed for overrunning its budget
};

absl::Status StartRun(Run& r, ResourceLimiter& limiter, const std::string& data,
                      double budget_s, const std::string& dir) {
  r.out = absl::StrCat(dir, "/", r.device, "-", r.type, "-", r.kind);
  r.start = std::chrono::steady_clock::now();
  MLIOT_ASSIGN_OR_RETURN(
      r.pid, Spawn(SpawnOptions{.args = {SelfExe(), "train", "--data", data, "--models", r.kind,
                                         "--trials", "1", "--threads", "1",
                                         // The kind's own fit: no automatic
                                         // preprocessing choice before it.
                                         "--reduce", "none", "--scale", "feature", "--budget-s",
                                         absl::StrCat(budget_s), "--out", r.out + ".bundle",
                                         "--json"},
                                .stdin_path = "/dev/null",
                                .stdout_path = r.out + ".json",
                                .stderr_path = r.out + ".err"}));
  // Into the device's group at once: the first milliseconds run unlimited.
  return limiter.Apply(r.device, r.pid, Limits{r.cores, r.memory_mb});
}

void FinishRun(Run& r, int status, const rusage& usage) {
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
  const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  r.result = {{"device", r.device}, {"type", r.type}, {"kind", r.kind}, {"wall_s", wall},
              {"cpu_s", cpu_s},
              // CPU used over what the device could give in that time (1.0: all of it).
              {"cpu_norm", cpu_s / std::max(1e-9, wall * r.cores)},
              {"peak_mb", static_cast<double>(usage.ru_maxrss) / 1024.0},
              {"mem_norm", static_cast<double>(usage.ru_maxrss) / 1024.0 /
                               static_cast<double>(std::max<int64_t>(1, r.memory_mb))}};
  std::ifstream in(r.out + ".json");
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  const json j = json::parse(last, nullptr, false);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && j.is_object() &&
      !j.value("members", json::array()).empty()) {
    const json& m = j["members"][0];
    r.result["train_s"] = m.value("fit_s", 0.0);
    r.result["elapsed_s"] = j.value("elapsed_s", 0.0);
    r.result["val_accuracy"] = m.value("val_accuracy", 0.0);
  } else {
    std::ifstream err(r.out + ".err");
    std::string e, last_err;
    while (std::getline(err, e)) {
      if (!e.empty()) last_err = e;
    }
    r.result["error"] = last_err.empty() ? "exited without a result" : last_err;
  }
  fs::remove_all(r.out + ".bundle");
}

// Waits for every run, each timed to its own end. A run still going at
// kOverrun times its budget is stopped (a kind whose one fit cannot stop
// early: xgboost on 6,144 audio features took 435 s for 10 s on M3) and
// recorded as over budget.
constexpr double kOverrun = 3;
void FinishRuns(std::vector<Run>& runs, double budget_s) {
  size_t left = 0;
  for (Run& r : runs) left += r.pid > 0;
  while (left > 0) {
    for (Run& r : runs) {
      if (r.pid <= 0 || !r.result.is_null()) continue;
      const double wall =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
      if (wall > kOverrun * budget_s && !r.stopped) {
        kill(r.pid, SIGKILL);
        r.stopped = true;
      }
      int status = 0;
      rusage usage{};
      if (wait4(r.pid, &status, WNOHANG, &usage) != r.pid) continue;
      FinishRun(r, status, usage);
      if (r.stopped) {
        r.result["error"] = absl::StrFormat("still training at %.0fx its budget of %.0f s: stopped",
                                            kOverrun, budget_s);
      }
      --left;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

absl::StatusOr<json> Fig3(Context& c) {
  const bool quick = c.options.quick;
  const std::string file = FindSourceFile("testbeds/paper.yaml", c.options.source_dir);
  if (file.empty()) return absl::NotFoundError("testbeds/paper.yaml not found (--source-dir)");
  MLIOT_ASSIGN_OR_RETURN(Testbed testbed, LoadTestbed(file));
  // The paper's three machines: M1 (Raspberry Pi 4), M3 (a small VM), M4.
  const std::vector<std::string> names =
      quick ? std::vector<std::string>{"M1", "M4"} : std::vector<std::string>{"M1", "M3", "M4"};
  std::vector<TestbedDevice> devices;
  for (const std::string& n : names) {
    for (const TestbedDevice& d : testbed.devices) {
      if (d.name == n) devices.push_back(d);
    }
  }
  const std::vector<std::string> types =
      quick ? std::vector<std::string>{"image"} : std::vector<std::string>{"image", "audio", "sensor"};
  const double budget_s = quick ? 3 : 10;
  const int64_t rows = quick ? 200 : 500;
  const std::string dir = c.work + "/fig3";
  fs::create_directories(dir);
  std::unique_ptr<ResourceLimiter> limiter =
      ResourceLimiter::Detect(absl::StrCat("mliot-fig3-", getpid()));
  if (limiter->isolation().rfind("none", 0) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("fig3 needs cgroup limits: ", limiter->isolation()));
  }
  json results = json::array();
  for (const std::string& type : types) {
    Dataset data;
    if (quick) {
      MLIOT_ASSIGN_OR_RETURN(data, LoadDataset(absl::StrCat("fashion-mnist:train:", rows)));
    } else {
      MLIOT_ASSIGN_OR_RETURN(const FeaturizedSplit* d, c.Data(type));
      data = Sample(d->train, rows, 3);
    }
    MLIOT_ASSIGN_OR_RETURN(std::string spec, WriteIdxSpec(data, absl::StrCat(dir, "/", type)));
    std::vector<std::string> kinds;
    for (const std::string& k : BuiltinModels().Names()) {
      MLIOT_ASSIGN_OR_RETURN(const ModelKind* kind, BuiltinModels().Find(k));
      if (kind->needs_image && !data.shape) continue;
      if (quick && k != "logreg" && k != "knn") continue;
      kinds.push_back(k);
    }
    for (const std::string& kind : kinds) {
      // The devices train side by side: their quotas sum to less than this
      // machine's cores, so each gets what its quota gives.
      std::vector<Run> runs;
      for (const TestbedDevice& d : devices) {
        runs.push_back(Run{.device = d.name, .type = type, .kind = kind, .cores = d.cores,
                           .memory_mb = d.memory_mb});
      }
      absl::Status started;
      for (Run& r : runs) {
        if (started.ok()) started = StartRun(r, *limiter, spec, budget_s, dir);
      }
      FinishRuns(runs, budget_s);
      MLIOT_RETURN_IF_ERROR(started);
      for (Run& r : runs) {
        Say(absl::StrFormat("fig3 %s %s on %s: train %.2f s (wall %.1f s), cpu %.2f of the quota, "
                            "peak %.0f MB%s",
                            type, kind, r.device, r.result.value("train_s", -1.0),
                            r.result["wall_s"].get<double>(), r.result["cpu_norm"].get<double>(),
                            r.result["peak_mb"].get<double>(),
                            r.result.contains("error")
                                ? absl::StrCat(" (", r.result["error"].get<std::string>(), ")")
                                : ""));
        results.push_back(std::move(r.result));
      }
    }
    for (const TestbedDevice& d : devices) (void)limiter->Remove(d.name);
  }

  // The claims, over the trainings that finished.
  auto train_s = [&](const std::string& device, const std::string& type, const std::string& kind) {
    for (const json& r : results) {
      if (r["device"] == device && r["type"] == type && r["kind"] == kind && r.contains("train_s"))
        return r["train_s"].get<double>();
    }
    return -1.0;
  };
  int spreads = 0, spread_cells = 0, faster = 0, compared = 0, orders_differ = 0;
  std::vector<std::string> spread_text;
  for (const std::string& type : types) {
    std::map<std::string, std::vector<std::pair<double, std::string>>> order;
    for (const TestbedDevice& d : devices) {
      // A kind that did not finish within the budget took longer than it:
      // the budget is a lower bound on its time, so the spread is one too.
      double lo = 1e18, hi = 0;
      bool bounded = false;
      for (const json& r : results) {
        if (r["device"] != d.name || r["type"] != type) continue;
        if (!r.contains("train_s")) {
          if (hi < budget_s) bounded = true;
          hi = std::max(hi, budget_s);
          continue;
        }
        const double t = std::max(1e-3, r["train_s"].get<double>());
        lo = std::min(lo, t);
        if (t > hi) bounded = false;
        hi = std::max(hi, t);
        order[d.name].push_back({t, r["kind"].get<std::string>()});
      }
      if (lo > hi) continue;  // nothing finished
      ++spread_cells;
      spreads += hi / lo >= 5;
      spread_text.push_back(
          absl::StrFormat("%s %s %s%.0fx", type, d.name, bounded ? ">= " : "", hi / lo));
      std::sort(order[d.name].begin(), order[d.name].end());
    }
    std::vector<std::vector<std::string>> ranks;
    for (auto& [device, list] : order) {
      std::vector<std::string> kinds;
      for (auto& [t, k] : list) kinds.push_back(k);
      ranks.push_back(kinds);
    }
    for (size_t i = 1; i < ranks.size(); ++i) orders_differ += ranks[i] != ranks[0];
    for (const json& r : results) {
      if (r["device"] != devices.front().name || r["type"] != type) continue;
      const double slow = train_s(devices.front().name, type, r["kind"]);
      const double fast = train_s(devices.back().name, type, r["kind"]);
      if (slow < 0 || fast < 0) continue;
      ++compared;
      faster += fast < slow;
    }
  }
  json claims = json::array({
      Claim("training time varies widely across model kinds (slowest over fastest >= 5x on every "
            "device and data type; a kind that did not finish counts at its budget)",
            "training time, CPU and memory usage vary widely based on the models",
            absl::StrJoin(spread_text, ", "), spread_cells > 0 && spreads == spread_cells),
      Claim("the relative performance of the kinds differs per device (their order by training "
            "time is not the same on every device)",
            "the relative performance of models is also different per machine",
            absl::StrCat(orders_differ, " device orders differ from ", devices.front().name,
                         "'s"),
            orders_differ > 0),
      Claim(absl::StrCat("the larger device trains faster: ", devices.back().name, " (",
                         devices.back().cores, " cores) against ", devices.front().name, " (",
                         devices.front().cores, ")"),
            "some models better exploit multiple cores to reduce training time",
            absl::StrCat(faster, " of ", compared, " kinds x data types faster"),
            compared > 0 && 2 * faster > compared),
  });
  json device_list = json::array();
  for (const TestbedDevice& d : devices) {
    device_list.push_back({{"name", d.name}, {"cores", d.cores}, {"memory_mb", d.memory_mb}});
  }
  return json{{"claims", claims},
              {"results", results},
              {"devices", device_list},
              {"budget_s", budget_s},
              {"rows", rows},
              {"isolation", limiter->isolation()}};
}

}  // namespace mliot::bench::paper
