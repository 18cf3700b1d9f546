#include "node/benchmark.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "mliot/v1/node.grpc.pb.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "ml/model.h"
#include "ml/neural/torch_loader.h"

namespace mliot {
namespace {

constexpr double kCpuShare = 0.10;  // of the machine, averaged over the benchmark
// The xgboost and knn fits' share of the three reference fits' time (measured
// on a 2-core AMD EPYC: cnn 1 epoch 0.10 s, xgboost 50 trees + knn 0.18 s).
constexpr double kTableFitShare = 0.64;

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Synthetic {
  std::vector<float> x;
  std::vector<int32_t> y;
  int64_t rows = 0, cols = 0;
};

// Class c shifts a block of features; images get a bright quadrant.
Synthetic Make(int64_t rows, int64_t cols, int classes, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 0.5f);
  Synthetic s{{}, {}, rows, cols};
  for (int64_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(i % classes);
    s.y.push_back(c);
    for (int64_t j = 0; j < cols; ++j) s.x.push_back(g(rng) + ((j * classes / cols) == c ? 1.0f : 0.0f));
  }
  return s;
}

absl::StatusOr<double> FitAndTime(const std::string& kind_name, const Synthetic& s,
                                  std::optional<ImageShape> shape, Params overrides, int reps,
                                  double* fit_s) {
  MLIOT_ASSIGN_OR_RETURN(const ModelKind* kind, BuiltinModels().Find(kind_name));
  Params p = Params::Defaults(kind->params);
  for (const auto& [k, v] : overrides.values()) p.Set(k, v);
  std::unique_ptr<Model> model = kind->create();
  const double start = Seconds();
  FitControl control;
  MLIOT_RETURN_IF_ERROR(model->Fit(FitInput{s.x.data(), s.rows, s.cols, s.y.data(), 4, shape}, p, control));
  *fit_s += Seconds() - start;
  std::vector<float> proba(4);
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t = std::chrono::steady_clock::now();
    model->PredictProba(s.x.data() + (r % s.rows) * s.cols, proba.data());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  return Percentile(ms, 0.5);
}


// Keeps the benchmark to about `share` of the machine's CPU: after each step
// it sleeps until process CPU time / (wall time x hardware threads) is back
// under the share, so a joining node does not starve the tasks it runs.
class Throttle {
 public:
  explicit Throttle(double share)
      : share_(share), threads_(std::max(1u, std::thread::hardware_concurrency())),
        wall0_(Seconds()), cpu0_(CpuSeconds()) {}
  void Pace() const {
    const double cpu = CpuSeconds() - cpu0_;
    const double wall = Seconds() - wall0_;
    const double needed = cpu / (share_ * threads_);
    if (needed > wall) std::this_thread::sleep_for(std::chrono::duration<double>(needed - wall));
  }
  double share() const { return (CpuSeconds() - cpu0_) / std::max(1e-9, (Seconds() - wall0_) * threads_); }

 private:
  static double CpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
  }
  double share_;
  unsigned threads_;
  double wall0_, cpu0_;
};

// A node endpoint that answers Health with nothing: the cost of a request.
class EmptyNode final : public v1::Node::Service {
  grpc::Status Health(grpc::ServerContext*, const v1::NodeHealthRequest*,
                      v1::NodeHealthResponse*) override {
    return grpc::Status::OK;
  }
};

// The median time of one unary call to a server in this process over
// loopback: both ends' gRPC work, on this device's CPU.
absl::StatusOr<double> TimeRequest(int reps) {
  EmptyNode service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::UnavailableError("benchmark: no loopback gRPC server");
  auto stub = v1::Node::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  std::vector<double> ms;
  for (int i = 0; i < reps + 20; ++i) {
    grpc::ClientContext ctx;
    v1::NodeHealthRequest request;
    v1::NodeHealthResponse response;
    const double t = Seconds();
    const grpc::Status s = stub->Health(&ctx, request, &response);
    if (!s.ok()) return absl::UnavailableError(absl::StrCat("benchmark: loopback call: ", s.error_message()));
    if (i >= 20) ms.push_back(1000 * (Seconds() - t));
  }
  server->Shutdown();
  return Percentile(ms, 0.5);
}

}  // namespace

