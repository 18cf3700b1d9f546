#include "bench/serving_bench.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_cluster.h"
#include "bench/kit.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "data/source.h"
#include "inference/grpc_service.grpc.pb.h"
#include "mliot/v1/serving.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {
namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr char kTask[] = "serving";

void Say(const std::string& line) { Progress("serving", line); }

// One request of one client: true when answered.
using Call = std::function<bool(int row)>;

// CPU seconds (user + system) of a process, from /proc; 0 when gone.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Closed loop: `concurrency` clients, each with its own connection from
// `make`, send one single-row request after another for `seconds`.
absl::StatusOr<json> ClosedLoop(const std::string& protocol, int concurrency, double seconds,
                                const std::function<Call()>& make, const std::vector<pid_t>& servers, int rows) {
  std::vector<Call> clients;
  for (int c = 0; c < concurrency; ++c) clients.push_back(make());
  for (Call& call : clients) {  // warm: connections open, caches filled
    for (int i = 0; i < 20; ++i) (void)call(i % rows);
  }
  std::vector<std::vector<double>> latencies(static_cast<size_t>(concurrency));
  std::atomic<int64_t> failed{0};
  std::atomic<bool> stop{false};
  double cpu_before = 0;
  for (pid_t p : servers) cpu_before += CpuSeconds(p);
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < concurrency; ++c) {
    threads.emplace_back([&, c] {
      int row = c;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = SteadyClock::now();
        if (!clients[static_cast<size_t>(c)](row % rows)) failed.fetch_add(1);
        latencies[static_cast<size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
        row += concurrency;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  double cpu_after = 0;
  for (pid_t p : servers) cpu_after += CpuSeconds(p);
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  if (failed.load() > 0) {
    return absl::InternalError(absl::StrCat("bench serving: ", failed.load(), " of ", all.size(), " ", protocol,
                                            " requests failed at concurrency ", concurrency));
  }
  const double n = static_cast<double>(all.size());
  json row = {{"protocol", protocol},
              {"concurrency", concurrency},
              {"requests_per_s", n / elapsed},
              {"p50_ms", Percentile(all, 0.5)},
              {"p99_ms", Percentile(all, 0.99)},
              {"cpu_s_per_1k", (cpu_after - cpu_before) / n * 1000}};
  Say(absl::StrFormat("%-10s c=%-2d %8.0f req/s  p50 %.3f ms  p99 %.3f ms  %.3f CPU s / 1k", protocol, concurrency,
                      n / elapsed, Percentile(all, 0.5), Percentile(all, 0.99), (cpu_after - cpu_before) / n * 1000));
  return row;
}

// The v2 JSON body of one row.
std::string RestBody(const Dataset& data, int row) {
  const float* x = data.features.data() + static_cast<int64_t>(row) * data.cols;
  json j = {{"inputs", {{{"name", "features"}, {"datatype", "FP32"}, {"shape", {1, data.cols}},
                          {"data", std::vector<float>(x, x + data.cols)}}}}};
  return j.dump();
}

Call RestClient(const std::string& url, const std::string& path, const std::string& token,
                const std::vector<std::string>* bodies) {
  auto client = std::make_shared<httplib::Client>(url);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return [client, path, headers, bodies](int row) {
    auto res = client->Post(path, headers, (*bodies)[static_cast<size_t>(row)], "application/json");
    return res && res->status == 200;
  };
}

}  // namespace

void MakeQuick(ServingBenchOptions& o) {
  o.train_rows = 1000;
  o.budget_s = 5;
  o.seconds = 1;
  o.repeats = 1;
  o.peer = false;  // the peer needs scikit-learn and Flask (scripts/install-deps --peers)
}

absl::StatusOr<json> RunServingBench(const ServingBenchOptions& o) {
  const std::string dir = o.work_dir.empty() ? TempDir("serving") : o.work_dir;
  fs::create_directories(dir);
  MLIOT_ASSIGN_OR_RETURN(Dataset test, LoadDataset("fashion-mnist:test:500"));
  const int rows = static_cast<int>(test.rows);
  std::vector<std::string> bodies;
  for (int r = 0; r < rows; ++r) bodies.push_back(RestBody(test, r));

  Say("starting a coordinator and a node");
  BenchCluster cluster;
  MLIOT_RETURN_IF_ERROR(cluster.Start(dir));
  {
    grpc::ClientContext ctx;
    v1::SubmitRequest request;
    request.set_spec_yaml(absl::StrFormat(
        "name: %s\ndata: fashion-mnist:train:%d\nmodel:\n  budget_s: %g\n  models: [logreg]\n  hpo: random\n", kTask,
        o.train_rows, o.budget_s));
    v1::SubmitResponse response;
    MLIOT_RETURN_IF_ERROR(FromGrpc(cluster.coordinator().Submit(&ctx, request, &response)));
  }
  v1::TaskInfo task;
  MLIOT_RETURN_IF_ERROR(WaitUntil(
      [&] {
        absl::StatusOr<v1::TaskInfo> t = cluster.Task(kTask);
        if (!t.ok() || t->serving_address().empty()) return false;
        task = *t;
        return true;
      },
      300, "bench serving: the task serving"));
  // Training may publish more versions; measure once it settled.
  std::this_thread::sleep_for(std::chrono::duration<double>(o.budget_s + 2));
  MLIOT_ASSIGN_OR_RETURN(task, cluster.Task(kTask));
  MLIOT_ASSIGN_OR_RETURN(v1::NodeSummary node, cluster.Node());
  pid_t worker = 0;
  for (const v1::WorkerMetrics& w : node.metrics().workers()) {
    if (w.task() == kTask && w.role() == "serve") worker = w.pid();
  }
  if (worker == 0) return absl::InternalError("bench serving: no serving worker pid in the node's metrics");
  const std::vector<pid_t> servers = {cluster.node_pid(), worker};
  const v1::Endpoints endpoints = node.info().endpoints();
  const std::string token = task.token();
  Say(absl::StrCat("task serving version ", task.version(), " at ", task.serving_address(), "; node front end ",
                   endpoints.v2_http(), " and ", endpoints.v2_grpc()));

  // The peer: Flask + scikit-learn's LogisticRegression on the same rows.
  pid_t peer = 0;
  int peer_port = 0;
  if (o.peer) {
    const std::string script = FindSourceFile("bench/peers/serving_peer.py");
    if (script.empty()) return absl::NotFoundError("bench serving: bench/peers/serving_peer.py not found");
    peer_port = FreeLoopbackPort();
    const char* fm = std::getenv("MLIOT_FASHION_MNIST_DIR");
    const std::string fm_dir = fm != nullptr && *fm != '\0' ? fm : "/usr/share/datasets/fashion-mnist";
    MLIOT_ASSIGN_OR_RETURN(peer, Spawn({.args = {"/usr/bin/python3", script, "--train-x",
                                                 fm_dir + "/train-images-idx3-ubyte.gz", "--train-y",
                                                 fm_dir + "/train-labels-idx1-ubyte.gz", "--kind",
                                                 "logistic_regression", "--port", std::to_string(peer_port), "--rows",
                                                 std::to_string(o.train_rows), "--threads", "1"},
                                        .stdin_path = "/dev/null",
                                        .stdout_path = dir + "/peer.log",
                                        .stderr_path = dir + "/peer.log"}));
    MLIOT_RETURN_IF_ERROR(WaitUntil([&] { return LoopbackAccepts(peer_port); }, 300, "bench serving: the peer ready"));
  }

  auto make_mliot = [&]() -> Call {
    grpc::ChannelArguments args = DefaultChannelArguments();
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per client
    auto channel = MakeChannel(task.serving_address(), TlsOptions{}, args);
    auto stub = std::shared_ptr<v1::Serving::Stub>(v1::Serving::NewStub(*channel));
    return [stub, &test, token](int row) {
      grpc::ClientContext ctx;
      ctx.AddMetadata(kAuthorization, BearerValue(token));
      v1::PredictRequest request;
      request.set_task(kTask);
      request.set_rows(1);
      const float* x = test.features.data() + static_cast<int64_t>(row) * test.cols;
      request.mutable_features()->Add(x, x + test.cols);
      v1::PredictResponse response;
      return stub->Predict(&ctx, request, &response).ok();
    };
  };
  auto make_v2_grpc = [&]() -> Call {
    grpc::ChannelArguments args = DefaultChannelArguments();
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = MakeChannel(endpoints.v2_grpc(), TlsOptions{}, args);
    auto stub = std::shared_ptr<inference::GRPCInferenceService::Stub>(inference::GRPCInferenceService::NewStub(*channel));
    return [stub, &test, token](int row) {
      grpc::ClientContext ctx;
      ctx.AddMetadata(kAuthorization, BearerValue(token));
      inference::ModelInferRequest request;
      request.set_model_name(kTask);
      auto* in = request.add_inputs();
      in->set_name("features");
      in->set_datatype("FP32");
      in->add_shape(1);
      in->add_shape(test.cols);
      const float* x = test.features.data() + static_cast<int64_t>(row) * test.cols;
      in->mutable_contents()->mutable_fp32_contents()->Add(x, x + test.cols);
      inference::ModelInferResponse response;
      return stub->ModelInfer(&ctx, request, &response).ok();
    };
  };
  auto make_rest = [&]() {
    return RestClient(endpoints.v2_http(), absl::StrCat("/v2/models/", kTask, "/infer"), token, &bodies);
  };
  auto make_peer = [&]() {
    return RestClient(absl::StrCat("http://127.0.0.1:", peer_port), absl::StrCat("/v2/models/", kTask, "/infer"), "",
                      &bodies);
  };

  absl::StatusOr<json> report = RunRepeated(o.repeats, [&]() -> absl::StatusOr<json> {
    json out = {{"rows", json::array()}, {"peer", json::array()}};
    for (int c : o.concurrency) {
      for (const auto& [protocol, make] : std::vector<std::pair<std::string, std::function<Call()>>>{
               {"v2-rest", make_rest}, {"v2-grpc", make_v2_grpc}, {"mliot-grpc", make_mliot}}) {
        MLIOT_ASSIGN_OR_RETURN(json row, ClosedLoop(protocol, c, o.seconds, make, servers, rows));
        out["rows"].push_back(row);
      }
      if (o.peer) {
        MLIOT_ASSIGN_OR_RETURN(json row, ClosedLoop("peer-rest", c, o.seconds, make_peer, {peer}, rows));
        out["peer"].push_back(row);
      }
    }
    return out;
  });
  if (peer > 0) StopProcess(peer, SIGTERM, std::chrono::seconds(5));
  if (!report.ok()) return report.status();
  json r = *report;
  r["task"] = {{"data", absl::StrCat("fashion-mnist:train:", o.train_rows)}, {"models", "logreg"},
               {"version", task.version()}};
  // The targets (docs/BENCHMARKS.md, "Serving").
  auto find = [&r](const char* list, const std::string& protocol, int c) -> json {
    for (const json& row : r[list]) {
      if (row["protocol"] == protocol && row["concurrency"] == c) return row;
    }
    return json();
  };
  const json rest1 = find("rows", "v2-rest", 1), v2g = find("rows", "v2-grpc", 1), own = find("rows", "mliot-grpc", 1);
  json targets = json::object();
  if (!rest1.is_null()) targets["v2_rest_p50_ms_at_1"] = rest1["p50_ms"];
  if (!v2g.is_null() && !own.is_null()) {
    targets["v2_grpc_over_mliot_grpc_p50"] = v2g["p50_ms"].get<double>() / own["p50_ms"].get<double>();
  }
  const int top = o.concurrency.back();
  const json rest_top = find("rows", "v2-rest", top), peer_top = find("peer", "peer-rest", top);
  if (!rest_top.is_null() && !peer_top.is_null()) {
    targets["v2_rest_over_peer_requests_per_s_at_" + std::to_string(top)] =
        rest_top["requests_per_s"].get<double>() / peer_top["requests_per_s"].get<double>();
  }
  r["targets"] = targets;
  return r;
}

}  // namespace mliot::bench
