#include "common/thread_pool.h"

#include <atomic>

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(ThreadPoolTest, RunsEveryClosureBeforeWaitReturns) {
  ThreadPool pool(2);
  std::atomic<int> count{0};
  for (int i = 0; i < 100; ++i) pool.Schedule([&] { count.fetch_add(1); });
  pool.Wait();
  EXPECT_EQ(count.load(), 100);
}

TEST(ThreadPoolTest, ClosuresMayScheduleMore) {
  ThreadPool pool(2);
  std::atomic<int> count{0};
  pool.Schedule([&] {
    count.fetch_add(1);
    pool.Schedule([&] { count.fetch_add(1); });
  });
  pool.Wait();
  EXPECT_EQ(count.load(), 2);
}

}  // namespace
}  // namespace mliot
