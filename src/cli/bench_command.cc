// `mliot bench ...`: registers every benchmark of src/bench/, parses its
// flags and prints its report. The benchmarks themselves live in src/bench/.
#include <cstdio>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "bench/engine_bench.h"
#include "bench/features_bench.h"
#include "bench/footprint_bench.h"
#include "bench/lifecycle_bench.h"
#include "bench/serving_bench.h"
#include "bench/iot_bench.h"
#include "bench/kit.h"
#include "bench/paper_bench.h"
#include "bench/scheduler_bench.h"
#include "cli/bench_flags.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

namespace mliot::cli {
namespace {

struct EngineArgs {
  bench::EngineBenchOptions options;
  std::string peer = "auto";  // auto | none
  BenchFlags flags;
};

Runner AddEngine(CLI::App* bench) {
  auto a = std::make_shared<EngineArgs>();
  CLI::App* cmd =
      bench->add_subcommand("engine", "Fashion-MNIST end to end, with the scikit-learn peer");
  a->flags.Add(
      cmd, "2,000 training rows, a 10 s budget", [a] { bench::MakeQuick(a->options); },
      &a->options.repeat);
  cmd->add_option("--train", a->options.train, "training data spec")->capture_default_str();
  cmd->add_option("--test", a->options.test, "test data spec")->capture_default_str();
  cmd->add_option("--label", a->options.label, "label column of CSV data")->capture_default_str();
  cmd->add_option("--budget-s", a->options.budget_s, "training budget")->capture_default_str();
  cmd->add_option("--out", a->options.out, "bundle directory (default: a temporary one)");
  cmd->add_option("--peer", a->peer, "auto | none")
      ->check(CLI::IsMember({"auto", "none"}))
      ->capture_default_str();
  cmd->add_option("--source-dir", a->options.source_dir, "mliot source tree (for bench/peers/)");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    a->options.peer = a->peer != "none";
    return PrintBenchReport(bench::RunEngineBench(a->options), a->flags);
  };
}

struct FeaturesArgs {
  bench::FeaturesBenchOptions options;
  std::string peer = "auto";
  BenchFlags flags;
};

Runner AddFeatures(CLI::App* bench) {
  auto a = std::make_shared<FeaturesArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "features", "log-mel and sensor_stats featurization speed (one thread), with the numpy peer");
  a->flags.Add(
      cmd, "10 s of audio, 200 sensor windows, one round", [a] { bench::MakeQuick(a->options); },
      &a->options.repeat);
  cmd->add_option("--audio-s", a->options.audio_s, "seconds of audio")->capture_default_str();
  cmd->add_option("--sensor-windows", a->options.sensor_windows, "sensor windows")
      ->capture_default_str();
  cmd->add_option("--peer", a->peer, "auto | none")
      ->check(CLI::IsMember({"auto", "none"}))
      ->capture_default_str();
  cmd->add_option("--source-dir", a->options.source_dir, "mliot source tree (for bench/peers/)");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    a->options.peer = a->peer != "none";
    return PrintBenchReport(bench::RunFeaturesBench(a->options), a->flags);
  };
}

struct IotArgs {
  bench::IotBenchOptions options;
  std::string peer = "auto";
  BenchFlags flags;
};

void PrintIotRows(const nlohmann::json& report) {
  for (const nlohmann::json& r : report["rows"]) {
    std::printf("%-16s %-26s accuracy %.3f  p50 %7.3f ms  train %6.1f s\n",
                r.value("dataset", "").c_str(), r.value("system", "").c_str(),
                r.value("accuracy", 0.0), r.value("latency_ms_p50", 0.0), r.value("train_s", 0.0));
  }
}

Runner AddIot(CLI::App* bench) {
  auto a = std::make_shared<IotArgs>();
  CLI::App* cmd =
      bench->add_subcommand("iot", "the paper's Table 4 on real audio and sensor data, with peers");
  a->flags.Add(
      cmd, "DCASE only, an 8 s budget", [a] { bench::MakeQuick(a->options); }, &a->options.repeat);
  cmd->add_option("--data-dir", a->options.data_dir, "holds dcase2016-task2/ and sp-sw-har/")
      ->capture_default_str();
  cmd->add_option("--budget-s", a->options.budget_s, "training budget per system")
      ->capture_default_str();
  cmd->add_option("--datasets", a->options.datasets, "dcase2016-task2, sp-sw-har (default: both)")
      ->delimiter(',');
  cmd->add_option("--work-dir", a->options.work_dir,
                  "splits, bundles, feature files (default: temporary)");
  cmd->add_option("--peer", a->peer, "auto | none")
      ->check(CLI::IsMember({"auto", "none"}))
      ->capture_default_str();
  cmd->add_option("--source-dir", a->options.source_dir, "mliot source tree (for bench/peers/)");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    a->options.peer = a->peer != "none";
    absl::StatusOr<nlohmann::json> report = bench::RunIotBench(a->options);
    if (report.ok() && !a->flags.json) {
      PrintIotRows(*report);
      return 0;
    }
    return PrintBenchReport(report, a->flags);
  };
}

