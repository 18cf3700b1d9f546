// The Open Inference Protocol v2 (KServe v2) in mliot's terms, independent of
// the transport: a request's tensors become one mliot PredictRequest for the
// task's serving worker, and its PredictResponse becomes the protocol's
// outputs. The JSON (v2_json.h) and gRPC (v2_grpc_service.h) transports
// both go through here, so they accept and answer the same things.
//
// A model is a task; its version is the bundle version. Inputs:
//   * a task trained on feature rows: one FP32 tensor [N, F] (or [F] for one
//     row); any numeric datatype is converted;
//   * a task with a featurizer (trained on audio: or sensor: data): one tensor
//     of raw samples, FP32 [frames] or [frames, channels] (audio in [-1, 1],
//     or sensor readings) or INT16 PCM, with the `sample_rate` parameter on
//     the input or the request; one prediction per featurizer window.
// Outputs (all three unless the request names some):
//   probabilities FP32 [N, C]  the certainties of eq. 5, class order of the
//                              model metadata's `class_names`
//   label         BYTES [N]    the predicted class name
//   stage         INT32 [N]    1: background detector answered, 2: ensemble
// With the classification extension (`parameters: {classification: K}` on
// an output) that output is BYTES [N, K] of "score:index:label", best first.
#ifndef MLIOT_FRONTEND_V2_PROTOCOL_H_
#define MLIOT_FRONTEND_V2_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mliot/v1/serving.pb.h"

namespace mliot::v2 {

// One tensor of a request or response. Exactly one of the value vectors is
// used, by datatype: FP32 (and every numeric input, converted) in `fp32`,
// INT16 in `int16`, INT32 in `int32`, BYTES in `bytes`.
struct Tensor {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  std::vector<float> fp32;
  std::vector<int16_t> int16;
  std::vector<int32_t> int32;
  std::vector<std::string> bytes;
  double sample_rate = 0;  // the input's `sample_rate` parameter, 0 if none
  bool binary = false;     // outputs: send with the binary tensor extension
};

// Elements a shape holds; -1 when a dimension is negative.
int64_t Elements(const std::vector<int64_t>& shape);
// The number of elements a datatype's values hold in `t`.
int64_t ValueCount(const Tensor& t);
// Bytes per element of a fixed-size datatype; 0 for BYTES or unknown.
int ElementSize(const std::string& datatype);

struct OutputRequest {
  std::string name;
  int classification = 0;  // the classification extension's K; 0: off
  bool binary = false;     // binary_data: true
};

struct InferRequest {
  std::string id;
  std::vector<Tensor> inputs;
  std::vector<OutputRequest> outputs;  // empty: every output
  bool binary_outputs = false;         // the request's binary_data_output
  double sample_rate = 0;              // the request's `sample_rate` parameter
};

struct InferResult {
  std::string model_name;
  std::string model_version;
  std::string id;
  std::vector<Tensor> outputs;
  double worker_seconds = 0;  // time inside the serving worker
};

struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
};

// What the protocol says about a task, from its serving worker's Health.
struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
  std::vector<std::string> class_names;
  std::string featurizer;  // empty: feature rows
  double window_s = 0;     // raw input per prediction
};
ModelMetadata MetadataOf(const v1::HealthResponse& model);

// The serving worker's request for `request` (errors name the input and
// what the model expects: InvalidArgument).
absl::StatusOr<v1::PredictRequest> ToPredict(const InferRequest& request, const v1::HealthResponse& model);

// The protocol's answer to `request` from the worker's `response`.
absl::StatusOr<InferResult> FromPredict(const InferRequest& request, const v1::PredictResponse& response,
                                        const v1::HealthResponse& model);

// The version a request names ("" or the serving one: OK). NotFound names
// the version and the one that serves.
absl::Status CheckVersion(const std::string& version, const v1::HealthResponse& model);

// The extensions this server implements (ServerMetadata).
const std::vector<std::string>& Extensions();

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_V2_PROTOCOL_H_
