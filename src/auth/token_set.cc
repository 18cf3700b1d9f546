#include "auth/token_set.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/secrets.h"

namespace mliot::auth {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string FormatTokenHashes(const std::vector<TokenHash>& hashes) {
  std::string out;
  for (const TokenHash& h : hashes) absl::StrAppend(&out, h.sha256, " ", h.valid_until_unix_ms, "\n");
  return out;
}

absl::StatusOr<std::vector<TokenHash>> ParseTokenHashes(const std::string& text) {
  std::vector<TokenHash> hashes;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    TokenHash h;
    if (parts.size() != 2 || parts[0].size() != 64 || !absl::SimpleAtoi(parts[1], &h.valid_until_unix_ms)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token hashes, line ", line_number, ": want 'SHA256HEX VALID_UNTIL_UNIX_MS'"));
    }
    h.sha256 = std::string(parts[0]);
    hashes.push_back(std::move(h));
  }
  return hashes;
}

TokenSet::TokenSet(std::string path) : path_(std::move(path)) {}

void TokenSet::MaybeReload() {
  const int64_t now = NowMs();
  if (checked_ms_ >= 0 && now - checked_ms_ < 1000) return;
  checked_ms_ = now;
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) {
    hashes_.clear();  // no file: no client may call
    mtime_ns_ = -1;
    return;
  }
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime == mtime_ns_) return;
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::vector<TokenHash>> parsed = ParseTokenHashes(text.str());
  if (!parsed.ok()) return;  // keep the last good set; the writer replaces the file atomically
  hashes_ = std::move(*parsed);
  mtime_ns_ = mtime;
}

bool TokenSet::Contains(const std::string& sha256) {
  absl::MutexLock lock(&mu_);
  MaybeReload();
  const int64_t now = NowMs();
  bool found = false;
  for (const TokenHash& h : hashes_) {
    // Every entry is compared, so the time taken does not tell which matched.
    found |= ConstantTimeEquals(h.sha256, sha256) && (h.valid_until_unix_ms == 0 || now < h.valid_until_unix_ms);
  }
  return found;
}

}  // namespace mliot::auth
