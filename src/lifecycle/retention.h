// Retention and rollback: the two lifecycle operations on a bundle
// directory's files.
//
// Retention keeps every version in `protect` (serving, pinned, shadow) and
// fills `keep` slots in this order: the newest version (always: numbers are
// never reused), the newest versions that were not retired, then retired
// ones, newest first; a protected version takes a slot when its turn comes.
// So at most `keep` versions plus the protected ones remain, and exactly
// `keep` when the serving version is the newest. Versions older than
// `keep_days` go unless protected or the newest.
// A version is renamed away before it is removed, so a reader never loads
// half of one. Feedback batches (data/fb-*) no kept version lists are
// removed with it, unless younger than a minute (an adaptation may be about
// to publish the version that lists them).
#ifndef MLIOT_LIFECYCLE_RETENTION_H_
#define MLIOT_LIFECYCLE_RETENTION_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

struct RetentionPolicy {
  int64_t keep = 5;
  double keep_days = 0;  // 0: no age limit
};

// Returns the versions deleted, oldest first.
std::vector<int64_t> ApplyRetention(const std::string& bundle_dir, const RetentionPolicy& policy,
                                    const std::set<int64_t>& protect, int64_t now_unix_ms,
                                    const std::set<int64_t>& retired = {});

// Publishes a copy of version `to` as a new version (hard links where the
// filesystem allows, copies otherwise) whose manifest says origin "rollback
// to V" and parent V, with V's feedback batches. NotFound naming the version
// when its files are gone.
absl::StatusOr<int64_t> PublishRollback(const std::string& bundle_dir, int64_t to);

}  // namespace mliot

#endif  // MLIOT_LIFECYCLE_RETENTION_H_
