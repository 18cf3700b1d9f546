#include "cli/client.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <chrono>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "auth/secrets.h"
#include "common/stats.h"
#include "common/status_util.h"

namespace mliot::cli {
namespace {

std::string CachePath(const std::string& coordinator, const std::string& task) {
  const std::string dir = (std::filesystem::temp_directory_path() / "mliot-client-cache").string();
  std::filesystem::create_directories(dir);
  std::error_code ec;  // the answers hold task tokens: the user's own
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  return absl::StrCat(dir, "/", absl::StrReplaceAll(coordinator, {{":", "_"}, {"/", "_"}}), "-", task, ".pb");
}

absl::Status Unreachable(const grpc::Status& s, const std::string& address) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat("coordinator ", address, " unreachable: ", s.error_message()));
  }
  return FromGrpc(s);
}

}  // namespace

absl::StatusOr<std::string> AdminToken(const TlsOptions& tls) {
  std::string path = tls.admin_token_file;
  if (path.empty()) {
    const char* env = std::getenv("MLIOT_ADMIN_TOKEN_FILE");
    if (env != nullptr) path = env;
  }
  if (path.empty()) {
    // `mliot up`'s default data directory, so the README's commands work as written.
    if (!std::filesystem::exists(kDefaultAdminTokenFile)) return std::string();
    path = kDefaultAdminTokenFile;
  }
  absl::StatusOr<std::string> token = auth::ReadSecretFile(path);
  if (!token.ok()) {
    return absl::Status(token.status().code(), absl::StrCat("admin token: ", token.status().message()));
  }
  return token;
}

absl::StatusOr<Client> Client::Connect(const std::string& coordinator, const TlsOptions& tls) {
  if (coordinator.empty()) return absl::InvalidArgumentError("--coordinator is required");
  Client c;
  c.address_ = coordinator;
  c.tls_ = tls;
  MLIOT_ASSIGN_OR_RETURN(const std::string admin, AdminToken(tls));
  c.admin_ = !admin.empty();
  MLIOT_ASSIGN_OR_RETURN(c.channel_, MakeChannel(coordinator, tls, DefaultChannelArguments(), admin));
  c.coordinator_ = v1::Coordinator::NewStub(c.channel_);
  return c;
}

absl::StatusOr<v1::TaskInfo> Client::GetTask(const std::string& task, bool allow_cache,
                                              const std::string& client_token) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  // Without the admin credential, the task's own token may read its record.
  if (!admin_ && !client_token.empty()) ctx.AddMetadata(kAuthorization, BearerValue(client_token));
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

absl::StatusOr<v1::HealthResponse> Client::Health(const std::string& task, const std::string& token_override) {
  MLIOT_ASSIGN_OR_RETURN(v1::TaskInfo info, GetTask(task, true, token_override));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<v1::Serving::Stub> stub, ServingStub(info));
  grpc::ClientContext ctx;
  ctx.AddMetadata(kAuthorization, BearerValue(token_override.empty() ? info.token() : token_override));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::HealthResponse response;
  MLIOT_RETURN_IF_ERROR(FromGrpc(stub->Health(&ctx, v1::HealthRequest(), &response)));
  return response;
}

absl::StatusOr<Client::PredictResult> Client::Predict(const std::string& task, const Dataset& data,
                                                      const std::string& token_override, double duration_s) {
  return SendPredictions(
      task, data.rows,
      [&](int64_t i, v1::PredictRequest* request) {
        request->set_rows(1);
        request->mutable_features()->Add(data.row(i), data.row(i) + data.cols);
      },
      [&](int64_t i) {
        const int32_t label = data.labels[static_cast<size_t>(i)];
        return label >= 0 ? data.class_names[label] : std::string();
      },
      token_override, duration_s);
}

