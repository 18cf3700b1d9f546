#include "common/clock.h"

#include <chrono>

namespace mliot {
namespace {

class SteadyClock final : public Clock {
 public:
  double NowSeconds() const override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

Clock* RealClock() {
  static SteadyClock* clock = new SteadyClock();
  return clock;
}

void FakeClock::Advance(double seconds) {
  double current = now_.load();
  while (!now_.compare_exchange_weak(current, current + seconds)) {
  }
}

double Deadline::RemainingSeconds() const {
  if (clock_ == nullptr) return 1e18;
  return at_ - clock_->NowSeconds();
}

Deadline Deadline::Min(const Deadline& other) const {
  if (clock_ == nullptr) return other;
  if (other.clock_ == nullptr) return *this;
  return RemainingSeconds() <= other.RemainingSeconds() ? *this : other;
}

}  // namespace mliot
