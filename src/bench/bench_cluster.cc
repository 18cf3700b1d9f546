#include "bench/bench_cluster.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "auth/secrets.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/status_util.h"

namespace mliot::bench {

absl::Status WaitUntil(const std::function<bool()>& done, double timeout_s, const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < timeout_s) {
    if (done()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(what, " not within ", timeout_s, " s"));
}

BenchCluster::~BenchCluster() {
  if (node_ > 0) StopProcess(node_, SIGTERM, std::chrono::seconds(10));
  if (coordinator_ > 0) StopProcess(coordinator_, SIGTERM, std::chrono::seconds(5));
}

absl::Status BenchCluster::Start(const std::string& dir) {
  const std::string exe = SelfExe();
  const int port = FreeLoopbackPort();
  address_ = absl::StrCat("127.0.0.1:", port);
  MLIOT_ASSIGN_OR_RETURN(coordinator_, Spawn({.args = {exe, "coordinator", "--listen", address_, "--data-dir",
                                                       dir + "/coord"},
                                              .stdin_path = "/dev/null",
                                              .stdout_path = dir + "/coordinator.log",
                                              .stderr_path = dir + "/coordinator.log"}));
  MLIOT_RETURN_IF_ERROR(WaitUntil([&] { return LoopbackAccepts(port); }, 20, "the coordinator listening"));
  MLIOT_ASSIGN_OR_RETURN(node_, Spawn({.args = {exe, "node", "--coordinator", address_, "--listen", "127.0.0.1:0",
                                                "--data-dir", dir + "/node", "--name", "edge", "--benchmark", "quick",
                                                "--join-token-file", dir + "/coord/join.token"},
                                       .stdin_path = "/dev/null",
                                       .stdout_path = dir + "/node.log",
                                       .stderr_path = dir + "/node.log"}));
  MLIOT_ASSIGN_OR_RETURN(std::string admin, auth::ReadSecretFile(dir + "/coord/admin.token"));
  MLIOT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                         MakeChannel(address_, TlsOptions{}, DefaultChannelArguments(), admin));
  stub_ = v1::Coordinator::NewStub(channel);
  return WaitUntil([&] { return Node().ok(); }, 90, "the node registered");
}

absl::StatusOr<v1::NodeSummary> BenchCluster::Node() {
  grpc::ClientContext ctx;
  v1::ListNodesResponse nodes;
  MLIOT_RETURN_IF_ERROR(FromGrpc(stub_->ListNodes(&ctx, v1::ListNodesRequest{}, &nodes)));
  if (nodes.nodes_size() == 0 || !nodes.nodes(0).alive()) return absl::UnavailableError("no node alive");
  return nodes.nodes(0);
}

absl::StatusOr<v1::TaskInfo> BenchCluster::Task(const std::string& task) {
  grpc::ClientContext ctx;
  v1::GetTaskRequest request;
  request.set_task(task);
  v1::TaskInfo info;
  MLIOT_RETURN_IF_ERROR(FromGrpc(stub_->GetTask(&ctx, request, &info)));
  return info;
}

std::vector<v1::VersionStatus> BenchCluster::Versions(const std::string& task) {
  grpc::ClientContext ctx;
  v1::ListVersionsRequest request;
  request.set_task(task);
  v1::ListVersionsResponse response;
  if (!stub_->ListVersions(&ctx, request, &response).ok()) return {};
  return {response.versions().begin(), response.versions().end()};
}

int64_t BenchCluster::Serving(const std::string& task) {
  for (const v1::VersionStatus& v : Versions(task)) {
    if (v.state() == "serving" || v.state() == "pinned") return v.version();
  }
  return 0;
}

}  // namespace mliot::bench
