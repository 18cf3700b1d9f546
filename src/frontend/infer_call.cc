#include "frontend/infer_call.h"

#include "absl/strings/str_cat.h"

namespace mliot::v2 {

absl::StatusOr<InferResult> Infer(ServingRouter& router, const std::string& task, const std::string& version,
                                  const std::string& bearer,
                                  const std::function<absl::StatusOr<InferRequest>()>& parse) {
  absl::StatusOr<v1::HealthResponse> model = router.Model(task, bearer, /*cached=*/true);
  if (!model.ok()) return model.status();
  // Errors that describe the model wait for the token's check.
  auto refuse = [&](absl::Status s) -> absl::Status {
    absl::StatusOr<v1::HealthResponse> checked = router.Model(task, bearer, /*cached=*/false);
    return checked.ok() ? s : checked.status();
  };
  if (absl::Status s = CheckVersion(version, *model); !s.ok()) {
    // The cached copy may be older than the worker: ask once more.
    model = router.Model(task, bearer, /*cached=*/false);
    if (!model.ok()) return model.status();
    if (absl::Status again = CheckVersion(version, *model); !again.ok()) return again;
  }
  absl::StatusOr<InferRequest> request = parse();
  if (!request.ok()) return refuse(request.status());
  absl::StatusOr<v1::PredictRequest> predict = ToPredict(*request, *model);
  if (!predict.ok()) return refuse(predict.status());
  absl::StatusOr<v1::PredictResponse> response = router.Predict(task, bearer, *predict);
  if (!response.ok()) return response.status();
  absl::StatusOr<InferResult> result = FromPredict(*request, *response, *model);
  if (!result.ok()) return result.status();
  if (!version.empty() && result->model_version != version) {
    return absl::NotFoundError(absl::StrCat("model '", task, "' version '", version,
                                            "' was replaced while the request ran (now ", result->model_version, ")"));
  }
  return result;
}

}  // namespace mliot::v2
