#include "frontend/frontend.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "auth/authorizer.h"
#include "frontend/frontend_metrics.h"
#include "frontend/v2_grpc_service.h"
#include "frontend/v2_json.h"

namespace mliot::v2 {

// Records each call in the front end's metrics, then tells the owner.
class Frontend::Observer final : public RequestObserver {
 public:
  Observer(FrontendMetrics* metrics, RequestObserver* next) : metrics_(metrics), next_(next) {}
  void Observe(const std::string& protocol, const std::string& task, const absl::StatusOr<InferResult>& result,
               std::chrono::steady_clock::time_point start) override {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int code = HttpStatusOf(result.status().code());
    // An unknown task's name is the caller's: not a label (unbounded).
    metrics_->Observe(protocol, code == 404 ? "unknown" : task, code, seconds,
                      result.ok() ? result->worker_seconds : 0);
    if (next_ != nullptr) next_->Observe(protocol, task, result, start);
  }

 private:
  FrontendMetrics* metrics_;
  RequestObserver* next_;
};

// The v2 gRPC port's authorizer: only the protocol's and gRPC health's
// methods (auth/roles.cc); the task's worker judges the bearer token.
class Frontend::Auth {
 public:
  Auth() : authorizer(auth::AuthorizerOptions{}) {}
  auth::Authorizer authorizer;
};

Frontend::Frontend(FrontendOptions options) : o_(std::move(options)) {}

Frontend::~Frontend() {
  if (http_) http_->stop();
  if (http_thread_.joinable()) http_thread_.join();
  if (grpc_server_) grpc_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

absl::StatusOr<std::unique_ptr<Frontend>> Frontend::Start(FrontendOptions options) {
  std::unique_ptr<Frontend> f(new Frontend(std::move(options)));
  f->router_ = std::make_unique<ServingRouter>(f->o_.router);
  f->metrics_ = std::make_unique<FrontendMetrics>();
  f->observer_ = std::make_unique<Observer>(f->metrics_.get(), f->o_.observer);
  if (absl::Status s = f->StartHttp(); !s.ok()) return s;
  if (absl::Status s = f->StartGrpc(); !s.ok()) return s;
  return f;
}

namespace {

// HOST and PORT of "HOST:PORT"; InvalidArgument naming the flag's value.
absl::Status SplitHostPort(const std::string& hostport, std::string* host, int* port) {
  const size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(hostport.substr(colon + 1), port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", hostport, "' is not HOST:PORT"));
  }
  *host = hostport.substr(0, colon);
  return absl::OkStatus();
}

void Reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void ReplyError(httplib::Response& res, const absl::Status& s) {
  Reply(res, HttpStatusOf(s.code()), ErrorJson(std::string(s.message())));
}

std::string BearerOfRequest(const httplib::Request& req) { return BearerOf(req.get_header_value("Authorization")); }

}  // namespace

void Frontend::AddV2Routes() {
  httplib::Server& s = *http_;
  s.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, ServerMetadataJson(MLIOT_VERSION));
  });
  s.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
  s.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    res.status = router_->AnyTask() ? 200 : 503;
  });
  // /v2/models/TASK[/versions/V][/ready|/infer]
  static const char* kModel = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
  s.Get(absl::StrCat(kModel, "/ready"), [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<v1::HealthResponse> m = router_->Model(req.matches[1], BearerOfRequest(req), false);
    if (!m.ok()) return ReplyError(res, m.status());
    absl::Status v = CheckVersion(req.matches[2], *m);
    res.status = v.ok() ? 200 : 404;
    if (!v.ok()) ReplyError(res, v);
  });
  s.Get(kModel, [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<v1::HealthResponse> m = router_->Model(req.matches[1], BearerOfRequest(req), false);
    if (!m.ok()) return ReplyError(res, m.status());
    if (absl::Status v = CheckVersion(req.matches[2], *m); !v.ok()) return ReplyError(res, v);
    Reply(res, 200, MetadataJson(MetadataOf(*m)));
  });
  s.Post(absl::StrCat(kModel, "/infer"), [this](const httplib::Request& req, httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    const std::string task = req.matches[1];
    size_t header_length = 0;
    const std::string length = req.get_header_value("Inference-Header-Content-Length");
    absl::StatusOr<InferResult> result;
    if (!length.empty() && !absl::SimpleAtoi(length, &header_length)) {
      result = absl::InvalidArgumentError("Inference-Header-Content-Length is not a number");
    } else {
      result = Infer(*router_, task, req.matches[2], BearerOfRequest(req),
                     [&] { return ParseInferRequest(req.body, header_length); });
    }
    observer_->Observe("v2-rest", task, result, start);
    if (!result.ok()) return ReplyError(res, result.status());
    size_t json_length = 0;
    std::string body = WriteInferResponse(*result, &json_length);
    if (json_length > 0) {
      res.set_header("Inference-Header-Content-Length", std::to_string(json_length));
      res.set_content(std::move(body), "application/octet-stream");
    } else {
      res.set_content(std::move(body), "application/json");
    }
  });
}