struct SchedulerArgs {
  bench::SchedulerBenchOptions options;
  BenchFlags flags;
};

Runner AddScheduler(CLI::App* bench) {
  auto a = std::make_shared<SchedulerArgs>();
  bench::SchedulerBenchOptions& o = a->options;
  CLI::App* cmd = bench->add_subcommand(
      "scheduler", "placement latency and heartbeat cost with simulated nodes");
  a->flags.Add(
      cmd, "200 nodes to place on, 500 heart-beating for 2 s",
      [a] { bench::MakeQuick(a->options); }, &a->options.repeat);
  cmd->add_option("--nodes", o.nodes, "registered nodes for placement")->capture_default_str();
  cmd->add_option("--heartbeat-nodes", o.heartbeat_nodes, "nodes heart-beating at 1 Hz")
      ->capture_default_str();
  cmd->add_option("--seconds", o.seconds, "heartbeat measurement window")->capture_default_str();
  cmd->add_option("--warmup-s", o.warmup_s, "heart-beating before the window (not measured)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--connections", o.connections,
                  "TCP connections of all simulated nodes (0: one per node, as deployed)")
      ->capture_default_str();
  cmd->add_option("--client-nice", o.client_nice, "niceness of the simulated nodes' threads")
      ->capture_default_str();
  cmd->add_option("--tasks", o.tasks, "tasks submitted to the heart-beating nodes' coordinator")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--placements", o.placements, "placements to time")->capture_default_str();
  cmd->add_option("--simulate-nodes", o.simulate_nodes, "internal: simulate nodes FROM:TO")
      ->group("");
  cmd->add_option("--coordinator", o.coordinator, "internal: with --simulate-nodes")->group("");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    if (!a->options.simulate_nodes.empty()) {
      absl::Status s = bench::RunSimulatedNodes(a->options);
      return s.ok() ? 0 : Fail(s);
    }
    return PrintBenchReport(bench::RunSchedulerBench(a->options), a->flags);
  };
}

struct PaperArgs {
  bench::PaperBenchOptions options;
  BenchFlags flags;
};

Runner AddPaper(CLI::App* bench) {
  auto a = std::make_shared<PaperArgs>();
  bench::PaperBenchOptions& o = a->options;
  CLI::App* cmd = bench->add_subcommand(
      "paper", "the MLIoT paper's evaluation, figure by figure, with its claims");
  // One run each: an experiment's claims compare within the run (fig8 alternates per window).
  a->flags.Add(
      cmd, "image data only, small sizes and budgets", [a] { a->options.quick = true; }, nullptr);
  std::vector<std::string> names = bench::PaperExperiments();
  names.push_back("all");
  cmd->add_option("--experiment", o.experiment, "NAME: " + absl::StrJoin(names, " "))->required();
  cmd->add_option("--out", o.out_dir, "NAME.json and NAME.png go here")->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, "holds dcase2016-task2/ and sp-sw-har/")
      ->capture_default_str();
  cmd->add_option("--work-dir", o.work_dir, "splits and bundles (default: temporary)");
  cmd->add_option("--source-dir", o.source_dir,
                  "mliot source tree (for bench/peers/plot_paper.py)");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    return PrintBenchReport(bench::RunPaperBench(a->options), a->flags);
  };
}

struct FootprintArgs {
  bench::FootprintBenchOptions options;
  BenchFlags flags;
};

Runner AddFootprint(CLI::App* bench) {
  auto a = std::make_shared<FootprintArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "footprint", "memory, start time and mapped libraries of every mliot process role");
  a->flags.Add(
      cmd, "2 starts per role, a 3 s training budget", [a] { bench::MakeQuick(a->options); },
      &a->options.repeat);
  cmd->add_option("--train-budget-s", a->options.train_budget_s, "budget of the training worker's task")
      ->capture_default_str();
  cmd->add_option("--work-dir", a->options.work_dir, "task folders and logs (default: temporary)");
  cmd->add_option("--binary", a->options.binary, "the mliot binary to measure (default: this one), e.g. an older build");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    return PrintBenchReport(bench::RunFootprintBench(a->options), a->flags);
  };
}

