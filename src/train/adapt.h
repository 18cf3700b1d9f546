// Adaptation (paper §4.2.2, "Model Adaptation"): re-fit the members of the
// latest bundle version with their tuned hyper-parameters on the stored
// training rows plus all feedback so far, with no new search, and publish
// the next version.
//
// Each adaptation's new feedback rows are kept as one batch,
// DIR/data/fb-<ms>-<pid>.{x,y}.idx, and the manifest lists the batches a
// version was fitted on: adapting from version V starts from V's batches, so
// the feedback of a version that was retired or rolled back is left out.
// Feedback rows are weighted by
// repetition (`feedback_weight` copies each), so that a few corrections can
// move models trained on many rows. A feedback label the bundle has not seen
// becomes a new class. Preprocessing, ensemble weights, the weighting rule
// and the two-stage threshold are kept from the previous version; the
// detector is re-fitted too.
#ifndef MLIOT_TRAIN_ADAPT_H_
#define MLIOT_TRAIN_ADAPT_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "ml/model.h"

namespace mliot {

struct AdaptOptions {
  int64_t base_version = 0;    // the version to re-fit (0: the latest)
  int64_t publish_as = 0;      // publish exactly as this number (0: the next free); Aborted if taken
  bool hold_out_validation = false;  // fit without DIR/data/validation (guarded promotion compares on it)
  int feedback_weight = 3;
  int threads = 0;  // 0: the number of cores
  uint64_t seed = 42;
};

struct AdaptReport {
  int64_t version = 0;
  int64_t feedback_rows = 0;  // in total, including earlier feedback
  int64_t train_rows = 0;
  double elapsed_s = 0;
};

absl::StatusOr<AdaptReport> Adapt(const std::string& bundle_dir, const Dataset& feedback,
                                  const AdaptOptions& options,
                                  const std::function<void(const std::string&)>& say = nullptr,
                                  const ModelRegistry& registry = BuiltinModels());

}  // namespace mliot

#endif  // MLIOT_TRAIN_ADAPT_H_
