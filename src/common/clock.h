// Clock: the time source for anything that schedules by wall time (budgets,
// lazy training, heartbeats). Production code uses RealClock(); tests use a
// FakeClock they advance by hand, so schedules are tested without sleeping.
//
// Thread-safety: all methods of both implementations may be called
// concurrently.
#ifndef MLIOT_COMMON_CLOCK_H_
#define MLIOT_COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace mliot {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since an arbitrary, fixed epoch; monotonic.
  virtual double NowSeconds() const = 0;
};

// The process-wide monotonic clock (std::chrono::steady_clock). Never null.
Clock* RealClock();

// A clock that only moves when told to. Starts at 0.
class FakeClock final : public Clock {
 public:
  double NowSeconds() const override { return now_.load(); }
  void Advance(double seconds);
  void Set(double seconds) { now_.store(seconds); }

 private:
  std::atomic<double> now_{0.0};
};

// A point in time on a Clock after which work should stop.
class Deadline {
 public:
  // A deadline that never expires.
  Deadline() = default;
  Deadline(const Clock* clock, double at_seconds) : clock_(clock), at_(at_seconds) {}
  static Deadline In(const Clock* clock, double seconds) {
    return Deadline(clock, clock->NowSeconds() + seconds);
  }

  bool Expired() const { return clock_ != nullptr && clock_->NowSeconds() >= at_; }
  // Seconds left (negative once expired); a large number for "never".
  double RemainingSeconds() const;
  // The earlier of the two deadlines.
  Deadline Min(const Deadline& other) const;
  const Clock* clock() const { return clock_; }

 private:
  const Clock* clock_ = nullptr;
  double at_ = 0;
};

}  // namespace mliot

#endif  // MLIOT_COMMON_CLOCK_H_
