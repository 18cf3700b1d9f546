// Secrets at rest and their comparison: random tokens, SHA-256 and
// HMAC-SHA-256 (OpenSSL's libcrypto, already linked through gRPC), a
// constant-time compare, and files only their owner may read.
//
//   absl::StatusOr<std::string> admin = ReadOrCreateSecretFile(dir + "/admin.token");
//   const std::string stored = Sha256Hex(*admin);        // what the coordinator keeps
//   ConstantTimeEquals(Sha256Hex(presented), stored);     // how a call is checked
#ifndef MLIOT_AUTH_SECRETS_H_
#define MLIOT_AUTH_SECRETS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mliot::auth {

// `bytes` bytes from the operating system's CSPRNG, as lowercase hex.
std::string RandomHex(int bytes = 32);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view message);
// Equal contents, in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// OK when `path` is not readable or writable by group or others; otherwise
// FailedPrecondition naming the file and its mode (as ssh refuses a key).
absl::Status CheckPrivateFile(const std::string& path);
// Writes `content` to `path` with mode 0600 (temporary file + rename).
absl::Status WritePrivateFile(const std::string& path, const std::string& content);
// The secret stored in `path` (surrounding whitespace dropped); when the file
// does not exist, a new random one is written there first. A file readable
// by others is refused (CheckPrivateFile).
absl::StatusOr<std::string> ReadOrCreateSecretFile(const std::string& path);
// A secret file written by someone else (a token file given on the command
// line): read, whitespace dropped, refused when empty or readable by others.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace mliot::auth

#endif  // MLIOT_AUTH_SECRETS_H_
