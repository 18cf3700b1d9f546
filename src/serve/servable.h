// Servable: one loaded bundle version, ready to answer predictions.
//
// Predict runs the full serving path for one raw row: preprocessing, then
// stage 1 (the background detector, when the bundle has one) and, unless
// stage 1 answered, stage 2 (the ensemble: eq. 3-5 of the paper).
//
//   MLIOT_ASSIGN_OR_RETURN(auto servable, Servable::Load(dir));  // latest
//   std::vector<float> cert(servable->num_classes());
//   Answer a = servable->Predict(row, cert.data());
//
// Thread-safety: Predict/PredictBatch may be called concurrently. A
// Servable is immutable once loaded; hot swap replaces the whole object.
// The single-row path does not allocate once each thread has warmed up.
#ifndef MLIOT_SERVE_SERVABLE_H_
#define MLIOT_SERVE_SERVABLE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/signal.h"
#include "features/featurizer.h"
#include "ml/ensemble.h"
#include "ml/model.h"
#include "ml/preprocess.h"

namespace mliot {

struct Answer {
  int label = 0;
  int stage = 2;  // 1: the background detector answered; 2: the ensemble
};

class Servable {
 public:
  // Loads DIR/<version>; version 0 means the latest.
  static absl::StatusOr<std::unique_ptr<Servable>> Load(const std::string& dir, int64_t version = 0,
                                                        const ModelRegistry& registry = BuiltinModels());

  // `certainties` receives num_classes() values summing to 1.
  Answer Predict(const float* raw_row, float* certainties) const;
  void PredictBatch(const float* raw_rows, int64_t n, Answer* answers, float* certainties) const;

  // Raw input (bundles trained on audio:/sensor: data carry a featurizer):
  // featurizes one window of `signal` inside the serving path and predicts it.
  // Errors: the bundle has no featurizer (FailedPrecondition); the signal's
  // channels or rate do not fit it (InvalidArgument).
  // `featurize_s`, when given, accumulates the time spent featurizing.
  absl::StatusOr<Answer> PredictWindow(const Signal& signal, FrameRange window, float* certainties,
                                       double* featurize_s = nullptr) const;
  // Every window of `signal`: one answer each, certainties windows x classes.
  absl::StatusOr<std::vector<Answer>> PredictRaw(const Signal& signal, std::vector<float>* certainties,
                                                 double* featurize_s = nullptr) const;
  // The bundle's featurizer, or null when its rows are features already.
  const Featurizer* featurizer() const { return featurizer_.get(); }

  // Two-stage bundles: whether stage 1 (the background detector) may answer
  // (default true). Off, every row goes to the ensemble: the baseline of an
  // ablation (bench paper fig8). Not thread-safe against Predict: set it first.
  void set_stage1(bool enabled) { stage1_ = enabled; }
  bool has_stage1() const { return detector_ != nullptr; }

  int64_t version() const { return version_; }
  int num_classes() const { return static_cast<int>(class_names_.size()); }
  int num_features() const { return num_features_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::optional<ImageShape>& shape() const { return shape_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Member {
    std::unique_ptr<Model> model;
    bool raw_input = false;
  };

  std::string dir_;
  int64_t version_ = 0;
  std::vector<std::string> class_names_;
  int num_features_ = 0;
  std::optional<ImageShape> shape_;
  std::unique_ptr<Preprocessor> preprocess_;
  std::vector<Member> members_;
  std::vector<double> weights_;
  Weighting weighting_ = Weighting::kPaper;
  std::unique_ptr<Model> detector_;  // stage 1, may be null
  std::unique_ptr<Featurizer> featurizer_;  // may be null
  int background_class_ = -1;
  double threshold_ = 0.5;
  bool stage1_ = true;
};

}  // namespace mliot

#endif  // MLIOT_SERVE_SERVABLE_H_
