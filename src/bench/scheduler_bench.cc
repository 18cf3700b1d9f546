#include "bench/scheduler_bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/kit.h"
#include "common/clock.h"
#include "auth/secrets.h"
#include "common/status_util.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/stats.h"
#include "coord/node_registry.h"
#include "coord/placement.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "node/supervisor.h"

namespace mliot::bench {
namespace {

void Say(const std::string& line) { Progress("scheduler", line); }

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

struct SimProcess {
  pid_t pid = 0;
  FILE* to = nullptr;    // its stdin
  FILE* from = nullptr;  // its stdout
};

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One line without its newline; empty at end of file.
std::string ReadLine(FILE* in) {
  char buf[256];
  if (std::fgets(buf, sizeof(buf), in) == nullptr) return "";
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

absl::StatusOr<nlohmann::json> RunOnce(const SchedulerBenchOptions& a) {
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
    const Placement placement =
        Place(registry.Candidates(counts), require, prefer, TaskProfile{p % 2 == 0, 60});
    if (p >= 0)
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    if (placement.accepted && p >= 0) ++counts[placement.node];
  }
  Say(absl::StrFormat("placement over %d nodes: p50 %.3f ms, p99 %.3f ms", a.nodes,
                      Percentile(ms, 0.5), Percentile(ms, 0.99)));

  // ---- heartbeats against a real coordinator process, from node processes
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("mliot-bench-sched-", getpid()))
          .string();
  std::filesystem::create_directories(dir);
  const std::string address = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
  const std::string log = dir + "/coordinator.log";
  SpawnOptions coordinator;
  coordinator.args = {SelfExe(), "coordinator", "--listen", address, "--data-dir", dir + "/coord"};
  coordinator.stderr_path = log;
  absl::StatusOr<pid_t> spawned = Spawn(coordinator);
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
  auto stop_coordinator = [&] {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  };
  // Its credentials (src/auth/): the admin token for this process, the join
  // token for the simulated nodes (inherited through the environment).
  const std::string admin_file = dir + "/coord/admin.token";
  for (int i = 0; i < 200 && !std::filesystem::exists(admin_file); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  absl::StatusOr<std::string> admin = auth::ReadSecretFile(admin_file);
  if (!admin.ok()) {
    stop_coordinator();
    return admin.status();
  }
  setenv("MLIOT_JOIN_TOKEN_FILE", (dir + "/coord/join.token").c_str(), 1);
  {
    auto channel = *MakeChannel(address, TlsOptions{}, DefaultChannelArguments(), *admin);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListNodesResponse resp;
    if (!v1::Coordinator::NewStub(channel)->ListNodes(&ctx, v1::ListNodesRequest{}, &resp).ok()) {
      stop_coordinator();
      return absl::UnavailableError(absl::StrCat("the coordinator did not answer; see ", log));
    }
  }
  // One connection per simulated node as deployed (or --connections in all),
  // spread over node processes of at most kNodesPerProcess nodes: one gRPC
  // client process stops keeping up somewhere between 3,000 and 5,000
  // connections on this machine, where the coordinator does not.
  constexpr int kNodesPerProcess = 2500;
  const int connections =
      a.connections > 0 ? std::min(a.connections, a.heartbeat_nodes) : a.heartbeat_nodes;
  const int processes = std::max(
      1, std::min(connections, (a.heartbeat_nodes + kNodesPerProcess - 1) / kNodesPerProcess));
  std::vector<SimProcess> sims;
  for (int p = 0; p < processes; ++p) {
    const int from = static_cast<int>(static_cast<int64_t>(a.heartbeat_nodes) * p / processes);
    const int to = static_cast<int>(static_cast<int64_t>(a.heartbeat_nodes) * (p + 1) / processes);
    const int conns =
        std::max(1, static_cast<int>(static_cast<int64_t>(connections) * (p + 1) / processes -
                                     static_cast<int64_t>(connections) * p / processes));
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      stop_coordinator();
      return absl::UnavailableError("pipe failed");
    }
    SimProcess sim;
    SpawnOptions nodes;
    nodes.args = {SelfExe(),
                  "bench",
                  "scheduler",
                  "--simulate-nodes",
                  absl::StrCat(from, ":", to),
                  "--coordinator",
                  address,
                  "--heartbeat-nodes",
                  std::to_string(a.heartbeat_nodes),
                  "--connections",
                  std::to_string(conns),
                  "--seconds",
                  absl::StrCat(a.seconds),
                  "--warmup-s",
                  absl::StrCat(a.warmup_s),
                  "--client-nice",
                  std::to_string(a.client_nice)};
    nodes.stdin_fd = to_child[0];
    nodes.stdout_fd = from_child[1];
    absl::StatusOr<pid_t> started = Spawn(nodes);
    if (!started.ok()) {
      stop_coordinator();
      return started.status();
    }
    sim.pid = *started;
    close(to_child[0]);
    close(from_child[1]);
    sim.to = fdopen(to_child[1], "w");
    sim.from = fdopen(from_child[0], "r");
    sims.push_back(sim);
  }
  // Each node process registers its nodes, says "registered", waits for the
  // start time, heart-beats, and answers "<sent in the window> <failed>".
  bool ready = true;
  for (SimProcess& sim : sims) ready = ReadLine(sim.from) == "registered" && ready;
  // The nodes heart-beat for --warmup-s and then --seconds; the cost is
  // measured over the second part only. Right after 10,000 nodes joined, the
  // first two seconds of heart-beating cost the coordinator 0.45-0.80 of a
  // core (with 5-15x the page faults of later seconds) before it levels
  // off: a one-off of a mass join, not the cost of every second.
  const int64_t start_ms = UnixMillis() + 200;
  const int64_t window_ms = start_ms + int64_t{1000} * a.warmup_s;
  const int64_t end_ms = window_ms + static_cast<int64_t>(a.seconds * 1000);
  for (SimProcess& sim : sims) {
    std::fprintf(sim.to, "%lld\n", static_cast<long long>(start_ms));
    std::fflush(sim.to);
  }
  // Tasks placed on the simulated nodes (best effort spreads them) while
  // they heart-beat through the warm-up: each heartbeat then carries its
  // node's assignments back, as deployed.
  if (ready && a.tasks > 0) {
    auto abandon = [&] {
      for (SimProcess& sim : sims) {
        kill(sim.pid, SIGKILL);
        waitpid(sim.pid, nullptr, 0);
      }
      stop_coordinator();
      std::filesystem::remove_all(dir);
    };
    auto channel = *MakeChannel(address, TlsOptions{}, DefaultChannelArguments(), *admin);
    auto stub = v1::Coordinator::NewStub(channel);
    const auto started = std::chrono::steady_clock::now();
    for (int t = 0; t < a.tasks; ++t) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::SubmitRequest request;
      request.set_spec_yaml(
          absl::StrCat("name: bench-task-", t, "\ndata: fashion-mnist:train:1000\n"));
      v1::SubmitResponse response;
      const grpc::Status st = stub->Submit(&ctx, request, &response);
      if (!st.ok() || !response.accepted()) {
        abandon();
        return absl::InternalError(absl::StrCat("submitting bench-task-", t, ": ",
                                                st.ok() ? "refused" : st.error_message()));
      }
    }
    Say(absl::StrFormat(
        "%d tasks submitted in %.1f s", a.tasks,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()));
    if (UnixMillis() > window_ms) {
      abandon();
      return absl::DeadlineExceededError(absl::StrCat(
          "submitting ", a.tasks, " tasks took longer than --warmup-s ", a.warmup_s, "; raise it"));
    }
  }
  // The coordinator's CPU, sampled every second from the start (warm-up
  // included; printed as progress so that the transient is visible).
  uint64_t ticks0 = 0, ticks1 = 0;
  double rss = 0;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  {
    ProcessUsage(pid, &ticks1, &rss);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::max<int64_t>(0, start_ms - UnixMillis())));
    std::string timeline;
    for (int64_t at = start_ms; at < end_ms;) {
      const uint64_t before = ticks1;
      if (at == window_ms) ticks0 = before;
      const int64_t next = std::min(end_ms, at + 1000);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::max<int64_t>(0, next - UnixMillis())));
      ProcessUsage(pid, &ticks1, &rss);
      absl::StrAppend(&timeline, timeline.empty() ? "" : " ",
                      absl::StrFormat("%.2f", static_cast<double>(ticks1 - before) / hz /
                                                  ((next - at) / 1000.0)));
      at = next;
    }
    Say(absl::StrCat("coordinator CPU, each second of heart-beating (the first ", a.warmup_s,
                     " not measured): ", timeline));
  }
  int64_t sent = 0, failed = 0;
  for (SimProcess& sim : sims) {
    long long s = 0, f = 0;
    if (std::sscanf(ReadLine(sim.from).c_str(), "%lld %lld", &s, &f) == 2) {
      sent += s;
      failed += f;
    } else {
      ready = false;
    }
  }
  const double wall = static_cast<double>(end_ms - window_ms) / 1000.0;
  for (SimProcess& sim : sims) {
    std::fclose(sim.to);
    std::fclose(sim.from);
    waitpid(sim.pid, nullptr, 0);
  }
  stop_coordinator();
  std::filesystem::remove_all(dir);
  if (!ready) return absl::InternalError("a simulated node process failed");
  const double cpu_s = static_cast<double>(ticks1 - ticks0) / hz;
  const nlohmann::json out = {
      {"nodes", a.nodes},
      {"placement_ms", {{"p50", Percentile(ms, 0.5)}, {"p99", Percentile(ms, 0.99)}}},
      {"heartbeat_nodes", a.heartbeat_nodes},
      {"tasks", a.tasks},
      {"heartbeats_per_s", static_cast<double>(sent) / wall},
      {"heartbeats_failed", failed},
      {"connections", connections},
      {"node_processes", static_cast<int>(sims.size())},
      {"cpu_fraction", cpu_s / wall},
      {"coordinator_rss_mb", rss}};
  return out;
}

