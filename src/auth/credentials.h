// The coordinator's secrets: a secret key (DATA_DIR/secret.key) from which
// every task token and every node's wake token are derived (HMAC-SHA-256),
// so that only hashes of them are ever stored; the admin token and the node
// join token (CREDENTIALS_DIR/admin.token and join.token). All 0600, made on
// first start, reused after.
//
//   MLIOT_ASSIGN_OR_RETURN(CoordinatorSecrets s, CoordinatorSecrets::Load(dir, dir));
//   const std::string token = s.TaskToken("kitchen", 1);   // what submit returns
#ifndef MLIOT_AUTH_CREDENTIALS_H_
#define MLIOT_AUTH_CREDENTIALS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mliot::auth {

class CoordinatorSecrets {
 public:
  // Reads or creates the three files; FailedPrecondition naming a file that
  // others may read.
  static absl::StatusOr<CoordinatorSecrets> Load(const std::string& data_dir, const std::string& credentials_dir);

  // The bearer token of generation `generation` (>= 1) of task `task`.
  std::string TaskToken(const std::string& task, int64_t generation) const;
  // What the coordinator presents to node `node` (Node.Wake, Node.Health).
  std::string WakeToken(const std::string& node) const;

  const std::string& admin_sha256() const { return admin_sha256_; }
  const std::string& join_sha256() const { return join_sha256_; }
  const std::string& admin_token_path() const { return admin_path_; }
  const std::string& join_token_path() const { return join_path_; }

 private:
  std::string key_;
  std::string admin_sha256_, join_sha256_;
  std::string admin_path_, join_path_;
};

}  // namespace mliot::auth

#endif  // MLIOT_AUTH_CREDENTIALS_H_