absl::Status Frontend::StartHttp() {
  std::string host;
  int port = 0;
  if (absl::Status s = SplitHostPort(o_.http_listen, &host, &port); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen: ", s.message()));
  }
  const bool tls = !o_.tls.cert.empty() && !o_.tls.key.empty();
  if (tls) {
    http_ = std::make_unique<httplib::SSLServer>(o_.tls.cert.c_str(), o_.tls.key.c_str());
    if (!static_cast<httplib::SSLServer&>(*http_).is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat("HTTPS: cannot use certificate ", o_.tls.cert, " and key ",
                                                     o_.tls.key));
    }
  } else {
    http_ = std::make_unique<httplib::Server>();
  }
  // Keep-alive connections each hold a thread: enough threads for many
  // clients and the dashboard's event streams.
  http_->new_task_queue = [] { return new httplib::ThreadPool(64); };
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(1 << 20);
  http_->set_payload_max_length(64u << 20);
  AddV2Routes();
  if (o_.metrics_text) {
    http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(o_.metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  if (o_.routes) o_.routes(*http_);
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    Reply(res, 500, ErrorJson("internal error"));
  });
  int bound = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0 && o_.any_port_if_taken) {
    bound = http_->bind_to_any_port(host);
    port = 0;
  }
  if (bound <= 0) return absl::UnavailableError(absl::StrCat("--http-listen: cannot listen on ", o_.http_listen));
  http_url_ = absl::StrCat(tls ? "https://" : "http://", host, ":", bound);
  http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  if (o_.grpc_listen.empty()) o_.grpc_listen = absl::StrCat(host, ":", port == 0 ? 0 : bound + 1);
  return absl::OkStatus();
}

absl::Status Frontend::StartGrpc() {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(o_.tls);
  if (!creds.ok()) return creds.status();
  auth_ = std::make_unique<Auth>();
  grpc_service_ = std::make_unique<V2GrpcService>(router_.get(), observer_.get());
  grpc::EnableDefaultHealthCheckService(true);
  int port = 0;
  auto build = [&](const std::string& address) {
    grpc::ServerBuilder builder;
    auth_->authorizer.Install(**creds, builder);
    builder.AddListeningPort(address, *creds, &port);
    builder.RegisterService(grpc_service_.get());
    grpc_server_ = builder.BuildAndStart();
  };
  build(o_.grpc_listen);
  if ((!grpc_server_ || port == 0) && o_.any_port_if_taken) {
    o_.grpc_listen = absl::StrCat(o_.grpc_listen.substr(0, o_.grpc_listen.rfind(':')), ":0");
    build(o_.grpc_listen);
  }
  if (!grpc_server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("v2 gRPC: cannot listen on ", o_.grpc_listen));
  }
  grpc_address_ = absl::StrCat(o_.grpc_listen.substr(0, o_.grpc_listen.rfind(':')), ":", port);
  SetServing(router_->AnyTask());
  return absl::OkStatus();
}

void Frontend::SetServing(bool serving) {
  if (grpc_server_ && grpc_server_->GetHealthCheckService() != nullptr) {
    grpc_server_->GetHealthCheckService()->SetServingStatus(serving);
  }
}

}  // namespace mliot::v2
