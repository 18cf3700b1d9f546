// The client side of the cluster, shared by the client commands and the
// demo: coordinator calls, and predictions/feedback sent straight to a
// task's serving worker.
#ifndef MLIOT_CLI_CLIENT_H_
#define MLIOT_CLI_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/grpc_util.h"
#include "data/dataset.h"
#include "features/raw_source.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "mliot/v1/serving.grpc.pb.h"

namespace mliot::cli {

// Where `mliot up` (default data directory) writes the admin token.
inline constexpr char kDefaultAdminTokenFile[] = ".mliot/admin.token";
// The admin credential of a client: --admin-token-file, else
// $MLIOT_ADMIN_TOKEN_FILE, else .mliot/admin.token when it exists; "" when
// none is found (calls then go without it, and admin calls are refused).
absl::StatusOr<std::string> AdminToken(const TlsOptions& tls);

class Client {
 public:
  static absl::StatusOr<Client> Connect(const std::string& coordinator, const TlsOptions& tls);

  v1::Coordinator::Stub& coordinator() { return *coordinator_; }

  // The task's record. When the coordinator cannot be reached, the last
  // answer for this task (cached on disk under $TMPDIR) is used instead, so
  // predictions keep working while the coordinator restarts.
  // Sent with the admin credential when the client has one, else with
  // `client_token` (a task token may read its own task's record).
  absl::StatusOr<v1::TaskInfo> GetTask(const std::string& task, bool allow_cache = true,
                                       const std::string& client_token = "");
  // Whether calls carry the admin credential.
  bool admin() const { return admin_; }

  struct PredictResult {
    int64_t n = 0;
    int64_t labelled = 0;
    double accuracy = 0;
    double p50_ms = 0, p99_ms = 0;  // end to end, single row, measured here
    double mean_ms = 0;
    int64_t first_version = 0;      // of the first answer
    int64_t version = 0;            // of the last answer
    int64_t failed = 0;             // requests that failed
    int64_t stage1 = 0;
    std::vector<double> all_ms;     // every successful request's latency
    std::string node;
  };
  // Sends every row of `data` as a single-row Predict to the task's serving
  // worker; labels (when present) are matched by class name. With
  // `duration_s` > 0 it keeps cycling through the rows that long.
  absl::StatusOr<PredictResult> Predict(const std::string& task, const Dataset& data,
                                        const std::string& token_override = "", double duration_s = 0);
  // The serving worker's Health answer (version, classes, featurizer).
  absl::StatusOr<v1::HealthResponse> Health(const std::string& task, const std::string& token_override = "");
  // Sends every row's raw window of `raw` (audio as 16-bit PCM at its
  // recorded rate, sensor windows as float readings) as one Predict; the
  // serving worker featurizes it. Labels as for Predict.
  absl::StatusOr<PredictResult> PredictRaw(const std::string& task, const RawDataset& raw,
                                           const std::string& token_override = "");
  // Sends labelled rows as feedback; returns the rows accepted.
  absl::StatusOr<int64_t> Feedback(const std::string& task, const Dataset& data,
                                   const std::string& token_override = "");

 private:
  absl::StatusOr<std::unique_ptr<v1::Serving::Stub>> ServingStub(const v1::TaskInfo& info);
  // Sends `n` requests (request i filled by `fill`; with `duration_s` > 0,
  // cycling through them that long); `label(i)` is row i's class name or "".
  absl::StatusOr<PredictResult> SendPredictions(const std::string& task, int64_t n,
                                                const std::function<void(int64_t, v1::PredictRequest*)>& fill,
                                                const std::function<std::string(int64_t)>& label,
                                                const std::string& token_override, double duration_s);

  std::string address_;
  TlsOptions tls_;
  bool admin_ = false;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> coordinator_;
};

// Sets `ctx`'s deadline `seconds` from now; returns it, for inline use in a call.
grpc::ClientContext* WithDeadline(grpc::ClientContext* ctx, double seconds = 10);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_CLIENT_H_
