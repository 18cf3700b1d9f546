#include "bench/iot_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/iot_data.h"
#include "bench/kit.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "data/audio_file.h"
#include "features/raw_source.h"
#include "features/resample.h"
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

struct System {
  std::string name;
  std::string select;                // empty: the default policy
  std::vector<std::string> devices;  // sensors
};

absl::StatusOr<nlohmann::json> RunMliot(const std::string& dataset, const System& system,
                                        const std::string& train, const std::string& test,
                                        const std::string& work, const IotBenchOptions& o,
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
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Servable> servable, Servable::Load(t.out_dir));
  RawSourceOptions test_options;
  test_options.for_training = false;
  MLIOT_ASSIGN_OR_RETURN(RawDataset raw_test,
                         LoadRawDataset(prefix + test, raw.featurizer, test_options));
  if (train_rows != nullptr) {
    *train_rows = raw.data;
    *test_rows = raw_test.data;
  }
  MLIOT_ASSIGN_OR_RETURN(Evaluation e, EvaluateRaw(*servable, std::move(raw_test)));
  std::vector<std::string> members;
  for (const MemberReport& m : report.members) members.push_back(m.kind);
  Say(absl::StrCat(dataset, " / ", system.name, ": accuracy ", e.accuracy, " (", e.n,
                   " test rows), p50 ", e.p50_ms, " ms, members ", nlohmann::json(members).dump()));
  return nlohmann::json{{"dataset", dataset},          {"system", system.name},
                        {"accuracy", e.accuracy},      {"latency_ms_p50", e.p50_ms},
                        {"train_s", train_s},          {"test_rows", e.n},
                        {"train_rows", raw.data.rows}, {"members", members}};
}

// Two-stage serving on real audio (paper §4.2.2): DCASE's training clips
// plus a `background` class of room noise, trained with --background-class;
// then a continuous stream, mostly background (4 s before each test clip),
// windowed and predicted window by window through the serving path.
absl::StatusOr<nlohmann::json> TwoStage(const std::string& train, const std::string& test,
                                        const std::string& work, const IotBenchOptions& o) {
  std::mt19937_64 rng(5);
  const std::string bundle = work + "/bundle-two-stage";
  MLIOT_RETURN_IF_ERROR(TrainWithBackground(train, bundle, o.budget_s, rng));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Servable> servable, Servable::Load(bundle));
  MLIOT_ASSIGN_OR_RETURN(LabelledStream labelled, BackgroundHeavyStream(test, 4.0, rng));
  const Signal& stream = labelled.signal;
  const Featurizer& f = *servable->featurizer();
  std::vector<float> cert(static_cast<size_t>(servable->num_classes()));
  std::vector<double> stage1_ms, stage2_ms;
  int64_t windows = 0, background = 0, background_stage1 = 0, correct = 0;
  for (int64_t k = 0;; ++k) {
    const FrameRange w = f.WindowAt(k, 16000);
    if (w.end > stream.frames()) break;
    const std::string truth = labelled.MajorityLabel(w);
    const auto start = std::chrono::steady_clock::now();
    MLIOT_ASSIGN_OR_RETURN(Answer a, servable->PredictWindow(stream, w, cert.data()));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    (a.stage == 1 ? stage1_ms : stage2_ms).push_back(ms);
    ++windows;
    correct += servable->class_names()[a.label] == truth;
    if (truth == "background") {
      ++background;
      background_stage1 += a.stage == 1;
    }
  }
  const double p1 = Percentile(stage1_ms, 0.5), p2 = Percentile(stage2_ms, 0.5);
  Say(absl::StrCat("two-stage: ", stage1_ms.size(), " of ", windows, " windows by stage 1 (",
                   background, " background), p50 ", p1, " vs ", p2, " ms"));
  return nlohmann::json{
      {"windows", windows},
      {"background_windows", background},
      {"stage1_answers", stage1_ms.size()},
      {"background_answered_by_stage1",
       background > 0 ? double(background_stage1) / background : 0},
      {"accuracy", windows > 0 ? double(correct) / windows : 0},
      {"stage1_ms_p50", p1},
      {"stage2_ms_p50", p2},
      {"mean_ms", (std::accumulate(stage1_ms.begin(), stage1_ms.end(), 0.0) +
                   std::accumulate(stage2_ms.begin(), stage2_ms.end(), 0.0)) /
                      std::max<int64_t>(1, windows)},
      {"stage2_only_mean_ms",
       stage2_ms.empty()
           ? 0.0
           : std::accumulate(stage2_ms.begin(), stage2_ms.end(), 0.0) / stage2_ms.size()}};
}

}  // namespace

