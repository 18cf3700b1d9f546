#include "common/status_util.h"

#include "absl/strings/str_cat.h"

namespace mliot {

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  const std::string ctx(context);
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(ctx, ": ", status.message()));
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return 2;
    default:
      return 1;
  }
}

}  // namespace mliot
