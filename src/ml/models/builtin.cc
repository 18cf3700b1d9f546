#include "ml/models/builtin.h"

#include "ml/model.h"

namespace mliot {

// Every built-in kind, in the order `mliot train --models` lists them.
void RegisterBuiltinModels(ModelRegistry& registry) {
  RegisterNeighborSvmModels(registry);
  RegisterLinearModels(registry);
  RegisterTreeModels(registry);
  RegisterNeuralModels(registry);
}

const ModelRegistry& BuiltinModels() {
  static const ModelRegistry* registry = [] {
    auto* r = new ModelRegistry();
    RegisterBuiltinModels(*r);
    return r;
  }();
  return *registry;
}

}  // namespace mliot
