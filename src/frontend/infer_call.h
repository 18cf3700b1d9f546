// One inference call of the protocol, whatever its transport: the task's
// model (cached), the version check, the request's conversion, the worker's
// Predict and the answer's conversion. A request that cannot be converted is
// answered with its error only once the caller's token is known good (the
// worker checks it), so nothing about a model reaches a caller without it.
#ifndef MLIOT_FRONTEND_INFER_CALL_H_
#define MLIOT_FRONTEND_INFER_CALL_H_

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "frontend/serving_router.h"
#include "frontend/v2_protocol.h"

namespace mliot::v2 {

absl::StatusOr<InferResult> Infer(ServingRouter& router, const std::string& task, const std::string& version,
                                  const std::string& bearer,
                                  const std::function<absl::StatusOr<InferRequest>()>& parse);

// Told of every inference call a front end answers (metrics, the
// dashboard's live stream).
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // `protocol`: "v2-rest", "v2-grpc"; `start`: when the call arrived.
  virtual void Observe(const std::string& protocol, const std::string& task,
                       const absl::StatusOr<InferResult>& result, std::chrono::steady_clock::time_point start) = 0;
};

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_INFER_CALL_H_
