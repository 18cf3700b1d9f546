#include "auth/credentials.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "auth/secrets.h"

namespace mliot::auth {

absl::StatusOr<CoordinatorSecrets> CoordinatorSecrets::Load(const std::string& data_dir,
                                                            const std::string& credentials_dir) {
  std::error_code ec;
  for (const std::string& dir : {data_dir, credentials_dir}) {
    std::filesystem::create_directories(dir, ec);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);  // 0700
  }
  CoordinatorSecrets s;
  absl::StatusOr<std::string> key = ReadOrCreateSecretFile(data_dir + "/secret.key");
  if (!key.ok()) return key.status();
  s.key_ = *key;
  s.admin_path_ = credentials_dir + "/admin.token";
  s.join_path_ = credentials_dir + "/join.token";
  absl::StatusOr<std::string> admin = ReadOrCreateSecretFile(s.admin_path_);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<std::string> join = ReadOrCreateSecretFile(s.join_path_);
  if (!join.ok()) return join.status();
  s.admin_sha256_ = Sha256Hex(*admin);
  s.join_sha256_ = Sha256Hex(*join);
  return s;
}

std::string CoordinatorSecrets::TaskToken(const std::string& task, int64_t generation) const {
  return HmacSha256Hex(key_, absl::StrCat("task/", task, "/", generation)).substr(0, 40);
}

std::string CoordinatorSecrets::WakeToken(const std::string& node) const {
  return HmacSha256Hex(key_, absl::StrCat("wake/", node)).substr(0, 40);
}

}  // namespace mliot::auth
