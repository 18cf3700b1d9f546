// mliot bench scheduler: placement latency with many registered nodes, and
// the coordinator's CPU cost of many nodes heart-beating at 1 Hz.
//
//   placement_ms      Place() over `--nodes` simulated nodes (the same
//                     candidates + policy + ranking path Submit takes),
//                     for a mix of require/prefer policies
//   heartbeats_per_s  achieved rate of `--heartbeat-nodes` simulated nodes,
//                     each heart-beating once a second over loopback gRPC to
//                     a real `mliot coordinator` process
//   cpu_fraction      that process's CPU time / wall time (1.0 = one core)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_util.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "common/grpc_util.h"
#include "common/stats.h"
#include "coord/node_registry.h"
#include "coord/placement.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "node/supervisor.h"

extern char** environ;

namespace mliot::cli {
namespace {

v1::NodeInfo SimulatedNode(int i, std::mt19937& rng) {
  static const int kCores[] = {2, 4, 4, 8, 16};
  v1::NodeInfo info;
  info.set_name(absl::StrCat("sim-", i));
  info.set_cores(kCores[rng() % 5]);
  info.set_memory_mb(1024.0 * (1 << (rng() % 6)));
  info.set_gpu(rng() % 10 == 0);
  info.set_arch(rng() % 4 == 0 ? "aarch64" : "x86_64");
  info.set_rtt_ms(1 + rng() % 100);
  (*info.mutable_labels())["locality"] = rng() % 3 == 0 ? "cloud" : "local";
  (*info.mutable_labels())["room"] = absl::StrCat("r", rng() % 20);
  info.mutable_benchmark()->set_image_predict_ms(0.1 + (rng() % 100) / 100.0);
  info.mutable_benchmark()->set_sensor_predict_ms(0.02 + (rng() % 20) / 100.0);
  info.mutable_benchmark()->set_train_speed(0.5 + (rng() % 30) / 10.0);
  return info;
}

struct BenchArgs {
  int nodes = 1000;
  int heartbeat_nodes = 10000;
  double seconds = 5;
  int placements = 2000;
  bool json = false;
};

int Run(const BenchArgs& a) {
  // ---- placement
  FakeClock clock;
  NodeRegistry registry(&clock, 5);
  std::mt19937 rng(7);
  std::map<std::string, int> counts;
  for (int i = 0; i < a.nodes; ++i) {
    const v1::NodeInfo info = SimulatedNode(i, rng);
    registry.Register(info);
    v1::HeartbeatRequest hb;
    hb.set_node(info.name());
    hb.mutable_metrics()->set_cpu(rng() % 100);
    hb.mutable_metrics()->set_mem(rng() % 100);
    hb.mutable_metrics()->set_load((rng() % 400) / 100.0);
    registry.Heartbeat(hb);
    counts[info.name()] = static_cast<int>(rng() % 4);
  }
  const std::vector<std::pair<std::string, std::string>> policies = {
      {"", "best_effort"},
      {"locality == 'local' and latency_ms <= 40", "max(memory_mb)"},
      {"cores atleast 4 or gpu", "min(load)"},
      {"labels.room == 'r3' and not gpu", "best_effort"}};
  std::vector<double> ms;
  constexpr int kWarmup = 100;  // first placements fault in the allocator's pages; not timed
  for (int p = -kWarmup; p < a.placements; ++p) {
    const auto& [req, pref] = policies[(p + kWarmup) % policies.size()];
    const auto start = std::chrono::steady_clock::now();
    const RequireExpr require = *RequireExpr::Parse(req);
    const PreferRule prefer = *PreferRule::Parse(pref);
    const Placement placement = Place(registry.Candidates(counts), require, prefer, TaskProfile{p % 2 == 0, 60});
    if (p >= 0) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (placement.accepted && p >= 0) ++counts[placement.node];
  }
  Progress(absl::StrFormat("placement over %d nodes: p50 %.3f ms, p99 %.3f ms", a.nodes, Percentile(ms, 0.5),
                           Percentile(ms, 0.99)));

  // ---- heartbeats against a real coordinator process
  const std::string dir = (std::filesystem::temp_directory_path() / absl::StrCat("mliot-bench-sched-", getpid())).string();
  std::filesystem::create_directories(dir);
  const std::string address = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
  std::vector<std::string> args = {SelfExe(), "coordinator", "--listen", address, "--data-dir", dir + "/coord"};
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = dir + "/coordinator.log";
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    return Fail(absl::UnavailableError("cannot start the coordinator"));
  }
  posix_spawn_file_actions_destroy(&actions);
  auto channel = *MakeChannel(address, TlsOptions{});
  auto stub = v1::Coordinator::NewStub(channel);
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // Register the nodes (several threads; the store serialises the writes).
  const int threads = 16;
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::mt19937 local(static_cast<unsigned>(t));
        for (int i = t; i < a.heartbeat_nodes; i += threads) {
          grpc::ClientContext ctx;
          v1::RegisterNodeRequest req;
          *req.mutable_info() = SimulatedNode(i, local);
          v1::RegisterNodeResponse resp;
          (void)stub->RegisterNode(&ctx, req, &resp);
        }
      });
    }
    for (std::thread& t : pool) t.join();
  }
  Progress(absl::StrCat("registered ", a.heartbeat_nodes, " simulated nodes; heart-beating for ", a.seconds, "s"));
  uint64_t ticks0 = 0;
  double rss = 0;
  ProcessUsage(pid, &ticks0, &rss);
  std::atomic<int64_t> sent{0}, failed{0};
  const auto begin = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        // Node i beats at offsets i / N within every second.
        for (int second = 0; second < static_cast<int>(a.seconds); ++second) {
          for (int i = t; i < a.heartbeat_nodes; i += threads) {
            const auto due = begin + std::chrono::duration<double>(second + static_cast<double>(i) / a.heartbeat_nodes);
            std::this_thread::sleep_until(due);
            grpc::ClientContext ctx;
            v1::HeartbeatRequest req;
            req.set_node(absl::StrCat("sim-", i));
            req.mutable_metrics()->set_cpu(50);
            v1::HeartbeatResponse resp;
            if (stub->Heartbeat(&ctx, req, &resp).ok()) sent.fetch_add(1);
            else failed.fetch_add(1);
          }
        }
      });
    }
    for (std::thread& t : pool) t.join();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  uint64_t ticks1 = 0;
  ProcessUsage(pid, &ticks1, &rss);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  const double cpu_s = static_cast<double>(ticks1 - ticks0) / static_cast<double>(sysconf(_SC_CLK_TCK));
  const nlohmann::json out = {
      {"nodes", a.nodes},
      {"placement_ms", {{"p50", Percentile(ms, 0.5)}, {"p99", Percentile(ms, 0.99)}}},
      {"heartbeat_nodes", a.heartbeat_nodes},
      {"heartbeats_per_s", static_cast<double>(sent.load()) / wall},
      {"heartbeats_failed", failed.load()},
      {"cpu_fraction", cpu_s / wall},
      {"coordinator_rss_mb", rss}};
  if (a.json) PrintJson(out);
  else std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

void AddBenchSchedulerCommand(CLI::App* bench, std::function<int()>* runner) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = bench->add_subcommand("scheduler", "placement latency and heartbeat cost with simulated nodes");
  cmd->add_option("--nodes", args->nodes, "registered nodes for placement")->capture_default_str();
  cmd->add_option("--heartbeat-nodes", args->heartbeat_nodes, "nodes heart-beating at 1 Hz")->capture_default_str();
  cmd->add_option("--seconds", args->seconds, "heartbeat measurement window")->capture_default_str();
  cmd->add_option("--placements", args->placements, "placements to time")->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  *runner = [args, cmd]() { return cmd->parsed() ? Run(*args) : -1; };
}

}  // namespace mliot::cli
