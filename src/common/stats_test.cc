#include "common/stats.h"

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(PercentileTest, InterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(Percentile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(Percentile({5, 1, 3}, 0.0), 1);
  EXPECT_DOUBLE_EQ(Percentile({5, 1, 3}, 1.0), 5);
  EXPECT_DOUBLE_EQ(Percentile({}, 0.5), 0);
}

}  // namespace
}  // namespace mliot
