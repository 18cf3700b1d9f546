// Registration functions of the built-in model kinds, one per source file.
#ifndef MLIOT_ML_MODELS_BUILTIN_H_
#define MLIOT_ML_MODELS_BUILTIN_H_

namespace mliot {

class ModelRegistry;

void RegisterLinearModels(ModelRegistry& registry);        // ridge, logreg, linear_svm
void RegisterNeighborSvmModels(ModelRegistry& registry);   // knn, rbf_svm
void RegisterTreeModels(ModelRegistry& registry);          // xgboost, random_forest
void RegisterNeuralModels(ModelRegistry& registry);        // mlp, cnn

}  // namespace mliot

#endif  // MLIOT_ML_MODELS_BUILTIN_H_
