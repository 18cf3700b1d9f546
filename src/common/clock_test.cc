#include "common/clock.h"

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(FakeClockTest, AdvancesOnlyWhenTold) {
  FakeClock clock;
  EXPECT_EQ(clock.NowSeconds(), 0.0);
  clock.Advance(2.5);
  EXPECT_DOUBLE_EQ(clock.NowSeconds(), 2.5);
}

TEST(DeadlineTest, ExpiresOnTheClock) {
  FakeClock clock;
  Deadline d = Deadline::In(&clock, 10);
  EXPECT_FALSE(d.Expired());
  EXPECT_DOUBLE_EQ(d.RemainingSeconds(), 10);
  clock.Advance(10);
  EXPECT_TRUE(d.Expired());
}

TEST(DeadlineTest, MinPicksTheEarlier) {
  FakeClock clock;
  Deadline never;
  Deadline soon = Deadline::In(&clock, 1);
  Deadline later = Deadline::In(&clock, 5);
  EXPECT_DOUBLE_EQ(never.Min(later).RemainingSeconds(), 5);
  EXPECT_DOUBLE_EQ(later.Min(soon).RemainingSeconds(), 1);
  EXPECT_FALSE(never.Expired());
}

}  // namespace
}  // namespace mliot
