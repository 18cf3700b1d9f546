// ServingRouter: the one way the protocol front ends (HTTP and v2 gRPC, on a
// node or on the coordinator) reach a task: its serving worker's mliot gRPC
// service, found by name. The caller's bearer token travels on unchanged, so
// the worker's own authorizer decides (auth/roles.h: a client of that task);
// the front end holds no credential and grants nothing.
//
// The worker's Health (class names, features, version) is cached per task
// and fetched again when an answer comes from another version.
#ifndef MLIOT_FRONTEND_SERVING_ROUTER_H_
#define MLIOT_FRONTEND_SERVING_ROUTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_util.h"
#include "mliot/v1/serving.grpc.pb.h"

namespace mliot::v2 {

struct RouterOptions {
  // Where task `task`'s serving worker listens (host:port); NotFound when
  // the task is not served through this front end.
  std::function<absl::StatusOr<std::string>(const std::string& task)> resolve;
  // The tasks served now (server readiness).
  std::function<std::vector<std::string>()> tasks;
  // TLS towards the workers (their CA; no client certificate is sent, so the
  // worker judges the caller's bearer token).
  TlsOptions tls;
  double deadline_s = 30;
};

class ServingRouter {
 public:
  explicit ServingRouter(RouterOptions options);

  // The task's Health, asked of its worker with the caller's token (so it
  // also checks the token). `cached`: a copy from an earlier call may do
  // (the infer path, whose Predict checks the token).
  absl::StatusOr<v1::HealthResponse> Model(const std::string& task, const std::string& bearer, bool cached);
  absl::StatusOr<v1::PredictResponse> Predict(const std::string& task, const std::string& bearer,
                                              const v1::PredictRequest& request);
  absl::StatusOr<v1::FeedbackResponse> Feedback(const std::string& task, const std::string& bearer,
                                                const v1::FeedbackRequest& request);
  // Whether any task is served (readiness of the server).
  bool AnyTask() const;

 private:
  struct Route {
    std::string address;
    std::unique_ptr<v1::Serving::Stub> stub;
    std::shared_ptr<const v1::HealthResponse> model;
  };
  // The task's stub (a new channel when the address changed).
  absl::StatusOr<v1::Serving::Stub*> StubFor(const std::string& task);
  void Prepare(grpc::ClientContext* ctx, const std::string& bearer) const;

  RouterOptions o_;
  absl::Mutex mu_;
  std::map<std::string, Route> routes_ ABSL_GUARDED_BY(mu_);
};

// An HTTP status for a status code: 400, 401, 403, 404, 503, 504, 500.
int HttpStatusOf(absl::StatusCode code);
// The bearer token of an `Authorization: Bearer TOKEN` value ("" otherwise).
std::string BearerOf(const std::string& authorization);

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_SERVING_ROUTER_H_