absl::StatusOr<Client::PredictResult> Client::PredictRaw(const std::string& task, const RawDataset& raw,
                                                         const std::string& token_override) {
  const bool audio = raw.featurizer.name == "logmel";
  return SendPredictions(
      task, raw.data.rows,
      [&](int64_t i, v1::PredictRequest* request) {
        const RawWindow& w = raw.windows[static_cast<size_t>(i)];
        const Signal& s = raw.recordings[w.recording];
        v1::RawInput* in = request->mutable_raw();
        in->set_sample_rate(s.sample_rate);
        in->set_channels(s.channels);
        const float* begin = s.samples.data() + w.frames.begin * s.channels;
        const float* end = s.samples.data() + w.frames.end * s.channels;
        if (audio) {
          std::string* pcm = in->mutable_pcm16();
          pcm->resize(static_cast<size_t>(end - begin) * 2);
          for (const float* p = begin; p < end; ++p) {
            const auto v = static_cast<int16_t>(std::clamp(std::lround(*p * 32768.0f), -32768L, 32767L));
            (*pcm)[(p - begin) * 2] = static_cast<char>(v & 0xff);
            (*pcm)[(p - begin) * 2 + 1] = static_cast<char>((v >> 8) & 0xff);
          }
        } else {
          in->mutable_samples()->Add(begin, end);
          for (const std::string& c : s.channel_names) in->add_channel_names(c);
        }
      },
      [&](int64_t i) {
        const int32_t label = raw.data.labels[static_cast<size_t>(i)];
        return label >= 0 ? raw.data.class_names[label] : std::string();
      },
      token_override, 0);
}

absl::StatusOr<Client::PredictResult> Client::SendPredictions(
    const std::string& task, int64_t rows, const std::function<void(int64_t, v1::PredictRequest*)>& fill,
    const std::function<std::string(int64_t)>& label_of, const std::string& token_override, double duration_s) {
  MLIOT_ASSIGN_OR_RETURN(v1::TaskInfo info, GetTask(task, true, token_override));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<v1::Serving::Stub> stub, ServingStub(info));
  const std::string token = token_override.empty() ? info.token() : token_override;
  PredictResult r;
  r.node = info.node();
  std::vector<double> ms;
  int64_t correct = 0;
  if (rows == 0) return r;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration_s);
  for (int64_t k = 0; k < rows || (duration_s > 0 && std::chrono::steady_clock::now() < until); ++k) {
    const int64_t i = k % rows;
    v1::PredictRequest request;
    request.set_task(task);
    fill(i, &request);
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
      absl::StatusOr<v1::TaskInfo> again = GetTask(task, true, token_override);
      if (again.ok() && again->serving_address() != info.serving_address() && !again->serving_address().empty()) {
        info = *again;
        MLIOT_ASSIGN_OR_RETURN(stub, ServingStub(info));
        r.node = info.node();
      }
      continue;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (response.predictions_size() == 0) continue;
    ++r.n;
    if (r.n == 1) r.first_version = response.version();
    r.version = response.version();
    const v1::Prediction& p = response.predictions(0);
    r.stage1 += p.stage() == 1;
    const std::string label = label_of(i);
    if (!label.empty()) {
      ++r.labelled;
      correct += p.label() == label;
    }
  }
  r.accuracy = r.labelled > 0 ? static_cast<double>(correct) / static_cast<double>(r.labelled) : 0;
  r.p50_ms = Percentile(ms, 0.5);
  r.p99_ms = Percentile(ms, 0.99);
  double total = 0;
  for (double v : ms) total += v;
  r.mean_ms = ms.empty() ? 0 : total / static_cast<double>(ms.size());
  r.all_ms = std::move(ms);
  return r;
}

absl::StatusOr<int64_t> Client::Feedback(const std::string& task, const Dataset& data,
                                         const std::string& token_override) {
  MLIOT_ASSIGN_OR_RETURN(v1::TaskInfo info, GetTask(task, true, token_override));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<v1::Serving::Stub> stub, ServingStub(info));
  const std::string token = token_override.empty() ? info.token() : token_override;
  int64_t accepted = 0;
  // About 8 MiB of features a call (the serving worker takes up to 64 MiB):
  // 2,675 rows of 784, 341 log-mel patches. One burst of feedback is then
  // usually one call, so the training worker adapts once for it.
  const int64_t kBatch = std::max<int64_t>(1, (int64_t{8} << 20) / (std::max<int64_t>(1, data.cols) * 4));
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

grpc::ClientContext* WithDeadline(grpc::ClientContext* ctx, double seconds) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return ctx;
}

}  // namespace mliot::cli
