#include "lifecycle/publish.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "mliot/v1/bundle.pb.h"

namespace mliot {
namespace fs = std::filesystem;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status WriteManifest(const std::string& path, const v1::BundleManifest& manifest) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !manifest.SerializeToOstream(&out)) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot write manifest"));
  }
  out.flush();
  return out ? absl::OkStatus() : absl::UnavailableError(absl::StrCat(path, ": write failed"));
}

absl::StatusOr<int64_t> PublishVersionDirectory(const std::string& dir, const std::string& tmp,
                                                v1::BundleManifest* m, int64_t exact_version) {
  std::error_code ec;
  int64_t version = m->version();
  for (int attempt = 0; attempt < 100; ++attempt, ++version) {
    const std::string final_dir = absl::StrCat(dir, "/", version);
    if (fs::exists(final_dir)) {
      if (exact_version > 0) break;
      continue;  // another writer took this number meanwhile
    }
    if (version != m->version()) {
      m->set_version(version);
      MLIOT_RETURN_IF_ERROR(WriteManifest(tmp + "/manifest.pb", *m));
    }
    fs::rename(tmp, final_dir, ec);
    if (!ec) return version;
    if (exact_version > 0) break;
  }
  fs::remove_all(tmp, ec);
  if (exact_version > 0) {
    return absl::AbortedError(absl::StrCat(dir, ": version ", exact_version, " appeared meanwhile"));
  }
  return absl::UnavailableError(absl::StrCat(dir, ": could not publish a new version"));
}

}  // namespace mliot
