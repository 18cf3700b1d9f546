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

// Sets OPENBLAS_NUM_THREADS=1 for OpenBLAS loaded later, and OpenBLAS to one
// thread if it is loaded (searching from `handle`, a dlopen handle, or the
// whole process when null); returns whether it was.
bool LimitBlasToOneThread(void* handle = nullptr);

}  // namespace mliot

#endif  // MLIOT_COMMON_BLAS_THREADS_H_