struct ServingArgs {
  bench::ServingBenchOptions options;
  BenchFlags flags;
};

Runner AddServing(CLI::App* bench) {
  auto a = std::make_shared<ServingArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "serving", "v2 REST, v2 gRPC and mliot's gRPC on a real node, closed loop, with the Flask peer");
  a->flags.Add(
      cmd, "1,000 rows, a 5 s budget, 1 s per cell, one round, no peer", [a] { bench::MakeQuick(a->options); }, nullptr);
  cmd->add_option("--train-rows", a->options.train_rows, "Fashion-MNIST training rows")->capture_default_str();
  cmd->add_option("--budget-s", a->options.budget_s, "training budget")->capture_default_str();
  cmd->add_option("--concurrency", a->options.concurrency, "closed-loop clients per cell")->capture_default_str();
  cmd->add_option("--seconds", a->options.seconds, "seconds per cell")->capture_default_str();
  cmd->add_option("--repeats", a->options.repeats, "interleaved rounds (median and range)")->capture_default_str();
  cmd->add_flag("!--no-peer", a->options.peer, "skip the Flask peer");
  cmd->add_option("--work-dir", a->options.work_dir, "data directories and logs (default: temporary)");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    return PrintBenchReport(bench::RunServingBench(a->options), a->flags);
  };
}

struct LifecycleArgs {
  bench::LifecycleBenchOptions options;
  BenchFlags flags;
};

Runner AddLifecycle(CLI::App* bench) {
  auto a = std::make_shared<LifecycleArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "lifecycle", "guarded promotion, rollback under load and retention on a real coordinator and node");
  a->flags.Add(
      cmd, "2,000 rows, an 8 s budget, 400 feedback rows, 2 rollbacks, 4 adaptations, keep 2",
      [a] { bench::MakeQuick(a->options); }, nullptr);
  cmd->add_option("--train-rows", a->options.train_rows, "Fashion-MNIST training rows")->capture_default_str();
  cmd->add_option("--budget-s", a->options.budget_s, "training budget")->capture_default_str();
  cmd->add_option("--feedback-rows", a->options.feedback_rows, "rows of poisoned, then of correct feedback")
      ->capture_default_str();
  cmd->add_option("--rollbacks", a->options.rollbacks, "rollbacks under predict load")->capture_default_str();
  cmd->add_option("--adaptations", a->options.adaptations, "adaptations before retention is checked")
      ->capture_default_str();
  cmd->add_option("--keep", a->options.keep, "the task's versions.keep")->capture_default_str();
  cmd->add_option("--work-dir", a->options.work_dir, "data directories and logs (default: temporary)");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    return PrintBenchReport(bench::RunLifecycleBench(a->options), a->flags);
  };
}

Runner AddList(CLI::App* bench) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = bench->add_subcommand("list", "every benchmark: what it measures, its targets");
  cmd->add_flag("--json", *json, "print one JSON object as the last stdout line");
  return [json, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    nlohmann::json list = nlohmann::json::array();
    for (const bench::BenchmarkInfo& b : bench::Benchmarks()) {
      list.push_back({{"name", b.name}, {"measures", b.measures}, {"targets", b.targets}});
      if (!*json) std::printf("%-14s %s\n", b.name.c_str(), b.measures.c_str());
    }
    if (*json) PrintJson({{"benchmarks", list}});
    return 0;
  };
}

}  // namespace

Runner AddBenchCommand(CLI::App& app) {
  CLI::App* bench = app.add_subcommand(
      "bench", "benchmarks (bench list: every one, what it measures, its targets)");
  bench->require_subcommand(1);
  std::vector<Runner> runners = {AddEngine(bench), AddFeatures(bench), AddIot(bench),
                                 AddPaper(bench), AddScheduler(bench), AddFootprint(bench),
                                 AddLifecycle(bench), AddServing(bench)};
  for (Runner& r : AddDataPathBenchCommands(bench)) runners.push_back(std::move(r));
  runners.push_back(AddList(bench));
  return [runners]() -> int {
    for (const Runner& r : runners) {
      if (int rc = r(); rc >= 0) return rc;
    }
    return 2;
  };
}

}  // namespace mliot::cli
