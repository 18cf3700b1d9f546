// The ecosystem's protocols on real processes: a coordinator and a node on
// loopback serve the Open Inference Protocol over HTTP (cpp-httplib client
// here) and gRPC (Debian's python3-grpcio with stubs generated at run
// time), gRPC health, and Prometheus metrics that `promtool check metrics`
// accepts and a real Prometheus server scrapes.
#include <httplib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "cluster.h"
#include "gtest/gtest.h"

namespace mliot::testing {
namespace {

using Clock = std::chrono::steady_clock;

// "http://HOST:PORT" -> a client.
httplib::Client Http(const std::string& url) {
  httplib::Client c(url);
  c.set_connection_timeout(5);
  c.set_read_timeout(30);
  return c;
}

httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// The coordinator's endpoints, from the line it logs at start.
std::string CoordinatorHttp(Process& coordinator) {
  const std::regex line(R"(coordinator: Open Inference Protocol (http://[0-9.:]+)/v2)");
  for (int i = 0; i < 100; ++i) {
    std::smatch m;
    const std::string log = coordinator.Log();
    if (std::regex_search(log, m, line)) return m[1];
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

json RunGrpcCheck(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/python3", SourceDir() + "/tests/protocols/v2_grpc_check.py", "--proto",
                                   SourceDir() + "/proto"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = RunProgram(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(LastLine(r.out), nullptr, false);
}

class ProtocolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = std::make_unique<Cluster>("protocols");
    c_->StartCoordinator();
    c_->StartNode("edge");
    ASSERT_TRUE(c_->WaitNodes(1)) << c_->Logs();
    const json nodes = ParseLast(c_->Mliot({"nodes", "--json"}));
    ASSERT_TRUE(nodes.is_array() && nodes.size() == 1) << nodes.dump();
    endpoints_ = nodes[0]["endpoints"];
    ASSERT_TRUE(endpoints_["v2_http"].get<std::string>().starts_with("http://127.0.0.1:")) << nodes.dump();
    coordinator_http_ = CoordinatorHttp(c_->coordinator());
    ASSERT_FALSE(coordinator_http_.empty()) << c_->Logs();
  }

  // Submits task t1 (4 features, classes closed and open) and waits until it serves.
  std::string ServeTask() {
    const RunResult r = c_->Submit("t1", "");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json submitted = ParseLast(r);
    EXPECT_TRUE(c_->WaitServing("t1")) << c_->Logs();
    return submitted.value("token", "");
  }

  std::unique_ptr<Cluster> c_;
  json endpoints_;
  std::string coordinator_http_;
};

TEST_F(ProtocolsTest, RestGoldenRequestsOnTheNodeAndThroughTheCoordinator) {
  httplib::Client node = Http(endpoints_["v2_http"]);
  // No task yet: live, not ready; gRPC health says NOT_SERVING.
  EXPECT_EQ(node.Get("/v2/health/live")->status, 200);
  EXPECT_EQ(node.Get("/v2/health/ready")->status, 503);
  const json idle = RunGrpcCheck({"--health", endpoints_["v2_grpc"]});
  EXPECT_EQ(idle["health"][endpoints_["v2_grpc"].get<std::string>()], "NOT_SERVING") << idle.dump();

  const std::string token = ServeTask();
  ASSERT_FALSE(token.empty());
  // Ready once the serving worker's address reached the front end (a heartbeat).
  for (int i = 0; i < 50 && node.Get("/v2/health/ready")->status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(node.Get("/v2/health/ready")->status, 200);
  const json server = json::parse(node.Get("/v2")->body);
  EXPECT_EQ(server["name"], "mliot");
  EXPECT_EQ(server["extensions"], json({"classification", "binary_tensor_data"}));

  for (const std::string& url : {endpoints_["v2_http"].get<std::string>(), coordinator_http_}) {
    SCOPED_TRACE(url);
    httplib::Client h = Http(url);
    // Metadata with the class names.
    auto meta = h.Get("/v2/models/t1", Bearer(token));
    ASSERT_TRUE(meta);
    ASSERT_EQ(meta->status, 200) << meta->body;
    const json m = json::parse(meta->body);
    EXPECT_EQ(m["name"], "t1");
    EXPECT_EQ(m["platform"], "mliot");
    EXPECT_EQ(m["inputs"], json::parse(R"([{"name":"features","datatype":"FP32","shape":[-1,4]}])"));
    EXPECT_EQ(m["outputs"][0], json::parse(R"({"name":"probabilities","datatype":"FP32","shape":[-1,2]})"));
    EXPECT_EQ(m["parameters"]["class_names"], json({"closed", "open"}));
    const std::string version = m["versions"][0];
    EXPECT_EQ(h.Get("/v2/models/t1/versions/" + version + "/ready", Bearer(token))->status, 200);

    // JSON infer: two rows, one at each class's centre (cluster.h: the first
    // two features around -1.2 for closed, +1.2 for open).
    const std::string body = R"({"id":"r1","inputs":[{"name":"features","datatype":"FP32","shape":[2,4],
        "data":[[-1.5,-1.4,0,0.1],[1.6,1.4,0,0.1]]}]})";
    auto infer = h.Post("/v2/models/t1/infer", Bearer(token), body, "application/json");
    ASSERT_TRUE(infer);
    ASSERT_EQ(infer->status, 200) << infer->body;
    const json r = json::parse(infer->body);
    EXPECT_EQ(r["model_name"], "t1");
    EXPECT_EQ(r["model_version"], version);
    EXPECT_EQ(r["id"], "r1");
    ASSERT_EQ(r["outputs"].size(), 3u);
    EXPECT_EQ(r["outputs"][0]["shape"], json({2, 2}));
    const std::vector<float> p = r["outputs"][0]["data"];
    EXPECT_NEAR(p[0] + p[1], 1.0, 1e-4);
    EXPECT_EQ(r["outputs"][1], json::parse(R"({"name":"label","datatype":"BYTES","shape":[2],"data":["closed","open"]})"));
    EXPECT_EQ(r["outputs"][2]["datatype"], "INT32");

