#include "common/blas_threads.h"

#include <dlfcn.h>

namespace mliot {

bool LimitBlasToOneThread() {
  using SetThreads = void (*)(int);
  auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(1);
  return true;
}

}  // namespace mliot
