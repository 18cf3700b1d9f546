// The token hashes a serving worker accepts for its task, read from the
// `tokens` file its node agent writes (0600) from the coordinator's
// assignment: one line per token, `SHA256HEX VALID_UNTIL_UNIX_MS` (0: no
// end). After `mliot token rotate` the old hash stays listed until its
// grace period ends. The file is re-read when it changes (checked at most
// once a second, on lookups).
//
//   TokenSet tokens(task_dir + "/tokens");
//   tokens.Contains(Sha256Hex(presented));
#ifndef MLIOT_AUTH_TOKEN_SET_H_
#define MLIOT_AUTH_TOKEN_SET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace mliot::auth {

struct TokenHash {
  std::string sha256;
  int64_t valid_until_unix_ms = 0;  // 0: until rotated
};

std::string FormatTokenHashes(const std::vector<TokenHash>& hashes);
// InvalidArgument naming the line for a malformed file.
absl::StatusOr<std::vector<TokenHash>> ParseTokenHashes(const std::string& text);

class TokenSet {
 public:
  explicit TokenSet(std::string path);

  // Whether `sha256` is listed and not expired now.
  bool Contains(const std::string& sha256);

 private:
  void MaybeReload() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  std::vector<TokenHash> hashes_ ABSL_GUARDED_BY(mu_);
  int64_t checked_ms_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t mtime_ns_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace mliot::auth

#endif  // MLIOT_AUTH_TOKEN_SET_H_
