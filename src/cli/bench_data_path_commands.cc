// `mliot bench transport | cache | stream-train | data-parallel`: the data
// path's benchmarks (src/bench/), their flags and their exit codes.
#include <memory>

#include "CLI/CLI.hpp"
#include "bench/cache_bench.h"
#include "bench/data_parallel_bench.h"
#include "bench/kit.h"
#include "bench/stream_train_bench.h"
#include "bench/transport_bench.h"
#include "cli/bench_flags.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "data/source.h"

namespace mliot::cli {
namespace {

struct TransportArgs {
  bench::TransportBenchOptions options;
  BenchFlags flags;
};

Runner AddTransport(CLI::App* bench) {
  auto a = std::make_shared<TransportArgs>();
  CLI::App* cmd =
      bench->add_subcommand("transport", "ingest throughput over MQTT or Kafka vs a bare loop");
  a->flags.Add(
      cmd, "5,000 samples", [a] { bench::MakeQuick(a->options); }, &a->options.repeat);
  cmd->add_option("--broker", a->options.broker, "mqtt | kafka")
      ->check(CLI::IsMember({"mqtt", "kafka"}))
      ->capture_default_str();
  cmd->add_option("--count", a->options.count, "samples")->capture_default_str();
  cmd->add_option("--size", a->options.size, "payload bytes per sample")->capture_default_str();
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    absl::StatusOr<nlohmann::json> r = bench::RunTransportBench(a->options);
    return PrintBenchReport(r, a->flags, r.ok() && bench::Largest(*r, "lost") == 0);
  };
}

struct CacheArgs {
  bench::CacheBenchOptions options;
  BenchFlags flags;
};

Runner AddCache(CLI::App* bench) {
  auto a = std::make_shared<CacheArgs>();
  bench::CacheBenchOptions& o = a->options;
  CLI::App* cmd =
      bench->add_subcommand("cache", "hit ratio and accuracy of a cache policy at a RAM capacity");
  a->flags.Add(
      cmd, "2,000 rows, 2 epochs", [a] { bench::MakeQuick(a->options); }, &a->options.repeat);
  cmd->add_option("--policy", o.policy, "lru | shade | icache")
      ->check(CLI::IsMember({"lru", "shade", "icache"}))
      ->capture_default_str();
  cmd->add_option("--capacity", o.capacity, "RAM tier as a fraction of the data")
      ->capture_default_str();
  cmd->add_option("--data", o.data, "data spec: " + DataSpecForms())->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "training epochs")->capture_default_str();
  cmd->add_option("--sampler", o.sampler,
                  "uniform | importance (default: uniform for lru, else importance)")
      ->check(CLI::IsMember({"uniform", "importance"}));
  cmd->add_option("--disk-capacity", o.disk_capacity, "disk tier as a fraction of the data")
      ->capture_default_str();
  AddSgdModelFlags(cmd, &o.model);
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    return PrintBenchReport(bench::RunCacheBench(a->options), a->flags);
  };
}

struct StreamTrainArgs {
  bench::StreamTrainBenchOptions options;
  BenchFlags flags;
};

Runner AddStreamTrain(CLI::App* bench) {
  auto a = std::make_shared<StreamTrainArgs>();
  bench::StreamTrainBenchOptions& o = a->options;
  CLI::App* cmd = bench->add_subcommand(
      "stream-train", "train while a device streams the data, vs training from RAM");
  a->flags.Add(
      cmd, "2,000 rows, one epoch of the mlp", [a] { bench::MakeQuick(a->options); },
      &a->options.repeat);
  cmd->add_option("--broker", o.broker, "mqtt | kafka")
      ->check(CLI::IsMember({"mqtt", "kafka"}))
      ->capture_default_str();
  cmd->add_option("--data", o.data, "data spec: " + DataSpecForms())->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "training epochs")->capture_default_str();
  cmd->add_option("--rate", o.rate, "device samples per second, or max")->capture_default_str();
  cmd->add_option("--capacity", o.capacity, "RAM tier as a fraction of the data")
      ->capture_default_str();
  cmd->add_option("--device-batch", o.device_batch, "samples the device packs into one message")
      ->capture_default_str();
  cmd->add_option("--ingest-nice", o.ingest_nice, "niceness added to the ingest threads (0: none)")
      ->capture_default_str();
  cmd->add_option("--device-nice", o.device_nice,
                  "nice level of the device simulator process (0: none)")
      ->capture_default_str();
  AddSgdModelFlags(cmd, &o.model);
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    absl::StatusOr<nlohmann::json> r = bench::RunStreamTrainBench(a->options);
    return PrintBenchReport(r, a->flags, r.ok() && bench::Largest(*r, "ingest.lost") == 0);
  };
}

struct DataParallelArgs {
  bench::DataParallelBenchOptions options;
  bench::DataParallelWorker worker;  // set on the worker processes the benchmark starts
  BenchFlags flags;
};

Runner AddDataParallel(CLI::App* bench) {
  auto a = std::make_shared<DataParallelArgs>();
  bench::DataParallelBenchOptions& o = a->options;
  CLI::App* cmd =
      bench->add_subcommand("data-parallel", "N workers with Gloo all-reduce vs one worker");
  a->flags.Add(
      cmd, "4,000 rows, one epoch", [a] { bench::MakeQuick(a->options); }, &a->options.repeat);
  cmd->add_option("--workers", o.workers, "worker processes")->capture_default_str();
  cmd->add_option("--data", o.data, "data spec: " + DataSpecForms())->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "training epochs")->capture_default_str();
  AddSgdModelFlags(cmd, &o.model);  // --batch: the global batch, split over the workers
  cmd->add_option("--broker", o.broker,
                  "mqtt | kafka: each worker gets its share from the broker (shared subscription / "
                  "consumer group)")
      ->check(CLI::IsMember({"mqtt", "kafka"}));
  cmd->add_option("--rank", a->worker.rank, "(internal) run as this worker rank")->group("");
  cmd->add_option("--store", a->worker.store, "(internal) rendezvous and result directory")
      ->group("");
  cmd->add_option("--broker-uri", a->worker.broker_uri, "(internal) the workers' topic")->group("");
  return [a, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    if (a->worker.rank >= 0) {
      absl::Status s = bench::RunDataParallelWorker(a->options, a->worker);
      return s.ok() ? 0 : Fail(s);
    }
    absl::StatusOr<nlohmann::json> r = bench::RunDataParallelBench(a->options);
    return PrintBenchReport(r, a->flags, r.ok() && (*r)["replicas_identical"].get<bool>());
  };
}

}  // namespace

std::vector<Runner> AddDataPathBenchCommands(CLI::App* bench) {
  return {AddTransport(bench), AddCache(bench), AddStreamTrain(bench), AddDataParallel(bench)};
}

}  // namespace mliot::cli
