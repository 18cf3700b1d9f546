// Frontend: the protocol endpoints of a node or of the coordinator, on two
// ports beside mliot's own gRPC port:
//   HTTP  (--http-listen)  the Open Inference Protocol's REST API (/v2/...),
//                          /metrics (Prometheus text), and whatever routes
//                          the owner adds (the coordinator's dashboard);
//   gRPC  (the HTTP port + 1, or --v2-grpc-listen)  inference.GRPCInferenceService
//                          and gRPC's health service.
// Every inference goes to the task's serving worker through a ServingRouter,
// with the caller's bearer token (the worker checks it). HTTPS and TLS when
// the TLS options carry a certificate and key.
#ifndef MLIOT_FRONTEND_FRONTEND_H_
#define MLIOT_FRONTEND_FRONTEND_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/grpc_util.h"
#include "frontend/infer_call.h"
#include "frontend/serving_router.h"

namespace httplib {
class Server;
}
namespace grpc {
class Server;
}

namespace mliot::v2 {

class V2GrpcService;
class FrontendMetrics;

struct FrontendOptions {
  std::string http_listen = "127.0.0.1:0";  // HOST:PORT
  std::string grpc_listen;                  // "": the HTTP port + 1 (any free port when that is 0)
  // The ports were derived, not asked for: when one is taken, take any free
  // port instead (and say so) rather than fail.
  bool any_port_if_taken = false;
  TlsOptions tls;
  RouterOptions router;
  // /metrics: the process's Prometheus text; unset: no /metrics.
  std::function<std::string()> metrics_text;
  // More HTTP routes, added before the server starts (the dashboard).
  std::function<void(httplib::Server&)> routes;
  // Told of every inference call (after the front end's own metrics).
  RequestObserver* observer = nullptr;
  std::string log_name;  // the owner's name in log lines
};

class Frontend {
 public:
  static absl::StatusOr<std::unique_ptr<Frontend>> Start(FrontendOptions options);
  ~Frontend();

  // "http://HOST:PORT" (https with TLS).
  const std::string& http_url() const { return http_url_; }
  // "HOST:PORT" of the v2 gRPC service.
  const std::string& grpc_address() const { return grpc_address_; }
  // gRPC health: SERVING while some task is ready.
  void SetServing(bool serving);
  // The front end's own metrics (requests, end to end and queue latency),
  // for the owner's /metrics: families to add to its exposition.
  FrontendMetrics& metrics() { return *metrics_; }
  ServingRouter& router() { return *router_; }

 private:
  explicit Frontend(FrontendOptions options);
  absl::Status StartHttp();
  absl::Status StartGrpc();
  void AddV2Routes();

  FrontendOptions o_;
  std::unique_ptr<ServingRouter> router_;
  std::unique_ptr<FrontendMetrics> metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::thread http_thread_;
  std::string http_url_;
  std::unique_ptr<V2GrpcService> grpc_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::string grpc_address_;
  class Observer;
  std::unique_ptr<Observer> observer_;
  class Auth;
  std::unique_ptr<Auth> auth_;
};

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_FRONTEND_H_
