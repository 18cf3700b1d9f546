// Cluster integration tests: a real `mliot coordinator` and real `mliot node`
// processes on loopback, driven through the real client commands. Nothing is
// faked: nodes benchmark themselves (quick), train real bundles, spawn real
// serving workers; failover kills a node with SIGKILL; TLS uses certificates
// made by openssl for the test.
//
// Scenarios (issue 3): placement on three emulated devices, failover within
// 10 s without re-training, coordinator restart with predictions continuing,
// hot swap under load with zero failed requests, TLS/mTLS/token refusals,
// and clean errors for an unknown task.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "process.h"

namespace mliot::testing {
namespace {

// Paper §6.3 / Fig. 10-13: three emulated devices, four policies.
TEST(ClusterTest, PlacesByPolicyOnThreeEmulatedDevices) {
  Cluster c("placement");
  c.StartCoordinator();
  c.StartNode("A", {"--labels", "locality=local", "--cores", "4", "--memory-mb", "4096", "--rtt-ms", "3"});
  c.StartNode("B", {"--labels", "locality=local", "--cores", "4", "--memory-mb", "8192", "--rtt-ms", "14"});
  c.StartNode("C", {"--labels", "locality=cloud", "--cores", "16", "--memory-mb", "32768", "--rtt-ms", "84"});
  ASSERT_TRUE(c.WaitNodes(3)) << c.Logs();

  const RunResult nodes = c.Mliot({"nodes", "--json"});
  const json list = ParseLast(nodes);
  ASSERT_TRUE(list.is_array()) << nodes.out;
  for (const json& n : list) {
    for (const char* field : {"name", "alive", "cores", "memory_mb", "gpu", "labels", "cpu", "mem", "load",
                              "isolation", "tasks"}) {
      EXPECT_TRUE(n.contains(field)) << field << " missing in " << n.dump();
    }
  }

  struct Case {
    std::string task, device, node;
  };
  const std::vector<Case> cases = {
      {"local-big", "  require: locality == 'local'\n  prefer: max(memory_mb)\n", "B"},
      {"low-latency", "  require: latency_ms <= 10\n", "A"},
      {"biggest", "  prefer: max(memory_mb)\n", "C"},
  };
  for (const Case& k : cases) {
    const RunResult r = c.Submit(k.task, k.device, 2);
    ASSERT_EQ(r.exit_code, 0) << k.task << ": " << r.err;
    const json j = ParseLast(r);
    EXPECT_EQ(j.value("accepted", false), true) << j.dump();
    EXPECT_EQ(j.value("task", ""), k.task);
    EXPECT_EQ(j.value("node", ""), k.node) << k.task << ": " << j.dump();
    ASSERT_TRUE(j.contains("ranking") && j["ranking"].is_array()) << j.dump();
    EXPECT_EQ(j["ranking"].front(), k.node);
  }

  const RunResult gpu = c.Submit("needs-gpu", "  require: gpu == true\n");
  EXPECT_EQ(gpu.exit_code, 3) << gpu.err;
  const json refused = ParseLast(gpu);
  EXPECT_EQ(refused.value("accepted", true), false) << gpu.out;
  ASSERT_TRUE(refused.contains("reasons")) << gpu.out;
  for (const char* node : {"A", "B", "C"}) {
    ASSERT_TRUE(refused["reasons"].contains(node)) << refused.dump();
    EXPECT_NE(refused["reasons"][node].get<std::string>().find("gpu"), std::string::npos) << refused.dump();
  }
  // A refused task is not stored.
  EXPECT_TRUE(c.Task("needs-gpu").is_null());
  // Placements are recorded: tasks lists each on its node.
  for (const Case& k : cases) EXPECT_EQ(c.Task(k.task).value("node", ""), k.node);
  // Everything trains and serves where it was placed.
  for (const Case& k : cases) {
    ASSERT_TRUE(c.WaitServing(k.task)) << k.task << "\n" << c.Logs();
    const json p = c.Predict(k.task, "test.csv");
    ASSERT_FALSE(p.is_null()) << c.last_err();
    EXPECT_EQ(p.value("node", ""), k.node);
    EXPECT_GT(p.value("accuracy", 0.0), 0.8) << p.dump();
  }
}

TEST(ClusterTest, FailoverServesTheStoredBundleFromAnotherNodeWithin10s) {
  Cluster c("failover");
  c.StartCoordinator();  // default --heartbeat-timeout-s 5
  c.StartNode("A");
  c.StartNode("B");
  ASSERT_TRUE(c.WaitNodes(2)) << c.Logs();
  const RunResult submitted = c.Submit("door", "");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string first = ParseLast(submitted).value("node", "");
  ASSERT_TRUE(first == "A" || first == "B") << submitted.out;
  const std::string other = first == "A" ? "B" : "A";
  ASSERT_TRUE(c.WaitServing("door")) << c.Logs();
  // The bundle reaches the coordinator's store with the next heartbeat.
  json before = c.Predict("door", "test.csv");
  ASSERT_FALSE(before.is_null()) << c.last_err();
  ASSERT_EQ(before.value("node", ""), first);
  const int64_t version = before.value("version", int64_t{0});
  ASSERT_GE(version, 1);
  const auto stored_deadline = Clock::now() + std::chrono::seconds(20);
  while (!fs::exists(c.dir() + "/coord/bundles/door/" + std::to_string(version)) && Clock::now() < stored_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  const auto killed = Clock::now();
  c.node(first).Stop(SIGKILL);
  json after = nullptr;
  double outage = 0;
  while (Since(killed) < 30) {
    const json p = c.Predict("door", "test.csv");
    if (!p.is_null() && p.value("node", "") == other && p.value("failed", 1) == 0) {
      outage = Since(killed);
      after = p;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(after.is_null()) << "no failover within 30 s\n" << c.Logs();
  std::printf("failover outage: %.2f s\n", outage);
  EXPECT_LE(outage, 10.0);
  EXPECT_EQ(after.value("version", int64_t{0}), version);
  EXPECT_GT(after.value("accuracy", 0.0), 0.8);
  // No re-training: the new node's training worker found the bundle.
  std::string train_log;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(c.dir() + "/" + other)) {
    if (e.path().filename() == "train.log") {
      std::ifstream in(e.path());
      train_log.assign(std::istreambuf_iterator<char>(in), {});
    }
  }
  EXPECT_NE(train_log.find("without re-training"), std::string::npos) << train_log;
  EXPECT_EQ(train_log.find("trained: version"), std::string::npos) << train_log;
  const json task = c.Task("door");
  EXPECT_EQ(task.value("node", ""), other);
  EXPECT_EQ(task.value("state", ""), "serving");
}

TEST(ClusterTest, CoordinatorRestartRecoversStateWhilePredictionsContinue) {
  Cluster c("restart");
  c.StartCoordinator();
  c.StartNode("A", {"--labels", "locality=local"});
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  ASSERT_EQ(c.Submit("lamp", "  require: locality == 'local'\n").exit_code, 0);
  ASSERT_TRUE(c.WaitServing("lamp")) << c.Logs();
  ASSERT_FALSE(c.Predict("lamp", "test.csv").is_null()) << c.last_err();  // caches the serving address

  // A steady predict load across the crash and the restart.
  Process load({"predict", "--coordinator", c.address(), "--task", "lamp", "--data", "csv:" + c.dir() + "/test.csv",
                "--duration-s", "8", "--json"},
               c.dir() + "/load.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  c.coordinator().Stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // While the coordinator is down, a fresh client still reaches the task.
  const json during = c.Predict("lamp", "test.csv");
  EXPECT_FALSE(during.is_null()) << c.last_err();
  c.StartCoordinator();
  while (load.running()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const json steady = json::parse(LastLine(load.Log()), nullptr, false);
  ASSERT_TRUE(steady.is_object()) << load.Log();
  EXPECT_EQ(steady.value("failed", -1), 0) << steady.dump();
  EXPECT_GT(steady.value("n", 0), 1000) << steady.dump();

  // Nodes, tasks and placements come back from the store.
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  const json task = c.Task("lamp");
  ASSERT_FALSE(task.is_null()) << c.Logs();
  EXPECT_EQ(task.value("node", ""), "A");
  EXPECT_EQ(task.value("state", ""), "serving");
  EXPECT_GE(task.value("version", int64_t{0}), 1);
  const json after = c.Predict("lamp", "test.csv");
  ASSERT_FALSE(after.is_null()) << c.last_err();
  EXPECT_EQ(after.value("failed", -1), 0);
}

TEST(ClusterTest, FeedbackUnderLoadHotSwapsWithZeroFailedRequests) {
  Cluster c("hotswap");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  ASSERT_EQ(c.Submit("window", "").exit_code, 0);
  ASSERT_TRUE(c.WaitServing("window")) << c.Logs();
  const json v1 = c.Predict("window", "shifted_test.csv");
  ASSERT_FALSE(v1.is_null()) << c.last_err();

  Process load({"predict", "--coordinator", c.address(), "--task", "window", "--data",
                "csv:" + c.dir() + "/shifted_test.csv", "--duration-s", "15", "--json"},
               c.dir() + "/load.log");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const RunResult fb = c.Mliot({"feedback", "--task", "window", "--data", "csv:" + c.dir() + "/feedback.csv", "--json"});
  ASSERT_EQ(fb.exit_code, 0) << fb.err;
  EXPECT_EQ(ParseLast(fb).value("accepted_rows", 0), 200);
  while (load.running()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const json steady = json::parse(LastLine(load.Log()), nullptr, false);
  ASSERT_TRUE(steady.is_object()) << load.Log();
  EXPECT_EQ(steady.value("failed", -1), 0) << steady.dump();
  EXPECT_GT(steady.value("version", int64_t{0}), steady.value("first_version", int64_t{0}))
      << "no new version during the load\n" << steady.dump() << "\n" << c.Logs();
  // The node learned what a request of this (sensor) task costs it from the
  // load: CPU per request, positive and no more than a few times the
  // request's wall time (a request runs on one thread or two at a time).
  const json nodes = ParseLast(c.Mliot({"nodes", "--json"}));
  ASSERT_TRUE(nodes.is_array() && !nodes.empty()) << nodes.dump();
  const double learned = nodes[0].value("serve_ms", json::object()).value("sensor", 0.0);
  const double wall = steady.value("latency_ms", json::object()).value("mean", 0.0);
  EXPECT_GT(learned, 0) << nodes.dump();
  EXPECT_LT(learned, 3 * wall) << nodes.dump() << "\n" << steady.dump();
  EXPECT_EQ(nodes[0].value("serve_ms", json::object()).value("image", -1.0), 0) << nodes.dump();
  bool worker_learned = false;
  for (const json& w : nodes[0].value("workers", json::array())) {
    worker_learned |= w.value("role", "") == "serve" && w.value("serve_ms", 0.0) > 0;
  }
  EXPECT_TRUE(worker_learned) << nodes.dump();
  const json v2 = c.Predict("window", "shifted_test.csv");
  ASSERT_FALSE(v2.is_null());
  EXPECT_GT(v2.value("version", int64_t{0}), v1.value("version", int64_t{0}));
  EXPECT_GE(v2.value("accuracy", 0.0), v1.value("accuracy", 0.0)) << v1.dump() << " -> " << v2.dump();
}

// The PIDs of running processes whose command line contains every one of
// `words` (as whole arguments or substrings of one).
std::vector<int> FindProcesses(const std::vector<std::string>& words) {
  std::vector<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool all = !cmdline.empty();
    for (const std::string& w : words) all = all && cmdline.find(w) != std::string::npos;
    if (all) pids.push_back(std::stoi(name));
  }
  return pids;
}

std::string Maps(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Lean serving (issue 19): the mlp trains in the torch module and serves on
// Eigen; neither the serving worker nor the agent maps libtorch.
TEST(ClusterTest, ServingWorkerOfAnMlpTaskMapsNoLibtorch) {
  Cluster c("lean");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  ASSERT_EQ(c.Submit("neural", "", 4, "mlp").exit_code, 0);
  ASSERT_TRUE(c.WaitServing("neural")) << c.Logs();
  const json p = c.Predict("neural", "test.csv");
  ASSERT_FALSE(p.is_null()) << c.last_err();
  EXPECT_GT(p.value("accuracy", 0.0), 0.8) << p.dump();
  const std::vector<int> serving = FindProcesses({"worker", "serve", c.dir() + "/A/"});
  ASSERT_EQ(serving.size(), 1u) << c.Logs();
  const std::vector<int> agent = FindProcesses({"node", "--name", c.dir() + "/A"});
  ASSERT_FALSE(agent.empty());
  for (int pid : {serving.front(), agent.front()}) {
    const std::string maps = Maps(pid);
    ASSERT_NE(maps.find("libgrpc"), std::string::npos) << "not an mliot process: " << pid;
    EXPECT_EQ(maps.find("libtorch"), std::string::npos) << "process " << pid << " maps libtorch";
    EXPECT_EQ(maps.find("libc10"), std::string::npos) << "process " << pid << " maps libc10";
  }
}

// Without libmliot_torch.so a node still joins (its device benchmark skips
// the cnn fit), trains and serves every other kind, and a task asking for a
// torch kind says why it cannot train.
TEST(ClusterTest, WithoutTheTorchModuleEverythingElseWorks) {
  Cluster c("notorch");
  c.StartCoordinator();
  setenv("MLIOT_TORCH_MODULE", "/nonexistent/libmliot_torch.so", 1);
  c.StartNode("A");
  unsetenv("MLIOT_TORCH_MODULE");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  ASSERT_EQ(c.Submit("plain", "", 2).exit_code, 0);
  ASSERT_TRUE(c.WaitServing("plain")) << c.Logs();
  const json p = c.Predict("plain", "test.csv");
  ASSERT_FALSE(p.is_null()) << c.last_err();
  EXPECT_GT(p.value("accuracy", 0.0), 0.8) << p.dump();
  ASSERT_EQ(c.Submit("neural", "", 2, "mlp").exit_code, 0);
  std::string message;
  const auto start = Clock::now();
  while (message.find("torch module") == std::string::npos && Since(start) < 60) {
    message = c.Task("neural").value("message", "");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_NE(message.find("needs the torch module"), std::string::npos) << message << "\n" << c.Logs();
}

TEST(ClusterTest, UnknownTaskAndBadTokenAreClearErrors) {
  Cluster c("errors");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"predict", "--task", "nope", "--data", "csv:" + c.dir() + "/test.csv"},
        std::vector<std::string>{"wait", "--task", "nope", "--timeout-s", "5"},
        std::vector<std::string>{"cancel", "--task", "nope"}}) {
    const RunResult r = c.Mliot(args);
    EXPECT_GT(r.exit_code, 0) << args[0];
    EXPECT_LT(r.exit_code, 128) << args[0];
    EXPECT_NE(r.err.find("nope"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  ASSERT_EQ(c.Submit("fan", "").exit_code, 0);
  ASSERT_TRUE(c.WaitServing("fan")) << c.Logs();
  const json wrong = c.Predict("fan", "test.csv", {"--token", "not-the-token"});
  EXPECT_TRUE(wrong.is_null());
  EXPECT_NE(c.last_err().find("token"), std::string::npos) << c.last_err();
  // Submitting the same name twice is refused, and the first task is intact.
  const RunResult twice = c.Submit("fan", "");
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_NE(twice.err.find("fan"), std::string::npos) << twice.err;
  EXPECT_FALSE(c.Predict("fan", "test.csv").is_null());
}

// Certificates: a CA, one certificate for the coordinator and nodes (server
// and client use), one for the command-line client.
bool MakeCerts(const std::string& dir) {
  {
    std::ofstream script(dir + "/make-certs.sh");
    script << "set -e\ncd '" << dir << "'\n"
           << "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=mliot-test-ca\n"
           << "for n in server client; do\n"
           << "  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n\n"
           << "  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > $n.ext\n"
           << "  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext\n"
           << "done\n"
           << "chmod 600 *.key\n";
  }
  return std::system(("bash '" + dir + "/make-certs.sh' >'" + dir + "/make-certs.log' 2>&1").c_str()) == 0 &&
         fs::exists(dir + "/client.pem");
}

TEST(ClusterTest, TlsRefusesPlaintextClientsWithoutCertificatesAndWrongTokens) {
  Cluster c("tls");
  ASSERT_TRUE(MakeCerts(c.dir())) << "openssl failed";
  const std::string d = c.dir() + "/";
  const std::vector<std::string> server = {"--tls-cert", d + "server.pem", "--tls-key", d + "server.key",
                                           "--tls-ca",   d + "ca.pem",     "--require-client-cert"};
  c.StartCoordinator(server);
  std::vector<std::string> node_args = server;
  c.StartNode("A", node_args);
  c.set_client_tls({"--tls-cert", d + "client.pem", "--tls-key", d + "client.key", "--tls-ca", d + "ca.pem"});
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();

  // Plaintext client.
  const RunResult plain = RunMliot({"nodes", "--coordinator", c.address(), "--json"}, std::chrono::seconds(30));
  EXPECT_NE(plain.exit_code, 0) << plain.out;
  EXPECT_NE(plain.err.find("mliot: error:"), std::string::npos) << plain.err;
  // TLS client without a certificate under --require-client-cert.
  const RunResult no_cert =
      RunMliot({"nodes", "--coordinator", c.address(), "--tls-ca", d + "ca.pem", "--json"}, std::chrono::seconds(30));
  EXPECT_NE(no_cert.exit_code, 0) << no_cert.out;
  // The full client works.
  EXPECT_EQ(c.Mliot({"nodes", "--json"}).exit_code, 0);

  ASSERT_EQ(c.Submit("secure", "").exit_code, 0) << c.Logs();
  ASSERT_TRUE(c.WaitServing("secure")) << c.Logs();
  const json ok = c.Predict("secure", "test.csv");
  ASSERT_FALSE(ok.is_null()) << c.last_err();
  EXPECT_GT(ok.value("accuracy", 0.0), 0.8);
  EXPECT_TRUE(c.Predict("secure", "test.csv", {"--token", "wrong"}).is_null());
  EXPECT_NE(c.last_err().find("token"), std::string::npos) << c.last_err();
}

// The embedded default: coordinator + one node in one process.
TEST(ClusterTest, UpRunsCoordinatorAndNodeAndSaysWhatProtectsIt) {
  Cluster c("up");
  const RunResult open = RunMliot({"up", "--listen", "0.0.0.0:" + std::to_string(FreePort()), "--data-dir",
                                   c.dir() + "/refused"}, std::chrono::seconds(30));
  EXPECT_EQ(open.exit_code, 2) << open.err;
  EXPECT_NE(open.err.find("loopback"), std::string::npos) << open.err;
  EXPECT_FALSE(fs::exists(c.dir() + "/refused/coordinator.db"));

  Process up({"up", "--listen", c.address(), "--data-dir", c.dir() + "/state"}, c.dir() + "/up.log");
  setenv("MLIOT_ADMIN_TOKEN_FILE", (c.dir() + "/state/admin.token").c_str(), 1);
  ASSERT_TRUE(c.WaitNodes(1)) << up.Log();
  EXPECT_NE(up.Log().find("every call needs a token"), std::string::npos) << up.Log();
  ASSERT_EQ(c.Submit("up-task", "").exit_code, 0) << up.Log();
  ASSERT_TRUE(c.WaitServing("up-task")) << up.Log();
  const json p = c.Predict("up-task", "test.csv");
  ASSERT_FALSE(p.is_null()) << c.last_err();
  EXPECT_GT(p.value("accuracy", 0.0), 0.8);
}

}  // namespace
}  // namespace mliot::testing
