// Loads libmliot_torch.so (ml/neural/torch_api.h) the first time a torch
// kind is trained; processes that only serve never load it.
//
// Where it looks, first hit wins:
//   1. $MLIOT_TORCH_MODULE (a file path; when set, nothing else is tried)
//   2. beside the running executable: DIR/libmliot_torch.so
//   3. DIR/../lib/mliot/libmliot_torch.so (an installed layout)
//   4. the build tree that compiled this binary (tests in sub-folders)
#ifndef MLIOT_ML_NEURAL_TORCH_LOADER_H_
#define MLIOT_ML_NEURAL_TORCH_LOADER_H_

#include "absl/status/statusor.h"
#include "ml/neural/torch_api.h"

namespace mliot::neural {

// The module, loaded once per process (thread-safe). The error is one line
// naming every path tried and why each failed.
absl::StatusOr<const TorchModuleApi*> TorchModule();

// True once TorchModule() has loaded the module in this process.
bool TorchModuleLoaded();

}  // namespace mliot::neural

#endif  // MLIOT_ML_NEURAL_TORCH_LOADER_H_
