// A shared library opened the first time one of its functions is needed,
// not at process start. Every mliot process maps what its role uses: a CLI
// call or a serving worker never pays for the training libraries' loading
// (XGBoost, LIBLINEAR and the OpenBLAS it pulls cost about 20 ms and a few
// MiB per process start; docs/BENCHMARKS.md, Footprint).
//
//   static LazyLibrary lib("XGBoost", {"libxgboost.so.0", MLIOT_XGBOOST_LIBRARY});
//   decltype(&::XGBoosterCreate) create = nullptr;
//   MLIOT_RETURN_IF_ERROR(lib.Resolve("XGBoosterCreate", &create));
//
// The declarations still come from the library's header; only the linking
// is deferred (callers keep typed pointers: decltype(&::XGBoosterCreate)).
#ifndef MLIOT_COMMON_LAZY_LIBRARY_H_
#define MLIOT_COMMON_LAZY_LIBRARY_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

class LazyLibrary {
 public:
  // `files`: names or paths tried in order with dlopen.
  LazyLibrary(std::string name, std::vector<std::string> files);

  // Opens the library once (thread-safe); errors name every file tried.
  absl::Status Open();
  // The address of `symbol`; opens the library first.
  absl::StatusOr<void*> Symbol(const char* symbol);
  // Symbol() as a typed function pointer, into *out.
  template <typename F>
  absl::Status Resolve(const char* symbol, F** out) {
    absl::StatusOr<void*> address = Symbol(symbol);
    if (!address.ok()) return address.status();
    *out = reinterpret_cast<F*>(*address);
    return absl::OkStatus();
  }

 private:
  std::string name_;
  std::vector<std::string> files_;
  std::once_flag once_;
  absl::Status status_;
  void* handle_ = nullptr;
};

}  // namespace mliot

#endif  // MLIOT_COMMON_LAZY_LIBRARY_H_
