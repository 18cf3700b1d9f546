#include "frontend/serving_router.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mliot::v2 {

ServingRouter::ServingRouter(RouterOptions options) : o_(std::move(options)) {
  // The worker checks the bearer, not a certificate: send none.
  o_.tls.cert.clear();
  o_.tls.key.clear();
}

absl::StatusOr<v1::Serving::Stub*> ServingRouter::StubFor(const std::string& task) {
  absl::StatusOr<std::string> address = o_.resolve(task);
  if (!address.ok()) return address.status();
  absl::MutexLock lock(&mu_);
  Route& r = routes_[task];
  if (!r.stub || r.address != *address) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(*address, o_.tls);
    if (!channel.ok()) return channel.status();
    r.address = *address;
    r.stub = v1::Serving::NewStub(*channel);
    r.model.reset();
  }
  return r.stub.get();
}

namespace {

// The worker's refusal, said for a protocol client (not the mliot command).
absl::Status Refusal(const grpc::Status& s, const std::string& task) {
  if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return absl::UnauthenticatedError(absl::StrCat("model '", task, "': ",
                                                   absl::StrContains(s.error_message(), "no credential")
                                                       ? "no token (send 'Authorization: Bearer TOKEN', the task's token)"
                                                       : "the token is not one of this task's (unknown, expired or "
                                                         "revoked)"));
  }
  return FromGrpc(s);
}

}  // namespace

void ServingRouter::Prepare(grpc::ClientContext* ctx, const std::string& bearer) const {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(o_.deadline_s * 1000)));
  if (!bearer.empty()) ctx->AddMetadata(kAuthorization, BearerValue(bearer));
}

absl::StatusOr<v1::HealthResponse> ServingRouter::Model(const std::string& task, const std::string& bearer,
                                                         bool cached) {
  absl::StatusOr<v1::Serving::Stub*> stub = StubFor(task);
  if (!stub.ok()) return stub.status();
  if (cached) {
    absl::MutexLock lock(&mu_);
    if (const auto& m = routes_[task].model) return *m;
  }
  grpc::ClientContext ctx;
  Prepare(&ctx, bearer);
  v1::HealthResponse response;
  grpc::Status s = (*stub)->Health(&ctx, v1::HealthRequest(), &response);
  if (!s.ok()) return Refusal(s, task);
  if (response.task() != task) {
    return absl::NotFoundError(absl::StrCat("model '", task, "' is not served here"));
  }
  absl::MutexLock lock(&mu_);
  routes_[task].model = std::make_shared<const v1::HealthResponse>(response);
  return response;
}

absl::StatusOr<v1::PredictResponse> ServingRouter::Predict(const std::string& task, const std::string& bearer,
                                                            const v1::PredictRequest& request) {
  absl::StatusOr<v1::Serving::Stub*> stub = StubFor(task);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  Prepare(&ctx, bearer);
  v1::PredictResponse response;
  grpc::Status s = (*stub)->Predict(&ctx, request, &response);
  if (!s.ok()) return Refusal(s, task);
  absl::MutexLock lock(&mu_);
  Route& r = routes_[task];
  if (r.model && r.model->version() != response.version()) r.model.reset();  // asked again next time
  return response;
}

absl::StatusOr<v1::FeedbackResponse> ServingRouter::Feedback(const std::string& task, const std::string& bearer,
                                                              const v1::FeedbackRequest& request) {
  absl::StatusOr<v1::Serving::Stub*> stub = StubFor(task);
  if (!stub.ok()) return stub.status();
  grpc::ClientContext ctx;
  Prepare(&ctx, bearer);
  v1::FeedbackResponse response;
  grpc::Status s = (*stub)->Feedback(&ctx, request, &response);
  if (!s.ok()) return Refusal(s, task);
  return response;
}

bool ServingRouter::AnyTask() const { return o_.tasks && !o_.tasks().empty(); }

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

std::string BearerOf(const std::string& authorization) {
  if (!absl::StartsWith(authorization, "Bearer ")) return "";
  return authorization.substr(7);
}

}  // namespace mliot::v2
