#include "serve/bundle_reader.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mliot/v1/bundle.pb.h"

namespace mliot {
namespace fs = std::filesystem;

absl::StatusOr<int64_t> LatestBundleVersion(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such bundle directory"));
  }
  int64_t best = -1;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    int64_t v;
    if (!e.is_directory() || !absl::SimpleAtoi(e.path().filename().string(), &v) || v < 1) continue;
    if (fs::exists(e.path() / "manifest.pb") && v > best) best = v;
  }
  if (best < 0) return absl::NotFoundError(absl::StrCat(dir, ": no bundle versions"));
  return best;
}

absl::Status ReadManifest(const std::string& dir, int64_t version, v1::BundleManifest* manifest) {
  const std::string path = absl::StrCat(dir, "/", version, "/manifest.pb");
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  if (!manifest->ParseFromIstream(&in)) {
    return absl::DataLossError(absl::StrCat(path, ": not a bundle manifest"));
  }
  if (manifest->class_names_size() < 2 || manifest->num_features() <= 0 ||
      manifest->members_size() == 0) {
    return absl::DataLossError(absl::StrCat(path, ": incomplete manifest"));
  }
  return absl::OkStatus();
}

}  // namespace mliot
