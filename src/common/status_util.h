// Helpers for absl::Status at module boundaries.
//
//   MLIOT_RETURN_IF_ERROR(WriteFile(path));
//   MLIOT_ASSIGN_OR_RETURN(Dataset ds, LoadDataset(spec));
#ifndef MLIOT_COMMON_STATUS_UTIL_H_
#define MLIOT_COMMON_STATUS_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MLIOT_STATUS_CONCAT_INNER(a, b) a##b
#define MLIOT_STATUS_CONCAT(a, b) MLIOT_STATUS_CONCAT_INNER(a, b)

#define MLIOT_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::absl::Status mliot_status_ = (expr);           \
    if (!mliot_status_.ok()) return mliot_status_;   \
  } while (0)

// Expands to several statements: use braces when it is the body of an if.
#define MLIOT_ASSIGN_OR_RETURN(lhs, expr) \
  MLIOT_ASSIGN_OR_RETURN_IMPL(MLIOT_STATUS_CONCAT(mliot_statusor_, __LINE__), lhs, expr)

#define MLIOT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

namespace mliot {

// Returns `status` with `context: ` prepended to its message (code unchanged).
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// Maps a status code onto the CLI's exit codes: 2 for bad input
// (InvalidArgument, NotFound, OutOfRange, FailedPrecondition, AlreadyExists),
// 1 for everything else. Always below 128.
int ExitCodeFor(const absl::Status& status);

}  // namespace mliot

#endif  // MLIOT_COMMON_STATUS_UTIL_H_