void MakeQuick(IotBenchOptions& o) {
  o.datasets = {"dcase2016-task2"};
  o.budget_s = 8;
  o.two_stage = false;
}

namespace {

absl::StatusOr<nlohmann::json> RunIotOnce(const IotBenchOptions& o) {
  for (const std::string& d : o.datasets) {
    if (d != "dcase2016-task2" && d != "sp-sw-har") {
      return absl::InvalidArgumentError(absl::StrCat("--datasets: unknown data set '", d,
                                                     "'; valid: dcase2016-task2, sp-sw-har"));
    }
    if (!fs::is_directory(o.data_dir + "/" + d)) {
      return absl::NotFoundError(absl::StrCat(o.data_dir, "/", d,
                                              ": not found; bench iot needs the real data sets "
                                              "(--data-dir, default ../shared/data)"));
    }
  }
  const bool temporary = o.work_dir.empty();
  const std::string work =
      temporary ? (fs::temp_directory_path() / absl::StrCat("mliot-bench-iot-", getpid())).string()
                : o.work_dir;
  fs::remove_all(work);
  fs::create_directories(work);
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json peer_errors = nlohmann::json::object();
  nlohmann::json two_stage;
  absl::Status status;
  for (const std::string& dataset : o.datasets) {
    const std::string train = work + "/" + dataset + "/train",
                      test = work + "/" + dataset + "/test";
    const bool audio = dataset == "dcase2016-task2";
    status = audio ? SplitDcase(o.data_dir + "/" + dataset, train, test)
                   : SplitHar(o.data_dir + "/" + dataset, train, test);
    if (!status.ok()) break;
    std::vector<System> systems = {{"mliot", "", {}},
                                   {"mliot lowest_latency(3)", "lowest_latency(3)", {}}};
    if (!audio) {
      for (System& s : systems) s.devices = {"sp", "sw"};
      systems.push_back({"mliot phone only", "", {"sp"}});
      systems.push_back({"mliot watch only", "", {"sw"}});
    }
    Dataset train_rows, test_rows;
    for (size_t i = 0; i < systems.size() && status.ok(); ++i) {
      absl::StatusOr<nlohmann::json> row =
          RunMliot(dataset, systems[i], train, test, work + "/" + dataset, o,
                   i == 0 ? &train_rows : nullptr, i == 0 ? &test_rows : nullptr);
      if (!row.ok()) {
        status = Annotate(row.status(), absl::StrCat(dataset, " / ", systems[i].name));
        break;
      }
      rows.push_back(*row);
    }
    if (status.ok() && audio && o.two_stage) {
      absl::StatusOr<nlohmann::json> two = TwoStage(train, test, work + "/" + dataset, o);
      if (!two.ok()) {
        status = Annotate(two.status(), "dcase2016-task2 / two-stage");
        break;
      }
      two_stage = *two;
    }
    if (!status.ok() || !o.peer) continue;
    // The peers, on the rows mliot featurized (the default system's).
    const std::string prefix = work + "/" + dataset + "/rows";
    status = WriteRows(train_rows, prefix + "-train");
    if (status.ok()) status = WriteRows(test_rows, prefix + "-test");
    if (!status.ok()) break;
    for (const char* which : {"sklearn", "torch"}) {
      Say(absl::StrCat(dataset, ": peer ", which));
      PeerRun run{.script = "iot_peer.py",
                  .args = {"--train", prefix + "-train", "--test", prefix + "-test", "--dataset",
                           dataset, "--budget-s", absl::StrCat(o.budget_s), "--systems", which},
                  .timeout = std::chrono::seconds(static_cast<int>(o.budget_s * 20 + 600)),
                  .source_dir = o.source_dir};
      absl::StatusOr<nlohmann::json> peer = RunPeer(run);
      if (!peer.ok()) {
        peer_errors[absl::StrCat(dataset, " ", which)] = std::string(peer.status().message());
        continue;
      }
      for (const nlohmann::json& r : (*peer)["rows"]) {
        Say(absl::StrCat(dataset, " / ", r.value("system", ""), ": accuracy ",
                         r.value("accuracy", 0.0)));
        rows.push_back(r);
      }
    }
  }
  if (temporary) fs::remove_all(work);
  MLIOT_RETURN_IF_ERROR(status);
  nlohmann::json report = {{"rows", rows}, {"budget_s", o.budget_s}};
  if (!peer_errors.empty()) report["peer_errors"] = peer_errors;
  if (!two_stage.is_null()) report["two_stage"] = two_stage;
  return report;
}

}  // namespace

absl::StatusOr<nlohmann::json> RunIotBench(const IotBenchOptions& o) {
  return RunRepeated(o.repeat, [&] { return RunIotOnce(o); });
}

}  // namespace mliot::bench
