// A task's model lifecycle on a node, as files in its bundle directory, each
// with exactly one writer:
//
//   versions.json  the serving worker: the version serving, the shadow, what
//                  was promoted or retired (and why), each version's accuracy
//                  on the labelled feedback received while it served, events
//   pin            the node agent: the version the coordinator pinned (absent:
//                  none)
//   catalog.json   the node agent: every version it has seen (origin, parent,
//                  accuracy, size), so a deleted version is still listed
//
// docs/LIFECYCLE.md describes the states and the promotion test.
#ifndef MLIOT_LIFECYCLE_LIFECYCLE_STATE_H_
#define MLIOT_LIFECYCLE_LIFECYCLE_STATE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

struct FeedbackScore {
  int64_t correct = 0;
  int64_t rows = 0;
};

struct LifecycleState {
  int64_t serving = 0;
  int64_t shadow = 0;
  std::set<int64_t> promoted;               // every version that has served
  std::map<int64_t, std::string> retired;   // never promoted, and why
  std::map<int64_t, FeedbackScore> feedback;  // per version, while it served
  // Accuracy on the held-back validation rows, measured by the serving
  // worker (guarded tasks, where no version is fitted on them).
  std::map<int64_t, double> validation;
  std::deque<std::string> events;           // "<ISO time> <text>", newest last

  // Appends an event stamped with the current time, keeping the newest 50.
  void AddEvent(const std::string& text);
};

// Appends "<ISO time> <text>" to `events`, keeping the newest `keep`.
void AppendEvent(std::deque<std::string>* events, const std::string& text, size_t keep);
// The events of `a` and `b` in time order (by their stamps), the newest `keep`.
std::vector<std::string> MergeEvents(std::vector<std::string> a, const std::deque<std::string>& b, size_t keep);

// Reads DIR/versions.json; an empty state when there is none. DataLoss
// names the file when it cannot be parsed.
absl::StatusOr<LifecycleState> ReadLifecycleState(const std::string& bundle_dir);
absl::Status WriteLifecycleState(const std::string& bundle_dir, const LifecycleState& state);

// DIR/pin: the pinned version, 0 when none.
int64_t ReadPin(const std::string& bundle_dir);
// Writes (version > 0) or removes (0) DIR/pin.
absl::Status WritePin(const std::string& bundle_dir, int64_t version);

// "2026-12-03T15:04:05Z" for a Unix time in milliseconds.
std::string IsoTime(int64_t unix_ms);

}  // namespace mliot

#endif  // MLIOT_LIFECYCLE_LIFECYCLE_STATE_H_
