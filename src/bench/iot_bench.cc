#include "bench/iot_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/kit.h"
#include "common/status_util.h"
#include "features/raw_source.h"
#include "ml/hpo/strategy.h"
#include "serve/evaluate.h"
#include "serve/servable.h"
#include "train/trainer.h"

namespace mliot::bench {
namespace fs = std::filesystem;
namespace {

void Say(const std::string& line) {
  std::fprintf(stderr, "bench iot: %s\n", line.c_str());
  std::fflush(stderr);
}

// DCASE split by clip: every fourth clip of a class (in name order) is a test clip.
absl::Status SplitDcase(const std::string& src, const std::string& train, const std::string& test) {
  std::error_code ec;
  for (const fs::directory_entry& cls : fs::directory_iterator(src, ec)) {
    if (!cls.is_directory()) continue;
    std::vector<fs::path> clips;
    for (const fs::directory_entry& c : fs::directory_iterator(cls.path())) {
      if (c.is_regular_file()) clips.push_back(c.path());
    }
    std::sort(clips.begin(), clips.end());
    const std::string name = cls.path().filename().string();
    fs::create_directories(train + "/" + name);
    fs::create_directories(test + "/" + name);
    for (size_t i = 0; i < clips.size(); ++i) {
      fs::create_symlink(fs::absolute(clips[i]),
                         ((i % 4 == 3) ? test : train) + "/" + name + "/" + clips[i].filename().string());
    }
  }
  return ec ? absl::UnavailableError(absl::StrCat(src, ": ", ec.message())) : absl::OkStatus();
}

// sp-sw-har split by subject: s01-s16 train, s17-s23 test.
absl::Status SplitHar(const std::string& src, const std::string& train, const std::string& test) {
  fs::create_directories(train);
  fs::create_directories(test);
  std::error_code ec;
  for (const fs::directory_entry& s : fs::directory_iterator(src + "/DATA", ec)) {
    const std::string name = s.path().filename().string();
    if (!s.is_directory() || name.size() != 3 || name[0] != 's') continue;
    const int subject = std::atoi(name.c_str() + 1);
    fs::create_symlink(fs::absolute(s.path()), (subject <= 16 ? train : test) + "/" + name);
  }
  return ec ? absl::UnavailableError(absl::StrCat(src, ": ", ec.message())) : absl::OkStatus();
}

// Rows as the peers read them: PREFIX.x (float32, rows x cols), PREFIX.y
// (one class name per line), PREFIX.json (rows, cols, shape).
absl::Status WriteRows(const Dataset& d, const std::string& prefix) {
  std::ofstream x(prefix + ".x", std::ios::binary);
  x.write(reinterpret_cast<const char*>(d.features.data()), static_cast<std::streamsize>(d.features.size() * 4));
  std::ofstream y(prefix + ".y");
  for (int32_t l : d.labels) y << (l >= 0 ? d.class_names[l] : "") << "\n";
  nlohmann::json meta = {{"rows", d.rows}, {"cols", d.cols}};
  if (d.shape) meta["shape"] = {d.shape->height, d.shape->width};
  std::ofstream(prefix + ".json") << meta.dump();
  return x && y ? absl::OkStatus() : absl::UnavailableError(absl::StrCat(prefix, ": cannot write"));
}

struct System {
  std::string name;
  std::string select;                // empty: the default policy
  std::vector<std::string> devices;  // sensors
};

absl::StatusOr<nlohmann::json> RunMliot(const std::string& dataset, const System& system, const std::string& train,
                                        const std::string& test, const std::string& work, const IotBenchOptions& o,
                                        Dataset* train_rows, Dataset* test_rows) {
  const bool audio = dataset == "dcase2016-task2";
  FeaturizerConfig f{.name = audio ? "logmel" : "sensor_stats", .devices = system.devices};
  const std::string prefix = audio ? "audio:" : "sensor:";
  MLIOT_ASSIGN_OR_RETURN(RawDataset raw, LoadRawDataset(prefix + train, f, {}));
  TrainOptions t;
  t.budget_s = o.budget_s;
  if (!system.select.empty()) t.select = system.select;
  t.out_dir = absl::StrCat(work, "/bundle-", std::hash<std::string>()(system.name));
  t.data_source = prefix + train;
  t.featurizer = raw.featurizer;
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  const auto start = std::chrono::steady_clock::now();
  MLIOT_ASSIGN_OR_RETURN(TrainReport report, trainer.Train(raw.data, t));
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Servable> servable, Servable::Load(t.out_dir));
  RawSourceOptions test_options;
  test_options.for_training = false;
  MLIOT_ASSIGN_OR_RETURN(RawDataset raw_test, LoadRawDataset(prefix + test, raw.featurizer, test_options));
  if (train_rows != nullptr) {
    *train_rows = raw.data;
    *test_rows = raw_test.data;
  }
  MLIOT_ASSIGN_OR_RETURN(Evaluation e, EvaluateRaw(*servable, std::move(raw_test)));
  std::vector<std::string> members;
  for (const MemberReport& m : report.members) members.push_back(m.kind);
  Say(absl::StrCat(dataset, " / ", system.name, ": accuracy ", e.accuracy, " (", e.n, " test rows), p50 ", e.p50_ms,
                   " ms, members ", nlohmann::json(members).dump()));
  return nlohmann::json{{"dataset", dataset}, {"system", system.name},   {"accuracy", e.accuracy},
                        {"latency_ms_p50", e.p50_ms}, {"train_s", train_s}, {"test_rows", e.n},
                        {"train_rows", raw.data.rows}, {"members", members}};
}

}  // namespace

