#include "common/file_transfer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "common/status_util.h"

namespace mliot {
namespace fs = std::filesystem;

std::vector<std::string> ListFiles(const std::string& root, const std::string& sub) {
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path base = fs::path(root) / sub;
  if (!fs::exists(base, ec)) return out;
  // Symbolic links are followed (a data folder may link to its recordings),
  // and paths stay those under `root` (lexically: not the links' targets).
  for (auto it = fs::recursive_directory_iterator(base, fs::directory_options::follow_directory_symlink, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file()) continue;
    const std::string rel = it->path().lexically_relative(root).string();
    if (absl::StrContains(rel, ".tmp")) continue;
    out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status SendFiles(const std::string& root, const std::vector<std::string>& rel_paths,
                       const std::function<bool(const v1::FileChunk&)>& emit) {
  constexpr size_t kChunk = 1 << 20;
  for (const std::string& rel : rel_paths) {
    absl::StatusOr<std::string> content = ReadFile(root + "/" + rel);
    if (!content.ok()) return content.status();
    size_t offset = 0;
    do {
      v1::FileChunk chunk;
      chunk.set_path(rel);
      const size_t n = std::min(kChunk, content->size() - offset);
      chunk.set_data(content->substr(offset, n));
      offset += n;
      chunk.set_last(offset >= content->size());
      if (!emit(chunk)) return absl::UnavailableError("stream closed while sending files");
    } while (offset < content->size());
  }
  return absl::OkStatus();
}

absl::Status FileReceiver::Add(const v1::FileChunk& chunk) {
  const fs::path rel(chunk.path());
  if (chunk.path().empty() || rel.is_absolute() || absl::StrContains(chunk.path(), "..")) {
    return absl::InvalidArgumentError(absl::StrCat("bad file path '", chunk.path(), "'"));
  }
  if (!open_path_.empty() && open_path_ != chunk.path()) {
    return absl::InvalidArgumentError(absl::StrCat("file '", open_path_, "' ended without its last chunk"));
  }
  open_path_ = chunk.path();
  buffer_ += chunk.data();
  if (!chunk.last()) return absl::OkStatus();
  const fs::path target = fs::path(root_) / rel;
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  absl::Status s = WriteFileAtomically(target.string(), buffer_);
  files_.push_back(open_path_);
  open_path_.clear();
  buffer_.clear();
  return s;
}

absl::Status FileReceiver::Finish() {
  if (!open_path_.empty()) {
    return absl::DataLossError(absl::StrCat("file '", open_path_, "' was cut off"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PackDirectory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  }
  v1::FileTree tree;
  MLIOT_RETURN_IF_ERROR(SendFiles(dir, ListFiles(dir, ""), [&](const v1::FileChunk& chunk) {
    *tree.add_chunks() = chunk;
    return true;
  }));
  if (tree.chunks_size() == 0) return absl::InvalidArgumentError(absl::StrCat(dir, ": no files"));
  return tree.SerializeAsString();
}

absl::Status UnpackDirectory(const std::string& blob, const std::string& target) {
  v1::FileTree tree;
  if (!tree.ParseFromString(blob)) return absl::DataLossError(absl::StrCat(target, ": not a packed folder"));
  FileReceiver receiver(target);
  for (const v1::FileChunk& chunk : tree.chunks()) MLIOT_RETURN_IF_ERROR(receiver.Add(chunk));
  return receiver.Finish();
}

}  // namespace mliot