    // The classification extension.
    auto top = h.Post("/v2/models/t1/infer", Bearer(token),
                      R"({"inputs":[{"name":"f","datatype":"FP32","shape":[1,4],"data":[1.6,1.4,0,0.1]}],
                          "outputs":[{"name":"label","parameters":{"classification":2}}]})",
                      "application/json");
    ASSERT_EQ(top->status, 200) << top->body;
    const json t = json::parse(top->body)["outputs"][0];
    EXPECT_EQ(t["shape"], json({1, 2}));
    EXPECT_TRUE(std::regex_match(t["data"][0].get<std::string>(), std::regex(R"([0-9.e-]+:1:open)"))) << t.dump();

    // The binary tensor extension, as tritonclient sends it.
    const std::string header =
        R"({"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}],)"
        R"("outputs":[{"name":"probabilities","parameters":{"binary_data":true}},{"name":"label"}]})";
    const float row[4] = {1.6f, 1.4f, 0.0f, 0.1f};
    std::string binary = header + std::string(reinterpret_cast<const char*>(row), sizeof(row));
    httplib::Headers headers = Bearer(token);
    headers.emplace("Inference-Header-Content-Length", std::to_string(header.size()));
    auto bin = h.Post("/v2/models/t1/infer", headers, binary, "application/octet-stream");
    ASSERT_EQ(bin->status, 200) << bin->body;
    const size_t json_length = std::stoul(bin->get_header_value("Inference-Header-Content-Length"));
    const json bj = json::parse(bin->body.substr(0, json_length));
    EXPECT_EQ(bj["outputs"][0]["parameters"]["binary_data_size"], 8);
    EXPECT_EQ(bj["outputs"][1]["data"], json({"open"}));
    ASSERT_EQ(bin->body.size(), json_length + 8);
    float probabilities[2];
    std::memcpy(probabilities, bin->body.data() + json_length, 8);
    EXPECT_GT(probabilities[1], probabilities[0]);

    // Errors: 400 bad input, 404 unknown task or version, 401 no or wrong token.
    auto bad = h.Post("/v2/models/t1/infer", Bearer(token),
                      R"({"inputs":[{"name":"f","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]})", "application/json");
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(json::parse(bad->body)["error"].get<std::string>().find("[N, 4]"), std::string::npos) << bad->body;
    EXPECT_EQ(h.Post("/v2/models/t1/infer", Bearer(token), "{not json", "application/json")->status, 400);
    auto unknown = h.Post("/v2/models/nope/infer", Bearer(token), body, "application/json");
    EXPECT_EQ(unknown->status, 404);
    EXPECT_TRUE(json::parse(unknown->body).contains("error"));
    EXPECT_EQ(h.Get("/v2/models/t1/versions/999", Bearer(token))->status, 404);
    EXPECT_EQ(h.Post("/v2/models/t1/versions/999/infer", Bearer(token), body, "application/json")->status, 404);
    EXPECT_EQ(h.Post("/v2/models/t1/infer", body, "application/json")->status, 401);
    EXPECT_EQ(h.Get("/v2/models/t1")->status, 401);
    EXPECT_EQ(h.Post("/v2/models/t1/infer", Bearer("0123"), body, "application/json")->status, 401);
    // A bad request from a caller without the token learns nothing about the model.
    EXPECT_EQ(h.Post("/v2/models/t1/infer", Bearer("0123"), "{not json", "application/json")->status, 401);
  }
}

