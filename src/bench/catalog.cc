// Every benchmark of `mliot bench`, for `bench list`. A benchmark added to
// bench_command.cc is added here too (bench_list test checks both agree).
#include "bench/kit.h"

namespace mliot::bench {

const std::vector<BenchmarkInfo>& Benchmarks() {
  static const std::vector<BenchmarkInfo> all = {
      {"engine", "Fashion-MNIST end to end: train under a budget, accuracy and single-row latency, with the scikit-learn ensemble peer",
       {"accuracy >= the scikit-learn peer's", "predict p50 well under 1 ms"}},
      {"transport", "ingest throughput over MQTT or Kafka vs a bare loop", {"see docs/BENCHMARKS.md (Data path)"}},
      {"cache", "hit ratio and accuracy of a cache policy (lru, shade, icache) at a RAM capacity",
       {"importance-aware beats LRU in hit ratio at equal accuracy"}},
      {"stream-train", "training while a device streams the data vs training from RAM",
       {"streaming keeps up with RAM training (waiting fraction low)"}},
      {"data-parallel", "N workers with Gloo all-reduce vs one worker", {"same accuracy within tolerance, faster"}},
      {"scheduler", "placement latency and the coordinator's heartbeat cost with simulated nodes",
       {"placement p99 <= 1 ms at 1,000 nodes", "heartbeats of 10,000 nodes at 1 Hz <= 0.5 core"}},
      {"features", "log-mel and sensor_stats featurization speed on one thread, with the numpy peer on the same input",
       {"log-mel >= 1000x real time", "log-mel >= 5x the numpy peer", "sensor_stats >= 5x the numpy peer"}},
      {"iot", "the paper's Table 4 on real audio (DCASE 2016 task 2) and multimodal sensors (sp-sw-har): mliot vs "
              "scikit-learn defaults and a PyTorch CNN on the same features",
       {"accuracy >= best scikit-learn default + 3 points and >= the PyTorch CNN", "phone + watch beats either alone"}},
      {"footprint", "RSS, start-to-ready time and mapped shared libraries of every process role (cli, coordinator, node, "
                    "up, serving and training workers), median of 5 starts",
       {"mliot --help and mliot nodes <= 30 ms", "mliot up idle <= 60 MiB",
        "serving worker of the digits task <= 40 MiB, of a cnn ensemble <= 80 MiB, start to ready <= 100 ms"}},
      {"lifecycle", "model lifecycle on a real coordinator and node (Fashion-MNIST, guarded promotion): poisoned and "
                    "correct feedback, rollback under predict load, retention after many adaptations",
       {"poisoned feedback never promoted, served accuracy does not drop", "correct feedback promoted within 30 s",
        "rollback: 0 failed requests, the old version serving within 1 s",
        "keep K: at most K versions plus serving/pinned/shadow on node and coordinator"}},
      {"serving", "one task on a real node: closed-loop clients at concurrency 1, 4, 16 over v2 REST, v2 gRPC and "
                  "mliot's gRPC, and the Flask + scikit-learn peer over REST",
       {"v2 REST single-row p50 <= 0.5 ms at concurrency 1", "v2 gRPC within 20 % of mliot's gRPC",
        "requests/s at concurrency 16 >= 20x the Flask peer"}},
      {"paper", "the MLIoT paper's evaluation (section 6) figure by figure: each experiment states the paper's claims "
                "and whether they held here (so far: fig5, DR x HPO)",
       {"at least 80 % of the paper's comparative claims hold", "every claim that does not is explained"}},
  };
  return all;
}

}  // namespace mliot::bench
