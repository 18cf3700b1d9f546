// The Open Inference Protocol's HTTP/REST body format: JSON, and the binary
// tensor extension (a JSON header of `Inference-Header-Content-Length` bytes
// followed by the tensors' raw little-endian bytes, BYTES elements each
// prefixed by a 4-byte length), which stock tritonclient uses by default.
#ifndef MLIOT_FRONTEND_V2_JSON_H_
#define MLIOT_FRONTEND_V2_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "frontend/v2_protocol.h"

namespace mliot::v2 {

// Parses an infer request body. `header_length` is the request's
// Inference-Header-Content-Length (0: the whole body is JSON). Errors
// (InvalidArgument) name the field: "inputs[0].shape: ...".
absl::StatusOr<InferRequest> ParseInferRequest(std::string_view body, size_t header_length);

// The response body; `*header_length` is set to the JSON part's length when
// an output travels as binary data, else 0.
std::string WriteInferResponse(const InferResult& result, size_t* header_length);

std::string MetadataJson(const ModelMetadata& metadata);
std::string ServerMetadataJson(const std::string& version);
// {"error": "..."}
std::string ErrorJson(std::string_view message);

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_V2_JSON_H_
