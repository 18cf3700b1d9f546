#include "common/blas_threads.h"

#include <dlfcn.h>

#include <cstdlib>

namespace mliot {

bool LimitBlasToOneThread(void* handle) {
  // At start (no handle), for OpenBLAS loaded later (with LIBLINEAR or
  // libtorch, both on demand), which reads it when it initialises. Not from
  // a later load: setenv races with other threads' getenv.
  if (handle == nullptr) setenv("OPENBLAS_NUM_THREADS", "1", 1);
  using SetThreads = void (*)(int);
  auto* set = reinterpret_cast<SetThreads>(dlsym(handle == nullptr ? RTLD_DEFAULT : handle, "openblas_set_num_threads"));
  if (set == nullptr) return false;
  set(1);
  return true;
}

}  // namespace mliot
