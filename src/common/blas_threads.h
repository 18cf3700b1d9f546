// OpenBLAS (behind Eigen-free BLAS calls in libtorch) keeps its own thread
// pool. With trials already running one per core, a second layer of BLAS
// threads oversubscribes the cores, and concurrent sgemm calls from two
// trial threads into a multi-threaded OpenBLAS deadlock (observed here:
// exec_blas_async_wait spinning while the other caller waits on its lock).
// The environment variable is read when the library loads: OpenBLAS loaded
// at start (before main) has to be changed through its own setter; one loaded
// later on demand (common/lazy_library.h) reads the variable, which this sets.
#ifndef MLIOT_COMMON_BLAS_THREADS_H_
#define MLIOT_COMMON_BLAS_THREADS_H_

namespace mliot {

// With no handle (call it at start, before other threads): sets
// OPENBLAS_NUM_THREADS=1 for OpenBLAS loaded later, and OpenBLAS to one
// thread if the process has it. With a dlopen handle (after a library was
// opened): OpenBLAS among its dependencies to one thread. Returns whether
// OpenBLAS was found.
bool LimitBlasToOneThread(void* handle = nullptr);

}  // namespace mliot

#endif  // MLIOT_COMMON_BLAS_THREADS_H_