IotBenchOptions QuickIotBench() {
  IotBenchOptions o;
  o.datasets = {"dcase2016-task2"};
  o.budget_s = 8;
  return o;
}

absl::StatusOr<nlohmann::json> RunIotBench(const IotBenchOptions& o) {
  for (const std::string& d : o.datasets) {
    if (!fs::is_directory(o.data_dir + "/" + d)) {
      return absl::NotFoundError(absl::StrCat(o.data_dir, "/", d, ": not found; bench iot needs the real data sets "
                                              "(--data-dir, default ../shared/data)"));
    }
  }
  const bool temporary = o.work_dir.empty();
  const std::string work =
      temporary ? (fs::temp_directory_path() / absl::StrCat("mliot-bench-iot-", getpid())).string() : o.work_dir;
  fs::remove_all(work);
  fs::create_directories(work);
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json peer_errors = nlohmann::json::object();
  absl::Status status;
  for (const std::string& dataset : o.datasets) {
    const std::string train = work + "/" + dataset + "/train", test = work + "/" + dataset + "/test";
    const bool audio = dataset == "dcase2016-task2";
    status = audio ? SplitDcase(o.data_dir + "/" + dataset, train, test)
                   : SplitHar(o.data_dir + "/" + dataset, train, test);
    if (!status.ok()) break;
    std::vector<System> systems = {{"mliot", "", {}}, {"mliot lowest_latency(3)", "lowest_latency(3)", {}}};
    if (!audio) {
      for (System& s : systems) s.devices = {"sp", "sw"};
      systems.push_back({"mliot phone only", "", {"sp"}});
      systems.push_back({"mliot watch only", "", {"sw"}});
    }
    Dataset train_rows, test_rows;
    for (size_t i = 0; i < systems.size() && status.ok(); ++i) {
      absl::StatusOr<nlohmann::json> row = RunMliot(dataset, systems[i], train, test, work + "/" + dataset, o,
                                                    i == 0 ? &train_rows : nullptr, i == 0 ? &test_rows : nullptr);
      if (!row.ok()) {
        status = Annotate(row.status(), absl::StrCat(dataset, " / ", systems[i].name));
        break;
      }
      rows.push_back(*row);
    }
    if (!status.ok() || !o.peer) continue;
    // The peers, on the rows mliot featurized (the default system's).
    const std::string prefix = work + "/" + dataset + "/rows";
    status = WriteRows(train_rows, prefix + "-train");
    if (status.ok()) status = WriteRows(test_rows, prefix + "-test");
    if (!status.ok()) break;
    for (const std::string& which : {"sklearn", "torch"}) {
      Say(absl::StrCat(dataset, ": peer ", which));
      PeerRun run{.script = "iot_peer.py",
                  .args = {"--train", prefix + "-train", "--test", prefix + "-test", "--dataset", dataset, "--budget-s",
                           absl::StrCat(o.budget_s), "--systems", which},
                  .timeout = std::chrono::seconds(static_cast<int>(o.budget_s * 20 + 600)),
                  .source_dir = o.source_dir};
      absl::StatusOr<nlohmann::json> peer = RunPeer(run);
      if (!peer.ok()) {
        peer_errors[absl::StrCat(dataset, " ", which)] = std::string(peer.status().message());
        continue;
      }
      for (const nlohmann::json& r : (*peer)["rows"]) {
        Say(absl::StrCat(dataset, " / ", r.value("system", ""), ": accuracy ", r.value("accuracy", 0.0)));
        rows.push_back(r);
      }
    }
  }
  if (temporary) fs::remove_all(work);
  MLIOT_RETURN_IF_ERROR(status);
  nlohmann::json report = {{"rows", rows}, {"budget_s", o.budget_s}, {"machine", MachineFacts()}};
  if (!peer_errors.empty()) report["peer_errors"] = peer_errors;
  return report;
}

}  // namespace mliot::bench
