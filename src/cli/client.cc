#include "cli/client.h"

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/stats.h"
#include "common/status_util.h"

namespace mliot::cli {
namespace {

std::string CachePath(const std::string& coordinator, const std::string& task) {
  const std::string dir = (std::filesystem::temp_directory_path() / "mliot-client-cache").string();
  std::filesystem::create_directories(dir);
  return absl::StrCat(dir, "/", absl::StrReplaceAll(coordinator, {{":", "_"}, {"/", "_"}}), "-", task, ".pb");
}

absl::Status Unreachable(const grpc::Status& s, const std::string& address) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat("coordinator ", address, " unreachable: ", s.error_message()));
  }
  return FromGrpc(s);
}

}  // namespace

absl::StatusOr<Client> Client::Connect(const std::string& coordinator, const TlsOptions& tls) {
  if (coordinator.empty()) return absl::InvalidArgumentError("--coordinator is required");
  Client c;
  c.address_ = coordinator;
  c.tls_ = tls;
  MLIOT_ASSIGN_OR_RETURN(c.channel_, MakeChannel(coordinator, tls));
  c.coordinator_ = v1::Coordinator::NewStub(c.channel_);
  return c;
}

absl::StatusOr<v1::TaskInfo> Client::GetTask(const std::string& task, bool allow_cache) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  v1::GetTaskRequest request;
  request.set_task(task);
  v1::TaskInfo info;
  const grpc::Status s = coordinator_->GetTask(&ctx, request, &info);
  const std::string cache = CachePath(address_, task);
  if (s.ok()) {
    if (info.phase() == v1::TASK_PHASE_SERVING) (void)WriteFileAtomically(cache, info.SerializeAsString());
    return info;
  }
  if (allow_cache && s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    absl::StatusOr<std::string> cached = ReadFile(cache);
    if (cached.ok() && info.ParseFromString(*cached)) return info;
  }
  return Unreachable(s, address_);
}

absl::StatusOr<std::unique_ptr<v1::Serving::Stub>> Client::ServingStub(const v1::TaskInfo& info) {
  if (info.serving_address().empty()) {
    return absl::FailedPreconditionError(absl::StrCat("task '", info.name(), "' is not serving yet (state ",
                                                      v1::TaskPhase_Name(info.phase()), ")"));
  }
  MLIOT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(info.serving_address(), tls_));
  return v1::Serving::NewStub(channel);
}

absl::StatusOr<Client::PredictResult> Client::Predict(const std::string& task, const Dataset& data,
                                                      const std::string& token_override, double duration_s) {
  MLIOT_ASSIGN_OR_RETURN(v1::TaskInfo info, GetTask(task));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<v1::Serving::Stub> stub, ServingStub(info));
  const std::string token = token_override.empty() ? info.token() : token_override;
  PredictResult r;
  r.node = info.node();
  std::vector<double> ms;
  int64_t correct = 0;
  if (data.rows == 0) return r;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration_s);
  for (int64_t k = 0; k < data.rows || (duration_s > 0 && std::chrono::steady_clock::now() < until); ++k) {
    const int64_t i = k % data.rows;
    v1::PredictRequest request;
    request.set_task(task);
    request.set_rows(1);
    request.mutable_features()->Add(data.row(i), data.row(i) + data.cols);
    v1::PredictResponse response;
    grpc::ClientContext ctx;
    ctx.AddMetadata(kAuthorization, BearerValue(token));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s = stub->Predict(&ctx, request, &response);
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        return FromGrpc(s);
      }
      ++r.failed;
      // The serving worker may have moved (failover): look the task up again.
      absl::StatusOr<v1::TaskInfo> again = GetTask(task);
      if (again.ok() && again->serving_address() != info.serving_address() && !again->serving_address().empty()) {
        info = *again;
        MLIOT_ASSIGN_OR_RETURN(stub, ServingStub(info));
        r.node = info.node();
      }
      continue;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    ++r.n;
    if (r.n == 1) r.first_version = response.version();
    r.version = response.version();
    const v1::Prediction& p = response.predictions(0);
    r.stage1 += p.stage() == 1;
    const int32_t label = data.labels[static_cast<size_t>(i)];
    if (label >= 0) {
      ++r.labelled;
      correct += p.label() == data.class_names[label];
    }
  }
  r.accuracy = r.labelled > 0 ? static_cast<double>(correct) / static_cast<double>(r.labelled) : 0;
  r.p50_ms = Percentile(ms, 0.5);
  r.p99_ms = Percentile(ms, 0.99);
  r.all_ms = std::move(ms);
  return r;
}

absl::StatusOr<int64_t> Client::Feedback(const std::string& task, const Dataset& data,
                                         const std::string& token_override) {
  MLIOT_ASSIGN_OR_RETURN(v1::TaskInfo info, GetTask(task));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<v1::Serving::Stub> stub, ServingStub(info));
  const std::string token = token_override.empty() ? info.token() : token_override;
  int64_t accepted = 0;
  constexpr int64_t kBatch = 256;
  for (int64_t i = 0; i < data.rows; i += kBatch) {
    const int64_t n = std::min(kBatch, data.rows - i);
    v1::FeedbackRequest request;
    request.set_task(task);
    request.set_rows(static_cast<int32_t>(n));
    request.mutable_features()->Add(data.row(i), data.row(i) + n * data.cols);
    for (int64_t j = i; j < i + n; ++j) {
      const int32_t label = data.labels[static_cast<size_t>(j)];
      if (label < 0) {
        return absl::InvalidArgumentError(absl::StrCat(data.source, ": row ", j + 1, " has no label; feedback needs labels"));
      }
      request.add_labels(data.class_names[label]);
    }
    v1::FeedbackResponse response;
    grpc::ClientContext ctx;
    ctx.AddMetadata(kAuthorization, BearerValue(token));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    MLIOT_RETURN_IF_ERROR(FromGrpc(stub->Feedback(&ctx, request, &response)));
    accepted += response.accepted_rows();
  }
  return accepted;
}

}  // namespace mliot::cli