// `--simulate-nodes FROM:TO`: nodes FROM..TO-1 of `--heartbeat-nodes`, in
// this process, against `--coordinator`. Protocol on stdin/stdout as above.
}  // namespace

absl::Status RunSimulatedNodes(const SchedulerBenchOptions& a) {
  int from = 0, to = 0;
  if (std::sscanf(a.simulate_nodes.c_str(), "%d:%d", &from, &to) != 2 || from < 0 || to <= from) {
    return absl::InvalidArgumentError("--simulate-nodes: expected FROM:TO");
  }
  // The simulated nodes run below the coordinator's priority: they share its
  // 2 cores here, where real nodes would run on their own machines.
  if (a.client_nice != 0) (void)setpriority(PRIO_PROCESS, 0, a.client_nice);
  // Channels get their own subchannel pool: gRPC would otherwise share one
  // connection between channels with equal arguments. Node i uses channel
  // (i - from) % connections. The arguments are the node agent's
  // (CoordinatorChannelArguments).
  const int count = to - from;
  const int connections = a.connections > 0 ? std::min(a.connections, count) : count;
  std::vector<std::unique_ptr<v1::Coordinator::Stub>> stubs;
  grpc::ChannelArguments args = CoordinatorChannelArguments();
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  for (int c = 0; c < connections; ++c) {
    stubs.push_back(v1::Coordinator::NewStub(*MakeChannel(a.coordinator, TlsOptions{}, args)));
  }
  auto stub_of = [&](int node) { return stubs[(node - from) % connections].get(); };
  // Each simulated node joins with the join token and then calls with the
  // credential it was given, as a node agent does.
  const char* join_file = std::getenv("MLIOT_JOIN_TOKEN_FILE");
  if (join_file == nullptr) return absl::InvalidArgumentError("simulated nodes: MLIOT_JOIN_TOKEN_FILE is not set");
  MLIOT_ASSIGN_OR_RETURN(const std::string join, auth::ReadSecretFile(join_file));
  std::vector<std::string> node_tokens(static_cast<size_t>(count));
  // Register, 64 calls in flight (the store serialises the writes).
  {
    struct Registration {
      grpc::ClientContext ctx;
      v1::RegisterNodeResponse resp;
      grpc::Status status;
      std::unique_ptr<grpc::ClientAsyncResponseReader<v1::RegisterNodeResponse>> reader;
      int node = 0;
    };
    constexpr int kInFlight = 64;
    grpc::CompletionQueue cq;
    std::mt19937 rng(static_cast<unsigned>(from));
    int issued = from, in_flight = 0, failed = 0;
    while (issued < to || in_flight > 0) {
      for (; issued < to && in_flight < kInFlight; ++issued, ++in_flight) {
        auto r = std::make_unique<Registration>();
        r->ctx.set_wait_for_ready(true);
        r->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        r->ctx.AddMetadata(kAuthorization, BearerValue(join));
        r->node = issued;
        v1::RegisterNodeRequest req;
        *req.mutable_info() = SimulatedNode(issued, rng);
        r->reader = stub_of(issued)->AsyncRegisterNode(&r->ctx, req, &cq);
        Registration* raw = r.release();  // owned by the queue until its tag comes back
        raw->reader->Finish(&raw->resp, &raw->status, raw);
      }
      void* tag = nullptr;
      bool ok = false;
      if (!cq.Next(&tag, &ok)) break;
      std::unique_ptr<Registration> r(static_cast<Registration*>(tag));
      --in_flight;
      if ((!ok || !r->status.ok()) && failed++ == 0) {
        Say(absl::StrCat("first failed registration: ", r->status.error_message()));
      }
      node_tokens[static_cast<size_t>(r->node - from)] = r->resp.node_token();
    }
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
    if (failed > 0) return absl::UnavailableError(absl::StrCat(failed, " registrations failed"));
  }
  std::printf("registered\n");
  std::fflush(stdout);
  long long start_ms = 0;
  if (std::sscanf(ReadLine(stdin).c_str(), "%lld", &start_ms) != 1) {
    return absl::InvalidArgumentError("simulated nodes: no start time on stdin");
  }
  // Node i heart-beats at offset i / N within every second. One thread
  // issues every call when it is due and collects the answers from one
  // completion queue, so the simulated nodes cost little CPU next to the
  // coordinator on the shared cores.
  struct Beat {
    grpc::ClientContext ctx;
    v1::HeartbeatResponse resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::HeartbeatResponse>> reader;
    bool measured = false;  // due inside the window (after the warm-up)
  };
  grpc::CompletionQueue cq;
  const int64_t warmup = static_cast<int64_t>(count) * a.warmup_s;
  const int64_t total = warmup + static_cast<int64_t>(count) * static_cast<int64_t>(a.seconds);
  int64_t issued = 0, done = 0, sent = 0, failed = 0;
  const auto begin =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(start_ms - UnixMillis());
  auto due = [&](int64_t k) {
    const int64_t second = k / count;
    const int64_t i = from + k % count;
    return begin + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(second) +
                                                     static_cast<double>(i) / a.heartbeat_nodes));
  };
  while (done < total) {
    const auto now = std::chrono::steady_clock::now();
    for (; issued < total && due(issued) <= now; ++issued) {
      const int i = static_cast<int>(from + issued % count);
      auto beat = std::make_unique<Beat>();
      beat->measured = issued >= warmup;
      beat->ctx.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(3));  // as the node agent
      v1::HeartbeatRequest req;
      req.set_node(absl::StrCat("sim-", i));
      req.mutable_metrics()->set_cpu(50);
      beat->ctx.AddMetadata(kAuthorization, BearerValue(node_tokens[static_cast<size_t>(i - from)]));
      beat->reader = stub_of(i)->AsyncHeartbeat(&beat->ctx, req, &cq);
      Beat* raw = beat.release();  // owned by the queue until its tag comes back
      raw->reader->Finish(&raw->resp, &raw->status, raw);
    }
    const auto wait =
        issued < total ? due(issued) - std::chrono::steady_clock::now() : std::chrono::seconds(5);
    void* tag = nullptr;
    bool ok = false;
    const auto deadline = std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(wait);
    if (cq.AsyncNext(&tag, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) continue;
    std::unique_ptr<Beat> beat(static_cast<Beat*>(tag));
    ++done;
    if (ok && beat->status.ok()) {
      if (beat->measured) ++sent;
    } else if (failed++ == 0) {
      Say(absl::StrCat("first failed heartbeat: ", beat->status.error_message()));
    }
  }
  std::printf("%lld %lld\n", static_cast<long long>(sent), static_cast<long long>(failed));
  std::fflush(stdout);
  // Connections stay open until the coordinator's CPU has been read: the
  // parent closes our stdin then (closing 2,500 connections is work for the
  // coordinator that is not heart-beating).
  (void)ReadLine(stdin);
  cq.Shutdown();
  return absl::OkStatus();
}

void MakeQuick(SchedulerBenchOptions& o) {
  o.nodes = 200;
  o.placements = 500;
  o.heartbeat_nodes = 500;
  o.seconds = 2;
  o.warmup_s = 1;
}

absl::StatusOr<nlohmann::json> RunSchedulerBench(const SchedulerBenchOptions& a) {
  if (a.nodes < 1 || a.heartbeat_nodes < 1 || a.placements < 1 || a.seconds <= 0) {
    return absl::InvalidArgumentError(
        "--nodes, --heartbeat-nodes, --placements and --seconds must be positive");
  }
  return RunRepeated(a.repeat, [&] { return RunOnce(a); });
}

}  // namespace mliot::bench
