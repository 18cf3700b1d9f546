// `--reduce auto`: picks the reducer by validation accuracy.
//
// Candidates: none (always), and for more than 32 features pca:K and
// kpca:K:cosine with K = min(64, features / 2). Each is scored by two fast
// proxy models fitted on the reduced training rows (ridge and 5-NN; the
// score is the better of the two on the validation rows). A reduction wins
// ties within half a point, because it also makes serving faster.
#ifndef MLIOT_TRAIN_REDUCER_CHOICE_H_
#define MLIOT_TRAIN_REDUCER_CHOICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace mliot {

struct ReducerChoiceInput {
  const float* train_x;
  const int32_t* train_y;
  int64_t train_rows;
  const float* val_x;
  const int32_t* val_y;
  int64_t val_rows;
  int64_t cols;
  int num_classes;
  bool global_scale;
  uint64_t seed;
  int threads;
};

struct ReducerChoice {
  std::string spec;
  double proxy_accuracy = 0;
};

absl::StatusOr<ReducerChoice> ChooseReducer(const ReducerChoiceInput& in, const Deadline& deadline,
                                            const std::function<void(const std::string&)>& say);

}  // namespace mliot

#endif  // MLIOT_TRAIN_REDUCER_CHOICE_H_
