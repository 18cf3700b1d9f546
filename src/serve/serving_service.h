// ServingService: the serving worker of one task (paper §4.2.2) as a gRPC
// service: Predict (one row or a batch), PredictStream, Feedback, Health.
//
// Hot swap: a watcher thread polls the bundle directory; a new version is
// loaded beside the serving one and swapped in atomically (requests in
// flight keep the old one through their shared_ptr). A version that fails
// to load is logged and skipped: the old version keeps serving.
//
// Which version serves (src/lifecycle/, docs/LIFECYCLE.md): the pinned one
// (DIR/pin) if any; otherwise the newest that is not retired, except that
// with guarded promotion a new adaptation first runs as a shadow: it answers
// up to 50 live feature-row requests a second on the watcher thread (never
// on a request's thread; rows beyond a queue of 16 are not shadowed; its
// answers are only compared, never returned), is scored with the serving
// version on the held-back validation rows and on every labelled feedback
// row that arrives, and is promoted or retired by DecidePromotion. The
// worker records all of it in DIR/versions.json (it is that file's only
// writer), including each version's accuracy on the feedback received
// while it served.
//
// Feedback rows are written to the feedback directory as one CSV file per
// call (temporary name + rename), which the training worker picks up,
// re-fits on, and publishes as the next bundle version.
//
// Who may call it is checked before any handler runs, by the authorizer the
// worker installs on its server (auth/authorizer.h): a client of this task,
// with one of the task's current token hashes (auth/token_set.h).
#ifndef MLIOT_SERVE_SERVING_SERVICE_H_
#define MLIOT_SERVE_SERVING_SERVICE_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "mliot/v1/serving.grpc.pb.h"
#include "lifecycle/lifecycle_state.h"
#include "lifecycle/promotion.h"
#include "metrics/serving_metrics.h"
#include "serve/servable.h"

namespace mliot {

class ServingService final : public v1::Serving::Service {
 public:
  ServingService(std::string task, std::string bundle_dir, std::string feedback_dir);
  ~ServingService() override;

  // Loads the latest version (an error when there is none) and starts the
  // watcher.
  absl::Status Start();
  // Every second the watcher writes "REQUESTS CPU_S" to `path`: requests
  // answered so far and the process's CPU seconds less those spent loading
  // bundles, so the node agent can learn what a request costs (call before
  // Start).
  void set_stats_path(std::string path) { stats_path_ = std::move(path); }
  // Every second the watcher writes the request metrics per version
  // (v1::ServingMetrics, metrics/serving_metrics.h) to `path`.
  void set_metrics_path(std::string path) { metrics_path_ = std::move(path); }
  // Guarded promotion of adaptations (the task spec's versions.promote).
  void set_guarded(bool guarded) { guarded_ = guarded; }
  void Stop();

  int64_t version() const;

  // Predict for an in-process caller that has no gRPC context (the infer
  // topic server of the same worker): no credential check.
  absl::StatusOr<v1::PredictResponse> PredictLocal(const v1::PredictRequest& request) const;

  // NotFound unless `task` is empty (the worker's own) or this worker's task.
  grpc::Status CheckTask(const std::string& task) const;

  grpc::Status Predict(grpc::ServerContext* context, const v1::PredictRequest* request,
                       v1::PredictResponse* response) override;
  grpc::Status PredictStream(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::PredictResponse, v1::PredictRequest>* stream) override;
  grpc::Status Feedback(grpc::ServerContext* context, const v1::FeedbackRequest* request,
                        v1::FeedbackResponse* response) override;
  grpc::Status Health(grpc::ServerContext* context, const v1::HealthRequest* request,
                      v1::HealthResponse* response) override;

 private:
  std::shared_ptr<const Servable> Current() const;
  // Answers and records the request's metrics.
  grpc::Status Respond(const Servable& servable, const v1::PredictRequest& request,
                      v1::PredictResponse* response) const;
  grpc::Status Compute(const Servable& servable, const v1::PredictRequest& request, v1::PredictResponse* response,
                      double* featurize_s) const;
  void WatchLoop();
  // One pass of the watcher: choose the version to serve, load it, run the
  // shadow's evaluation; true when the lifecycle state changed.
  bool Reconcile();
  // The version that should serve now, and a shadow candidate (0: none).
  void ChooseTarget(int64_t pin, int64_t* target, int64_t* shadow, std::string* why);
  // A version's origin from its manifest, read once (watcher only).
  const std::string& OriginOf(int64_t version);
  void StartShadow(int64_t version);
  void StepShadow();
  // Offers a served feature row to the shadow (bounded queue).
  void OfferShadow(const float* row, int64_t cols, int label) const;
  // Scores a feedback call: the serving version's accuracy, and the paired
  // evidence against the shadow.
  void ScoreFeedback(const Servable& serving, const v1::FeedbackRequest& request);

  struct ShadowRow {
    std::vector<float> row;
    int serving_label = 0;
  };

  const std::string task_;
  const std::string bundle_dir_;
  const std::string feedback_dir_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Servable> current_ ABSL_GUARDED_BY(mu_);
  int64_t failed_version_ ABSL_GUARDED_BY(mu_) = 0;  // last version that failed to load
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> feedback_files_{0};
  mutable std::atomic<int64_t> requests_{0};  // answered (Respond), any transport
  std::string stats_path_;
  std::string metrics_path_;
  mutable metrics::ServingRecorder recorder_;
  double load_cpu_s_ = 0;  // watcher thread only
  bool guarded_ = false;

  // Lifecycle state (versions.json), written by the watcher only.
  mutable absl::Mutex state_mu_;
  LifecycleState state_ ABSL_GUARDED_BY(state_mu_);
  bool state_dirty_ ABSL_GUARDED_BY(state_mu_) = false;
  std::shared_ptr<const Servable> shadow_ ABSL_GUARDED_BY(state_mu_);
  PairedCounts validation_evidence_ ABSL_GUARDED_BY(state_mu_);
  PairedCounts feedback_evidence_ ABSL_GUARDED_BY(state_mu_);
  double shadow_started_s_ ABSL_GUARDED_BY(state_mu_) = 0;
  double last_evidence_s_ ABSL_GUARDED_BY(state_mu_) = 0;  // shadow start or the last feedback call
  int64_t live_shadowed_ ABSL_GUARDED_BY(state_mu_) = 0;
  int64_t live_agreed_ ABSL_GUARDED_BY(state_mu_) = 0;
  int64_t warned_pin_ = 0;  // watcher only: a pinned version without files, said once
  std::map<int64_t, std::string> origins_;  // watcher only: OriginOf's cache
  std::atomic<bool> shadow_active_{false};
  mutable absl::Mutex queue_mu_;
  mutable std::deque<ShadowRow> shadow_queue_ ABSL_GUARDED_BY(queue_mu_);
  std::thread watcher_;
};

}  // namespace mliot

#endif  // MLIOT_SERVE_SERVING_SERVICE_H_
