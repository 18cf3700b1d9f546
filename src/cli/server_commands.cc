// Long-running roles: `mliot coordinator`, `mliot node`, `mliot worker` and
// the embedded default `mliot up` (coordinator + one node in one process).
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/cluster_flags.h"
#include "common/process.h"
#include "cli/commands.h"
#include "cli/demo.h"
#include "node/benchmark.h"
#include "common/broker_uri.h"
#include "auth/authorizer.h"
#include "auth/token_set.h"
#include "common/grpc_util.h"
#include "coord/coordinator.h"
#include "node/agent.h"
#include "serve/serving_service.h"
#include "stream/infer_topic.h"
#include "stream/stream_task.h"
#include "testbed/delay_proxy.h"
#include "testbed/testbed.h"
#include "train/task_spec.h"
#include "train/train_worker.h"

namespace mliot::cli {
namespace {

void WaitForStop() {
  const std::atomic<bool>& stop = StopOnSignal();
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// "WHO: Open Inference Protocol URL/v2 (gRPC HOST:PORT), metrics URL" on stderr.
void PrintEndpoints(const std::string& who, const v1::Endpoints& e) {
  std::fprintf(stderr, "%s: Open Inference Protocol %s/v2 (gRPC %s), metrics %s\n", who.c_str(), e.v2_http().c_str(),
               e.v2_grpc().c_str(), e.metrics().c_str());
}

struct CoordinatorArgs {
  CoordinatorOptions options;
};

int RunCoordinator(CoordinatorArgs& a) {
  StopOnSignal();
  if (absl::Status s = CheckPlaintextBind(a.options.listen, a.options.tls, "coordinator"); !s.ok()) return Fail(s);
  if (!a.options.http_listen.empty()) {
    if (absl::Status s = CheckPlaintextBind(a.options.http_listen, a.options.tls, "coordinator"); !s.ok()) return Fail(s);
  }
  Coordinator coordinator(a.options);
  if (absl::Status s = coordinator.Start(); !s.ok()) return Fail(s);
  std::fprintf(stderr, "coordinator listening on %s, state in %s\n", coordinator.address().c_str(),
               a.options.data_dir.c_str());
  PrintEndpoints("coordinator", coordinator.endpoints());
  WaitForStop();
  coordinator.Shutdown();
  return 0;
}

struct NodeArgs {
  AgentOptions options;
  std::string labels;
  bool exit_with_parent = false;
};

int RunNode(NodeArgs& a) {
  if (a.exit_with_parent) {
    // An emulated device dies with `mliot up --testbed`, even one killed
    // with SIGKILL, rather than heart-beating to nobody.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 1;
  }
  const std::atomic<bool>& stop = StopOnSignal();
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseLabels(a.labels);
  if (!labels.ok()) return Fail(labels.status());
  a.options.labels = *labels;
  a.options.self_exe = SelfExe();
  if (absl::Status s = CheckPlaintextBind(a.options.listen, a.options.tls, "node"); !s.ok()) return Fail(s);
  if (!a.options.http_listen.empty()) {
    if (absl::Status s = CheckPlaintextBind(a.options.http_listen, a.options.tls, "node"); !s.ok()) return Fail(s);
  }
  NodeAgent agent(a.options);
  if (absl::Status s = agent.Start(); !s.ok()) return Fail(s);
  agent.Run(stop);
  return 0;
}

struct WorkerArgs {
  std::string role;
  std::string task_dir;
  std::string listen = "127.0.0.1:0";
  TlsOptions tls;
  int threads = 0;
  double added_rtt_ms = 0;
  std::string benchmark = "quick";
};

int RunWorker(WorkerArgs& a) {
  // A worker dies with its node agent: a device that dies takes its workers
  // with it, and an agent killed with SIGKILL must not leave orphans serving.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;  // the agent was already gone
  const std::atomic<bool>& stop = StopOnSignal();
  if (a.role == "benchmark") {
    // The node's device benchmark, in a child so that its reference cnn fit
    // (which loads libtorch) leaves the agent lean.
    absl::StatusOr<v1::NodeBenchmark> b = RunDeviceBenchmark(a.benchmark);
    if (!b.ok()) return Fail(b.status());
    absl::Status s = WriteFileAtomically(a.task_dir + "/benchmark.pb", b->SerializeAsString());
    return s.ok() ? 0 : Fail(s);
  }
  absl::StatusOr<std::string> yaml = ReadFile(a.task_dir + "/spec.yaml");
  if (!yaml.ok()) return Fail(yaml.status());
  absl::StatusOr<TaskSpec> spec = ParseTaskSpec(*yaml);
  if (!spec.ok()) return Fail(spec.status());
  if (a.role == "train" && spec->stream) {
    stream::StreamTaskOptions o;
    o.spec = *spec;
    o.task_dir = a.task_dir;
    o.bundle_dir = a.task_dir + "/bundle";
    o.feedback_dir = a.task_dir + "/feedback";
    o.status_path = a.task_dir + "/train.status";
    o.threads = std::max(1, a.threads);
    absl::Status s = stream::RunStreamTrainWorker(o, stop);
    return s.ok() ? 0 : Fail(s);
  }
  if (a.role == "train") {
    TrainWorkerOptions o;
    o.spec = *spec;
    o.data_spec = RelocateDataSpec(spec->data, a.task_dir + "/data");
    o.bundle_dir = a.task_dir + "/bundle";
    o.feedback_dir = a.task_dir + "/feedback";
    o.status_path = a.task_dir + "/train.status";
    o.threads = a.threads;
    absl::Status s = RunTrainWorker(o, stop);
    return s.ok() ? 0 : Fail(s);
  }
  if (a.role != "serve") return Fail(absl::InvalidArgumentError(absl::StrCat("worker role '", a.role, "': valid: train, serve, benchmark")));
  ServingService service(spec->name, a.task_dir + "/bundle", a.task_dir + "/feedback");
  service.set_stats_path(a.task_dir + "/serve.stats");
  service.set_metrics_path(a.task_dir + "/serve.metrics");
  service.set_guarded(spec->versions.guarded);
  if (absl::Status s = service.Start(); !s.ok()) return Fail(s);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(a.tls);
  if (!creds.ok()) return Fail(creds.status());
  grpc::ServerBuilder builder;
  // Clients of this task only: a token whose hash the node agent listed.
  auth::TokenSet tokens(a.task_dir + "/tokens");
  auth::AuthorizerOptions auth_options;
  auth_options.lookup = [&tokens, task = spec->name](const std::string& sha256) -> std::optional<auth::Identity> {
    if (!tokens.Contains(sha256)) return std::nullopt;
    return auth::Identity{auth::kClient, task};
  };
  auth_options.audit = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  auth::Authorizer authorizer(auth_options);
  authorizer.Install(**creds, builder);
  // Feedback carries up to ~8 MiB of rows a call (cli/client.cc), raw audio a window.
  builder.SetMaxReceiveMessageSize(64 << 20);
  int port = 0;
  builder.AddListeningPort(a.listen, *creds, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return Fail(absl::UnavailableError(absl::StrCat("cannot listen on ", a.listen)));
  const std::string host = a.listen.substr(0, a.listen.rfind(':'));
  std::string address = absl::StrCat(host, ":", port);
  // On an emulated testbed device, clients reach the worker through a delay.
  std::unique_ptr<DelayProxy> proxy;
  if (a.added_rtt_ms > 0) {
    absl::StatusOr<std::unique_ptr<DelayProxy>> started = DelayProxy::Start(address, a.added_rtt_ms, host);
    if (!started.ok()) return Fail(started.status());
    proxy = std::move(*started);
    address = proxy->address();
  }
  if (absl::Status s = WriteFileAtomically(a.task_dir + "/serve.addr", address); !s.ok()) return Fail(s);
  std::fprintf(stderr, "serving %s version %lld on %s\n", spec->name.c_str(),
               static_cast<long long>(service.version()), address.c_str());
  // A streaming task also answers prediction requests on its broker.
  std::unique_ptr<stream::InferTopicServer> infer;
  if (spec->stream) {
    absl::StatusOr<BrokerUri> broker = BrokerUri::Parse(spec->data);
    if (!broker.ok()) return Fail(broker.status());
    absl::StatusOr<std::unique_ptr<stream::InferTopicServer>> started = stream::InferTopicServer::Start(
        *broker, spec->name, [&service](const std::vector<float>& row) {
          v1::PredictRequest request;
          request.set_rows(1);
          request.mutable_features()->Add(row.begin(), row.end());
          return service.PredictLocal(request);
        },
        spec->features);
    // The gRPC endpoint serves regardless; a broker that is down is retried
    // by the transport, so this fails only on a bad address.
    if (!started.ok()) return Fail(started.status());
    infer = std::move(*started);
    std::fprintf(stderr, "answering %s on %s://%s\n", stream::InferTopic(broker->scheme, spec->name).c_str(),
                 broker->scheme.c_str(), broker->HostPort().c_str());
  }
  WaitForStop();
  if (infer) infer->Stop();
  if (proxy) proxy->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  service.Stop();
  return 0;
}

struct UpArgs {
  std::string listen = "127.0.0.1:7070";
  std::string http_listen;
  std::string data_dir = ".mliot";
  bool demo = false;
  double demo_budget_s = 60;
  std::string benchmark = "quick";
  TlsOptions tls;
  std::string testbed;
};

// `mliot up --testbed FILE`: the coordinator here, one node process per
// device of the file (testbed/testbed.h).
int RunUpTestbed(UpArgs& a, Coordinator& coordinator, const Testbed& testbed) {
  std::fprintf(stderr, "mliot up: coordinator %s, testbed %s (%zu devices), state in %s; Ctrl-C stops all\n",
               coordinator.address().c_str(), a.testbed.c_str(), testbed.devices.size(), a.data_dir.c_str());
  PrintEndpoints("mliot up: coordinator", coordinator.endpoints());
  TestbedRunOptions o;
  o.coordinator = coordinator.address();
  o.data_dir = a.data_dir + "/testbed";
  o.self_exe = SelfExe();
  o.benchmark = a.benchmark;
  o.join_token_file = a.data_dir + "/join.token";
  absl::Status s = RunTestbed(testbed, o, StopOnSignal());
  coordinator.Shutdown();
  return s.ok() ? 0 : Fail(s);
}

int RunUp(UpArgs& a) {
  const std::atomic<bool>& stop = StopOnSignal();
  if (absl::Status s = CheckPlaintextBind(a.listen, a.tls, "mliot up"); !s.ok()) return Fail(s);
  if (!a.http_listen.empty()) {
    if (absl::Status s = CheckPlaintextBind(a.http_listen, a.tls, "mliot up"); !s.ok()) return Fail(s);
  }
  std::optional<Testbed> testbed;
  if (!a.testbed.empty()) {
    if (a.demo) return Fail(absl::InvalidArgumentError("--testbed and --demo: give one of them"));
    if (a.tls.enabled()) return Fail(absl::InvalidArgumentError("--testbed runs on loopback without TLS"));
    absl::StatusOr<Testbed> loaded = LoadTestbed(a.testbed);
    if (!loaded.ok()) return Fail(loaded.status());
    testbed = std::move(*loaded);
  }
  CoordinatorOptions co;
  co.listen = a.listen;
  co.http_listen = a.http_listen;
  co.data_dir = a.data_dir + "/coordinator";
  co.credentials_dir = a.data_dir;  // D/admin.token, D/join.token
  co.tls = a.tls;
  Coordinator coordinator(co);
  if (absl::Status s = coordinator.Start(); !s.ok()) return Fail(s);
  if (testbed.has_value()) return RunUpTestbed(a, coordinator, *testbed);
  AgentOptions ao;
  ao.coordinator = coordinator.address();
  ao.data_dir = a.data_dir + "/node";
  ao.name = "local";
  ao.labels = {{"locality", "local"}};
  ao.benchmark = a.benchmark;
  ao.tls = a.tls;
  ao.join_token_file = a.data_dir + "/join.token";
  ao.self_exe = SelfExe();
  NodeAgent agent(ao);
  if (absl::Status s = agent.Start(); !s.ok()) return Fail(s);
  std::fprintf(stderr, "mliot up: coordinator %s, node 'local' (%s), state in %s (admin token: %s/admin.token)\n",
               coordinator.address().c_str(), agent.isolation().c_str(), a.data_dir.c_str(), a.data_dir.c_str());
  PrintEndpoints("mliot up: coordinator", coordinator.endpoints());
  PrintEndpoints("mliot up: node 'local'", agent.endpoints());
  std::thread node_thread([&] { agent.Run(stop); });
  int rc = 0;
  if (a.demo) {
    DemoOptions d;
    d.coordinator = coordinator.address();
    d.tls = a.tls;
    d.tls.admin_token_file = a.data_dir + "/admin.token";
    d.budget_s = a.demo_budget_s;
    rc = RunDemo(d, stop);
  } else {
    WaitForStop();
  }
  // Stop the node loop (and its workers) before the coordinator.
  StopOnSignal().store(true);
  node_thread.join();
  coordinator.Shutdown();
  return rc;
}

}  // namespace

Runner AddServerCommands(CLI::App& app) {
  auto coordinator = std::make_shared<CoordinatorArgs>();
  CLI::App* c = app.add_subcommand("coordinator", "run the coordinator (device selection layer)");
  c->add_option("--listen", coordinator->options.listen, "address to listen on")->capture_default_str();
  c->add_option("--data-dir", coordinator->options.data_dir, "state directory (SQLite, data, bundles)")->capture_default_str();
  c->add_option("--http-listen", coordinator->options.http_listen,
                "HTTP endpoint: Open Inference Protocol (proxied to each task), /metrics; its v2 gRPC is the next port "
                "(default: the --listen port + 1)");
  c->add_option("--heartbeat-timeout-s", coordinator->options.heartbeat_timeout_s, "a node silent this long is dead")
      ->capture_default_str();
  c->add_option("--token-grace-s", coordinator->options.token_grace_s,
                "after `mliot token rotate`, the old task token works this long unless the call says otherwise")
      ->capture_default_str();
  AddTlsFlags(c, &coordinator->options.tls, true);

  auto node = std::make_shared<NodeArgs>();
  CLI::App* n = app.add_subcommand("node", "run a node agent (training-serving layer)");
  n->add_option("--coordinator", node->options.coordinator, "coordinator address")->required();
  n->add_option("--listen", node->options.listen, "node endpoint address (port 0: any)")->capture_default_str();
  n->add_option("--data-dir", node->options.data_dir, "node state directory")->required();
  n->add_option("--http-listen", node->options.http_listen,
                "HTTP endpoint: Open Inference Protocol for every task on the node, /metrics; its v2 gRPC is the next "
                "port (default: the --listen port + 1; any free ports with --listen port 0)");
  n->add_option("--name", node->options.name, "node name")->required();
  n->add_option("--labels", node->labels, "k=v,... e.g. locality=local");
  n->add_option("--cores", node->options.cores, "declared cores (default: detected)");
  n->add_option("--memory-mb", node->options.memory_mb, "declared memory (default: detected)");
  n->add_option("--rtt-ms", node->options.rtt_ms, "declared round-trip time to clients");
  n->add_flag("--gpu", node->options.gpu, "declare a GPU");
  n->add_option("--benchmark", node->options.benchmark, "device benchmark: quick | full")->capture_default_str();
  n->add_option("--worker-cpus", node->options.worker_cpus, "CPU limit per worker (default: the node's cores)");
  n->add_option("--worker-memory-mb", node->options.worker_memory_mb, "memory limit per worker (default: none)");
  n->add_option("--added-rtt-ms", node->options.added_rtt_ms,
                "emulated network: a proxy adds this round-trip time in front of the node's and its workers' ports");
  n->add_option("--cgroup-prefix", node->options.cgroup_prefix, "control group its workers go under (default: mliot-NAME)");
  n->add_flag("--exit-with-parent", node->exit_with_parent,
              "stop when the process that started it ends (the testbed's devices)");
  n->add_option("--join-token-file", node->options.join_token_file,
                "the coordinator's join.token: registers this node once, which then keeps its own credential in "
                "DATA_DIR/node.token (not needed with a node certificate)")
      ->envname("MLIOT_JOIN_TOKEN_FILE");
  AddTlsFlags(n, &node->options.tls, true);

  auto worker = std::make_shared<WorkerArgs>();
  CLI::App* w = app.add_subcommand("worker", "internal: a training or serving worker spawned by a node");
  w->add_option("role", worker->role, "train | serve | benchmark")->required();
  w->add_option("--task-dir", worker->task_dir, "the task's directory on the node (benchmark: where it writes)")
      ->required();
  w->add_option("--benchmark", worker->benchmark, "benchmark: quick | full")->capture_default_str();
  w->add_option("--listen", worker->listen, "serve: address (port 0: any)")->capture_default_str();
  w->add_option("--threads", worker->threads, "train: parallel trials (0: cores)");
  w->add_option("--added-rtt-ms", worker->added_rtt_ms, "serve: a delaying proxy in front of the port (testbed)");
  AddTlsFlags(w, &worker->tls, true);

  auto up = std::make_shared<UpArgs>();
  CLI::App* u = app.add_subcommand("up", "embedded default: coordinator + one local node in one process");
  u->add_option("--listen", up->listen, "coordinator address")->capture_default_str();
  u->add_option("--data-dir", up->data_dir, "state directory")->capture_default_str();
  u->add_option("--http-listen", up->http_listen,
                "the coordinator's HTTP endpoint (Open Inference Protocol, /metrics); default: the --listen port + 1");
  u->add_flag("--demo", up->demo, "submit the Fashion-MNIST demo task, stream the test set, give feedback");
  u->add_option("--demo-budget-s", up->demo_budget_s, "training budget of the demo task")->capture_default_str();
  u->add_option("--benchmark", up->benchmark, "device benchmark: quick | full")->capture_default_str();
  u->add_option("--testbed", up->testbed,
                "an emulated testbed instead of the local node: one node process per device of FILE.yaml, under "
                "cgroup limits, behind an added RTT (docs/TESTBED.md)");
  AddTlsFlags(u, &up->tls, true);

  return [&app, coordinator, node, worker, up]() -> int {
    if (app.got_subcommand("coordinator")) return RunCoordinator(*coordinator);
    if (app.got_subcommand("node")) return RunNode(*node);
    if (app.got_subcommand("worker")) return RunWorker(*worker);
    if (app.got_subcommand("up")) return RunUp(*up);
    return -1;
  };
}

}  // namespace mliot::cli
