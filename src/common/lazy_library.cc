#include "common/lazy_library.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blas_threads.h"

namespace mliot {

LazyLibrary::LazyLibrary(std::string name, std::vector<std::string> files)
    : name_(std::move(name)), files_(std::move(files)) {}

absl::Status LazyLibrary::Open() {
  std::call_once(once_, [this] {
    std::vector<std::string> tried;
    for (const std::string& file : files_) {
      if (file.empty()) continue;
      handle_ = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle_ != nullptr) {
        // It may have brought OpenBLAS with it (LIBLINEAR does).
        LimitBlasToOneThread(handle_);
        return;
      }
      tried.push_back(dlerror());
    }
    status_ = absl::FailedPreconditionError(absl::StrCat(name_, " is not installed: ", absl::StrJoin(tried, "; ")));
  });
  return status_;
}

absl::StatusOr<void*> LazyLibrary::Symbol(const char* symbol) {
  if (absl::Status s = Open(); !s.ok()) return s;
  void* address = dlsym(handle_, symbol);
  if (address == nullptr) return absl::InternalError(absl::StrCat(name_, ": no symbol ", symbol));
  return address;
}

}  // namespace mliot
