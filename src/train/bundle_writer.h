// Writing model bundles: DIR/<version>/ holds manifest.pb (a
// mliot.v1.BundleManifest: configuration) and one weights file per member,
// plus the preprocessing and the two-stage detector. A version is written
// into DIR/.tmp-<version>-<pid>/ and renamed into place, so a reader never
// sees half a bundle; rename(2) of a directory is atomic on one filesystem.
//
// DIR/data/ keeps the training rows (and accumulated feedback) so that
// adaptation can re-fit without the original source.
#ifndef MLIOT_TRAIN_BUNDLE_WRITER_H_
#define MLIOT_TRAIN_BUNDLE_WRITER_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "features/featurizer.h"
#include "ml/ensemble.h"
#include "ml/model.h"
#include "ml/preprocess.h"

namespace mliot {

struct BundleMember {
  const ModelKind* kind = nullptr;
  Params params;
  const Model* model = nullptr;  // not owned
  double val_accuracy = 0;
  double weight = 0;
  double fit_s = 0;
  double latency_ms = 0;
};

struct TwoStageSpec {
  int background_class = 0;
  double threshold = 0.5;
  const Model* detector = nullptr;  // binary logreg: class 1 = background
};

struct BundleContents {
  std::vector<std::string> class_names;
  std::vector<std::string> feature_names;
  int num_features = 0;
  std::optional<ImageShape> shape;
  const Preprocessor* preprocess = nullptr;  // not owned
  std::vector<BundleMember> members;
  Weighting weighting = Weighting::kPaper;
  std::optional<TwoStageSpec> two_stage;
  double val_accuracy = 0;
  std::string data_source;
  std::string selection;
  std::optional<FeaturizerConfig> featurizer;  // raw-data tasks
  // Files copied into the version directory as (name, source path): state a
  // trainer needs to resume from this version on another node (a streaming
  // task's optimiser-side checkpoint). Servable ignores them.
  std::vector<std::pair<std::string, std::string>> extra_files;
  // Lifecycle (src/lifecycle/): the version this one was built from (0:
  // none), how ("lazy 2", "adaptation: 300 feedback rows"), and the
  // feedback batches under DIR/data/ it was fitted on.
  int64_t parent = 0;
  std::string origin;
  std::vector<std::string> feedback_batches;
  int64_t feedback_rows = 0;
};

// Writes the next version (1 + the highest present) and returns its number.
// With `exact_version` > 0 it publishes as that number or not at all
// (Aborted when it is taken): an adaptation started from version N must not
// land on top of a rollback published meanwhile.
absl::StatusOr<int64_t> WriteBundleVersion(const std::string& dir, const BundleContents& contents,
                                           int64_t exact_version = 0);

// Training rows and feedback rows kept beside the versions.
absl::Status WriteBundleData(const std::string& dir, const std::string& name, const Dataset& data);
absl::StatusOr<Dataset> ReadBundleData(const std::string& dir, const std::string& name,
                                       const std::vector<std::string>& class_names);

}  // namespace mliot

#endif  // MLIOT_TRAIN_BUNDLE_WRITER_H_
