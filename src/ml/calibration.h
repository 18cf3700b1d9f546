// Turning decision scores into class probabilities.
//
// Kinds whose library gives no probabilities (ridge, linear_svm, rbf_svm)
// report softmax(t * score). The temperature t is fitted by minimising the
// log-loss of the training rows over a log-spaced grid (a 1-D search; cheap
// and monotone in practice).
#ifndef MLIOT_ML_CALIBRATION_H_
#define MLIOT_ML_CALIBRATION_H_

#include <cstdint>

namespace mliot {

// scores: n x k row-major; labels in [0, k). Returns the fitted temperature.
float FitSoftmaxTemperature(const float* scores, const int32_t* labels, int64_t n, int k);

// In place: row <- softmax(t * row). Numerically stable.
void SoftmaxInPlace(float* row, int k, float temperature = 1.0f);

}  // namespace mliot

#endif  // MLIOT_ML_CALIBRATION_H_
