// Moving directories of files over gRPC streams as mliot.v1.FileChunk
// messages (bundles and task data between nodes and the coordinator).
#ifndef MLIOT_COMMON_FILE_TRANSFER_H_
#define MLIOT_COMMON_FILE_TRANSFER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mliot/v1/coordinator.pb.h"

namespace mliot {

// Every regular file under `root`/`sub` (recursively), as paths relative to
// `root`, sorted. Temporary files (".tmp" anywhere in the name) are skipped.
std::vector<std::string> ListFiles(const std::string& root, const std::string& sub);

// Emits each file in chunks of at most 1 MiB; `emit` returns false to abort
// (the stream broke), which yields Unavailable.
absl::Status SendFiles(const std::string& root, const std::vector<std::string>& rel_paths,
                       const std::function<bool(const v1::FileChunk&)>& emit);

// A folder as one blob (a serialised mliot.v1.FileTree) and back. Unpacking
// checks paths as FileReceiver does. Errors name the folder.
absl::StatusOr<std::string> PackDirectory(const std::string& dir);
absl::Status UnpackDirectory(const std::string& blob, const std::string& target);

// Receives chunks into a directory. Paths are checked (no absolute paths,
// no ".."); files are written under a temporary name and renamed into place
// when their last chunk arrives.
class FileReceiver {
 public:
  explicit FileReceiver(std::string root) : root_(std::move(root)) {}
  absl::Status Add(const v1::FileChunk& chunk);
  // Fails if a file was left incomplete.
  absl::Status Finish();
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::string root_;
  std::string open_path_;
  std::string buffer_;
  std::vector<std::string> files_;
};

}  // namespace mliot

#endif  // MLIOT_COMMON_FILE_TRANSFER_H_