absl::StatusOr<v1::NodeBenchmark> RunDeviceBenchmark(const std::string& mode) {
  if (mode != "quick" && mode != "full") {
    return absl::InvalidArgumentError(absl::StrCat("--benchmark '", mode, "': valid: quick, full"));
  }
  const bool full = mode == "full";
  const int scale = full ? 4 : 1;
  const int reps = full ? 400 : 100;
  const double start = Seconds();
  // The torch module is loaded before pacing starts: loading libtorch (half
  // a second of CPU) says nothing of the device's training speed. Without
  // the module the node cannot train mlp or cnn; it still benchmarks the rest.
  const absl::StatusOr<const neural::TorchModuleApi*> torch = neural::TorchModule();
  const Throttle throttle(kCpuShare);
  double fit_s = 0;  // of the reference fits (cnn, xgboost, knn) only
  v1::NodeBenchmark b;
  auto& per_kind = *b.mutable_kind_predict_ms();
  const Synthetic images = Make(256 * scale, 28 * 28, 4, 1);
  const Synthetic table = Make(1000 * scale, 20, 4, 2);
  if (torch.ok()) {
    Params cnn;
    cnn.Set("epochs", int64_t{1});
    MLIOT_ASSIGN_OR_RETURN(per_kind["cnn"], FitAndTime("cnn", images, ImageShape{28, 28}, cnn, reps, &fit_s));
    throttle.Pace();
  }
  double table_fit_s = 0;
  Params xgb;
  xgb.Set("n_estimators", int64_t{50});
  MLIOT_ASSIGN_OR_RETURN(per_kind["xgboost"], FitAndTime("xgboost", table, std::nullopt, xgb, reps, &table_fit_s));
  throttle.Pace();
  MLIOT_ASSIGN_OR_RETURN(per_kind["knn"], FitAndTime("knn", table, std::nullopt, Params(), reps, &table_fit_s));
  throttle.Pace();
  // Without the cnn fit, the table fits stand for all three (they are
  // kTableFitShare of the reference fits' time on the reference machine).
  fit_s = torch.ok() ? fit_s + table_fit_s : table_fit_s / kTableFitShare;
  if (full) {
    // Every other kind (mlp only with the torch module) on the sensor table, small settings: its latency only.
    const std::vector<std::pair<std::string, Params>> others = [] {
      Params mlp, forest;
      mlp.Set("epochs", int64_t{2});
      forest.Set("n_estimators", int64_t{30});
      return std::vector<std::pair<std::string, Params>>{{"ridge", {}},        {"logreg", {}}, {"linear_svm", {}},
                                                          {"rbf_svm", {}},      {"random_forest", forest},
                                                          {"mlp", mlp}};
    }();
    for (const auto& [kind, params] : others) {
      if (kind == "mlp" && !torch.ok()) continue;
      double ignored = 0;
      MLIOT_ASSIGN_OR_RETURN(per_kind[kind], FitAndTime(kind, table, std::nullopt, params, reps, &ignored));
      throttle.Pace();
    }
  }
  MLIOT_ASSIGN_OR_RETURN(const double request_ms, TimeRequest(reps));
  b.set_request_ms(request_ms);
  throttle.Pace();
  // A representative ensemble: two CNNs for images; three tree/neighbour
  // members for sensor tables.
  // Without the torch module images are served by the other kinds: knn stands in.
  b.set_image_predict_ms(2 * (torch.ok() ? per_kind["cnn"] : per_kind["knn"]) + per_kind["knn"]);
  b.set_sensor_predict_ms(2 * per_kind["xgboost"] + per_kind["knn"]);
  // Reference: the quick fits take ~1.2 s on the 2-core development box.
  constexpr double kReferenceFitS = 1.2;
  b.set_train_speed(kReferenceFitS * scale / std::max(1e-3, fit_s));
  b.set_seconds(Seconds() - start);
  b.set_cpu_share(throttle.share());
  return b;
}

}  // namespace mliot
