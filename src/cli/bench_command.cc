// mliot bench engine: the Fashion-MNIST case end to end (train, then eval on
// the test set), with the scikit-learn peer in the same run when available.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "serve/evaluate.h"
#include "bench/features_bench.h"
#include "bench/iot_bench.h"
#include "bench/kit.h"
#include "common/stats.h"
#include "data/source.h"
#include "ml/hpo/strategy.h"
#include "train/trainer.h"

namespace mliot::cli {
namespace {

struct BenchArgs {
  std::string train = "fashion-mnist:train:10000";
  std::string test = "fashion-mnist:test";
  std::string label = "label";
  double budget_s = 120;
  std::string out;
  std::string peer = "auto";  // auto | none
  std::string source_dir;     // where bench/peer_sklearn.py lives
  bool json = false;
};

std::string FindPeerScript(const std::string& hint) { return FindSourceFile("bench/peer_sklearn.py", hint); }

// Runs the peer and returns the JSON on its last stdout line, or null.
nlohmann::json RunPeer(const BenchArgs& a) {
  const std::string script = FindPeerScript(a.source_dir);
  if (script.empty() || !std::filesystem::exists("/usr/bin/python3")) return nullptr;
  const std::string cmd = absl::StrCat("/usr/bin/python3 ", script, " --mode ensemble --data ", a.train,
                                       " --test ", a.test, " --label ", a.label, " --json");
  Progress("peer: " + cmd);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return nullptr;
  std::string last, line;
  char buf[4096];
  while (std::fgets(buf, sizeof(buf), pipe.get()) != nullptr) {
    line += buf;
    if (!line.empty() && line.back() == '\n') {
      if (line.size() > 1) last = line;
      line.clear();
    }
  }
  if (!line.empty()) last = line;
  nlohmann::json peer = nlohmann::json::parse(last, nullptr, false);
  return peer.is_discarded() ? nlohmann::json(nullptr) : peer;
}

int RunBenchEngine(const BenchArgs& a) {
  const std::string out = a.out.empty()
                              ? (std::filesystem::temp_directory_path() / ("mliot-bench-" + std::to_string(getpid()))).string()
                              : a.out;
  LoadOptions load;
  load.label_column = a.label;
  absl::StatusOr<Dataset> train = LoadDataset(a.train, load);
  if (!train.ok()) return Fail(train.status());
  load.for_training = false;
  absl::StatusOr<Dataset> test = LoadDataset(a.test, load);
  if (!test.ok()) return Fail(test.status());
  TrainOptions o;
  o.budget_s = a.budget_s;
  o.out_dir = out;
  o.data_source = a.train;
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  trainer.set_progress(Progress);
  absl::StatusOr<TrainReport> report = trainer.Train(*train, o);
  if (!report.ok()) return Fail(report.status());
  absl::StatusOr<std::unique_ptr<Servable>> servable = Servable::Load(out);
  if (!servable.ok()) return Fail(servable.status());
  absl::StatusOr<Evaluation> e = Evaluate(**servable, *test);
  if (!e.ok()) return Fail(e.status());
  nlohmann::json members = nlohmann::json::array();
  for (const MemberReport& m : report->members) {
    members.push_back({{"kind", m.kind}, {"val_accuracy", m.val_accuracy}, {"fit_s", m.fit_s},
                       {"latency_ms", m.latency_ms}});
  }
  nlohmann::json result = {
      {"case", "fashion-mnist"},
      {"train", a.train},
      {"test", a.test},
      {"budget_s", a.budget_s},
      {"train_elapsed_s", report->elapsed_s},
      {"val_accuracy", report->val_accuracy},
      {"accuracy", e->accuracy},
      {"latency_ms", {{"p50", e->p50_ms}, {"p99", e->p99_ms}}},
      {"throughput_rows_per_s", e->throughput_rows_per_s},
      {"peak_rss_mib", PeakRssMiB()},
      {"members", members},
      {"reduce", report->reduce},
      {"version", e->version},
  };
  if (a.peer != "none") {
    nlohmann::json peer = RunPeer(a);
    if (!peer.is_null()) result["peer"] = peer;
  }
  if (a.json) {
    PrintJson(result);
  } else {
    std::printf("%s\n", result.dump(2).c_str());
  }
  return 0;
}

struct FeaturesArgs {
  bench::FeaturesBenchOptions options;
  bool quick = false;
  std::string peer = "auto";
  bool json = false;
};

int RunBenchFeatures(FeaturesArgs a) {
  if (a.quick) {
    const bench::FeaturesBenchOptions quick = bench::QuickFeaturesBench();
    a.options.audio_s = quick.audio_s;
    a.options.sensor_windows = quick.sensor_windows;
  }
  a.options.peer = a.peer != "none";
  absl::StatusOr<nlohmann::json> report = bench::RunFeaturesBench(a.options);
  if (!report.ok()) return Fail(report.status());
  if (a.json) {
    PrintJson(*report);
  } else {
    std::printf("%s\n", report->dump(2).c_str());
  }
  return 0;
}

struct IotArgs {
  bench::IotBenchOptions options;
  bool quick = false;
  std::string peer = "auto";
  bool json = false;
};

int RunBenchIot(IotArgs a) {
  if (a.quick) {
    const bench::IotBenchOptions quick = bench::QuickIotBench();
    a.options.datasets = quick.datasets;
    a.options.budget_s = quick.budget_s;
  }
  a.options.peer = a.peer != "none";
  absl::StatusOr<nlohmann::json> report = bench::RunIotBench(a.options);
  if (!report.ok()) return Fail(report.status());
  if (a.json) {
    PrintJson(*report);
  } else {
    for (const nlohmann::json& r : (*report)["rows"]) {
      std::printf("%-16s %-26s accuracy %.3f  p50 %7.3f ms  train %6.1f s\n", r.value("dataset", "").c_str(),
                  r.value("system", "").c_str(), r.value("accuracy", 0.0), r.value("latency_ms_p50", 0.0),
                  r.value("train_s", 0.0));
    }
  }
  return 0;
}

int RunBenchList(bool json) {
  nlohmann::json list = nlohmann::json::array();
  for (const bench::BenchmarkInfo& b : bench::Benchmarks()) {
    list.push_back({{"name", b.name}, {"measures", b.measures}, {"targets", b.targets}});
    if (!json) std::printf("%-14s %s\n", b.name.c_str(), b.measures.c_str());
  }
  if (json) PrintJson({{"benchmarks", list}});
  return 0;
}

}  // namespace

Runner AddBenchCommand(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* bench = app.add_subcommand("bench", "benchmarks");
  bench->require_subcommand(1);
  CLI::App* engine = bench->add_subcommand("engine", "Fashion-MNIST end to end, with the scikit-learn peer");
  engine->add_option("--train", args->train, "training data spec")->capture_default_str();
  engine->add_option("--test", args->test, "test data spec")->capture_default_str();
  engine->add_option("--label", args->label, "label column of CSV data")->capture_default_str();
  engine->add_option("--budget-s", args->budget_s, "training budget")->capture_default_str();
  engine->add_option("--out", args->out, "bundle directory (default: a temporary one)");
  engine->add_option("--peer", args->peer, "auto | none")->capture_default_str();
  engine->add_option("--source-dir", args->source_dir, "mliot source tree (for bench/peer_sklearn.py)");
  engine->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  auto features_args = std::make_shared<FeaturesArgs>();
  CLI::App* features = bench->add_subcommand(
      "features", "log-mel and sensor_stats featurization speed (one thread), with the numpy peer");
  features->add_option("--repeat", features_args->options.repeat, "interleaved rounds (mliot, peer, ...)")
      ->capture_default_str();
  features->add_option("--audio-s", features_args->options.audio_s, "seconds of audio")->capture_default_str();
  features->add_option("--sensor-windows", features_args->options.sensor_windows, "sensor windows")
      ->capture_default_str();
  features->add_flag("--quick", features_args->quick, "seconds, not minutes (make bench-quick)");
  features->add_option("--peer", features_args->peer, "auto | none")->capture_default_str();
  features->add_option("--source-dir", features_args->options.source_dir, "mliot source tree (for bench/peers/)");
  features->add_flag("--json", features_args->json, "print one JSON object as the last stdout line");
  auto iot_args = std::make_shared<IotArgs>();
  CLI::App* iot = bench->add_subcommand("iot", "the paper's Table 4 on real audio and sensor data, with peers");
  iot->add_option("--data-dir", iot_args->options.data_dir, "holds dcase2016-task2/ and sp-sw-har/")
      ->capture_default_str();
  iot->add_option("--budget-s", iot_args->options.budget_s, "training budget per system")->capture_default_str();
  iot->add_option("--datasets", iot_args->options.datasets, "dcase2016-task2, sp-sw-har (default: both)")
      ->delimiter(',');
  iot->add_option("--work-dir", iot_args->options.work_dir, "splits, bundles, feature files (default: temporary)");
  iot->add_flag("--quick", iot_args->quick, "DCASE only, an 8 s budget (make bench-quick)");
  iot->add_option("--peer", iot_args->peer, "auto | none")->capture_default_str();
  iot->add_option("--source-dir", iot_args->options.source_dir, "mliot source tree (for bench/peers/)");
  iot->add_flag("--json", iot_args->json, "print one JSON object as the last stdout line");
  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = bench->add_subcommand("list", "every benchmark: what it measures, its targets");
  list->add_flag("--json", *list_json, "print one JSON object as the last stdout line");
  auto scheduler = std::make_shared<std::function<int()>>();
  AddBenchSchedulerCommand(bench, scheduler.get());
  return [args, engine, scheduler, features, features_args, list, list_json, iot, iot_args] {
    if (iot->parsed()) return RunBenchIot(*iot_args);
    if (engine->parsed()) return RunBenchEngine(*args);
    if (features->parsed()) return RunBenchFeatures(*features_args);
    if (list->parsed()) return RunBenchList(*list_json);
    if (int rc = (*scheduler)(); rc >= 0) return rc;
    return 2;
  };
}

}  // namespace mliot::cli
