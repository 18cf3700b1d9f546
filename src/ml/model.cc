#include "ml/model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mliot {

void Model::PredictProbaBatch(const float* rows, int64_t n, float* proba) const {
  const int64_t cols = num_features();
  const int64_t k = num_classes();
  for (int64_t i = 0; i < n; ++i) PredictProba(rows + i * cols, proba + i * k);
}

absl::Status ModelRegistry::Register(ModelKind kind) {
  for (const ModelKind& k : kinds_) {
    if (k.name == kind.name) {
      return absl::AlreadyExistsError(absl::StrCat("model kind '", kind.name, "' registered twice"));
    }
  }
  kinds_.push_back(std::move(kind));
  return absl::OkStatus();
}

absl::StatusOr<const ModelKind*> ModelRegistry::Find(absl::string_view name) const {
  for (const ModelKind& k : kinds_) {
    if (k.name == name) return &k;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown model kind '", name,
                                                 "'; valid kinds: ", absl::StrJoin(Names(), ", ")));
}

std::vector<std::string> ModelRegistry::Names() const {
  std::vector<std::string> names;
  for (const ModelKind& k : kinds_) names.push_back(k.name);
  return names;
}

int ArgMax(const float* proba, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i) {
    if (proba[i] > proba[best]) best = i;
  }
  return best;
}

}  // namespace mliot
