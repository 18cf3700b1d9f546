// OpenBLAS (behind Eigen-free BLAS calls in libtorch) keeps its own thread
// pool. With trials already running one per core, a second layer of BLAS
// threads oversubscribes the cores, and concurrent sgemm calls from two
// trial threads into a multi-threaded OpenBLAS deadlock (observed here:
// exec_blas_async_wait spinning while the other caller waits on its lock).
// The environment variable is read when the library loads, before main(),
// so it has to be changed through the library's own setter.
#ifndef MLIOT_COMMON_BLAS_THREADS_H_
#define MLIOT_COMMON_BLAS_THREADS_H_

namespace mliot {

// Sets OpenBLAS to one thread if OpenBLAS is loaded; returns whether it was.
bool LimitBlasToOneThread();

}  // namespace mliot

#endif  // MLIOT_COMMON_BLAS_THREADS_H_
