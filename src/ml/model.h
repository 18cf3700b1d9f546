// Model: one trained classifier of some kind (knn, xgboost, cnn, ...).
//
// Life cycle: a ModelKind's factory creates an empty Model; Fit() trains it,
// or LoadWeights() restores it from a file written by SaveWeights(). The
// hyper-parameters are configuration and live in the bundle manifest, not in
// the weights file; LoadWeights() is given them again.
//
// Thread-safety: Fit/LoadWeights are not thread-safe. After either returns,
// PredictProba/PredictProbaBatch may be called concurrently from any number of
// threads. PredictProba does not allocate once a thread has warmed up (it
// keeps thread-local scratch space), so the serving path stays allocation-free.
#ifndef MLIOT_ML_MODEL_H_
#define MLIOT_ML_MODEL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "data/dataset.h"
#include "ml/params.h"

namespace mliot {

// Training rows for Fit(). Non-owning: the pointers outlive the call.
struct FitInput {
  const float* x = nullptr;  // rows x cols, row-major
  int64_t rows = 0;
  int64_t cols = 0;
  const int32_t* y = nullptr;  // labels in [0, num_classes)
  int num_classes = 0;
  std::optional<ImageShape> shape;  // set when rows are images (cnn)
};

// How long and how wide a fit may run.
struct FitControl {
  // Cooperative kinds check this between iterations/epochs and stop, keeping
  // the model trained so far (an "anytime" fit). Others run to completion.
  Deadline deadline;
  int threads = 1;
  uint64_t seed = 42;
  const std::atomic<bool>* cancel = nullptr;

  bool ShouldStop() const {
    return deadline.Expired() || (cancel != nullptr && cancel->load(std::memory_order_relaxed));
  }
};

class Model {
 public:
  virtual ~Model() = default;

  virtual absl::Status Fit(const FitInput& input, const Params& params,
                           const FitControl& control) = 0;

  virtual int num_classes() const = 0;
  virtual int num_features() const = 0;

  // Writes num_classes() probabilities (summing to 1) for one row of
  // num_features() values.
  virtual void PredictProba(const float* row, float* proba) const = 0;
  // `n` rows at once; the default calls PredictProba per row.
  virtual void PredictProbaBatch(const float* rows, int64_t n, float* proba) const;

  virtual absl::Status SaveWeights(const std::string& path) const = 0;
  virtual absl::Status LoadWeights(const std::string& path, const Params& params) = 0;
};

// What the registry knows about a kind: its declaration and its factory.
struct ModelKind {
  std::string name;
  std::string description;
  std::string probabilities;  // how the kind produces class probabilities
  std::vector<ParamSpec> params;
  // True for kinds that need a 2-D image shape and consume the raw row.
  bool needs_image = false;
  // True when Fit honours FitControl::deadline; other kinds' HPO trials run
  // in a child process that is killed at the per-trial limit.
  bool cooperative = true;
  // Relative training cost, used to start cheap kinds first.
  double cost_rank = 1.0;
  std::function<std::unique_ptr<Model>()> create;
  // Loads what Fit needs (a library opened on demand) before a
  // non-cooperative trial forks its child: the child then runs only the
  // library's code, never the dynamic loader. Optional.
  std::function<absl::Status()> prepare;
};

// Model kinds by name. Registration is explicit (RegisterBuiltinModels);
// lookups of unknown names answer with the registered names.
class ModelRegistry {
 public:
  absl::Status Register(ModelKind kind);
  absl::StatusOr<const ModelKind*> Find(absl::string_view name) const;
  std::vector<std::string> Names() const;

 private:
  std::vector<ModelKind> kinds_;
};

// Registers knn, ridge, logreg, linear_svm, rbf_svm, random_forest, xgboost,
// mlp and cnn.
void RegisterBuiltinModels(ModelRegistry& registry);

// The process-wide registry holding the built-in kinds.
const ModelRegistry& BuiltinModels();

// Convenience: argmax of a probability vector.
int ArgMax(const float* proba, int n);

}  // namespace mliot

#endif  // MLIOT_ML_MODEL_H_