TEST_F(ProtocolsTest, GrpcInferenceServiceHealthAndPrometheus) {
  const std::string token = ServeTask();
  ASSERT_FALSE(token.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a heartbeat: the node knows the worker
  const json task = c_->Task("t1");
  const std::string worker = task.value("serving_address", "");
  const json g = RunGrpcCheck({"--v2", endpoints_["v2_grpc"], "--token", token, "--task", "t1", "--features", "4",
                               "--health", endpoints_["v2_grpc"], "--health", c_->address(), "--health", worker});
  ASSERT_TRUE(g.is_object());
  SCOPED_TRACE(g.dump());
  EXPECT_EQ(g["health"][endpoints_["v2_grpc"].get<std::string>()], "SERVING");
  EXPECT_EQ(g["health"][c_->address()], "SERVING");
  EXPECT_EQ(g["health"][worker], "SERVING");
  EXPECT_TRUE(g["live"].get<bool>());
  EXPECT_TRUE(g["ready"].get<bool>());
  EXPECT_TRUE(g["model_ready"].get<bool>());
  EXPECT_EQ(g["server"]["name"], "mliot");
  EXPECT_EQ(g["metadata"]["inputs"], json::parse(R"([["features","FP32",[-1,4]]])"));
  EXPECT_EQ(g["metadata"]["class_names"], "closed,open");
  EXPECT_EQ(g["infer"]["id"], "g1");
  EXPECT_EQ(g["infer"]["outputs"]["label"]["bytes"], json({"closed", "open"}));
  EXPECT_EQ(g["infer"]["outputs"]["probabilities"]["shape"], json({2, 2}));
  EXPECT_EQ(g["infer_raw_labels"], json({"closed", "open"}));
  EXPECT_EQ(g["errors"]["unknown_model"], "NOT_FOUND");
  EXPECT_EQ(g["errors"]["no_token"], "UNAUTHENTICATED");
  EXPECT_EQ(g["errors"]["wrong_token"], "UNAUTHENTICATED");
  EXPECT_EQ(g["errors"]["bad_shape"], "INVALID_ARGUMENT");
  EXPECT_EQ(g["errors"]["unknown_version"], "NOT_FOUND");

  // Prometheus text that promtool accepts, on the node and the coordinator.
  const std::string node_metrics = endpoints_["metrics"];
  const std::string coord_metrics = coordinator_http_ + "/metrics";
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the worker's next snapshot
  for (const std::string& url : {node_metrics, coord_metrics}) {
    const size_t path = url.find('/', 7);
    auto res = Http(url.substr(0, path)).Get(url.substr(path));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    const std::string file = c_->dir() + "/metrics.txt";
    std::ofstream(file) << res->body;
    const RunResult check = RunProgram({"sh", "-c", "promtool check metrics < " + file});
    EXPECT_EQ(check.exit_code, 0) << url << "\n" << check.out << check.err << "\n" << res->body;
    EXPECT_NE(res->body.find("mliot_build_info{"), std::string::npos);
  }
  auto node_text = Http(node_metrics.substr(0, node_metrics.find('/', 7))).Get("/metrics")->body;
  EXPECT_NE(node_text.find(R"(mliot_inference_requests_total{task="t1",version=)"), std::string::npos) << node_text;
  EXPECT_NE(node_text.find(R"(mliot_inference_request_seconds_bucket{task="t1")"), std::string::npos);
  EXPECT_NE(node_text.find(R"(mliot_frontend_requests_total{code="200",protocol="v2-grpc",task="t1"})"),
            std::string::npos);

  // A real Prometheus scrapes both; a metric read back through its API.
  const int port = FreePort();
  const std::string config = c_->dir() + "/prometheus.yml";
  auto target = [](const std::string& url) { return url.substr(7, url.find('/', 7) - 7); };
  std::ofstream(config) << "global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        << "  - job_name: node\n    static_configs:\n      - targets: ['" << target(node_metrics)
                        << "']\n  - job_name: coordinator\n    static_configs:\n      - targets: ['"
                        << target(coord_metrics) << "']\n";
  Process prometheus = Process::Program(
      {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + c_->dir() + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      c_->dir() + "/prometheus.log");
  httplib::Client api = Http("http://127.0.0.1:" + std::to_string(port));
  double requests = -1, heartbeats = -1;
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(60) && (requests < 0 || heartbeats < 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto value = [&api](const std::string& query) {
      auto res = api.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
      if (!res || res->status != 200) return -1.0;
      const json j = json::parse(res->body, nullptr, false);
      if (!j.is_object() || j["data"]["result"].empty()) return -1.0;
      return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
    };
    requests = value(R"(sum(mliot_inference_requests_total{job="node",task="t1"}))");
    heartbeats = value(R"(mliot_heartbeats_total{job="coordinator"})");
  }
  EXPECT_GE(requests, 2) << prometheus.Log();  // the gRPC check's two answered infer calls
  EXPECT_GT(heartbeats, 0) << prometheus.Log();
}

}  // namespace
}  // namespace mliot::testing
