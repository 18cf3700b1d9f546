// ThreadPool: a fixed set of worker threads running submitted closures in
// FIFO order. Used for HPO trials (sized to the cores) and batch prediction.
//
//   ThreadPool pool(2);
//   pool.Schedule([&] { Work(); });
//   pool.Wait();  // every scheduled closure has finished
//
// Thread-safety: Schedule and Wait may be called from any thread, including
// from inside a running closure (Schedule only). The destructor waits.
#ifndef MLIOT_COMMON_THREAD_POOL_H_
#define MLIOT_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mliot {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Schedule(std::function<void()> fn);
  // Blocks until the queue is empty and no closure is running.
  void Wait();
  int size() const { return static_cast<int>(threads_.size()); }

  // Number of hardware threads, at least 1.
  static int DefaultSize();

 private:
  void WorkerLoop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace mliot

#endif  // MLIOT_COMMON_THREAD_POOL_H_
