// Reading model bundles (the format is described in train/bundle_writer.h).
#ifndef MLIOT_SERVE_BUNDLE_READER_H_
#define MLIOT_SERVE_BUNDLE_READER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mliot {
namespace v1 {
class BundleManifest;
}

// The highest complete version in `dir` (a numeric subdirectory holding a
// manifest). NotFound when there is none.
absl::StatusOr<int64_t> LatestBundleVersion(const std::string& dir);

// Reads and checks DIR/<version>/manifest.pb.
absl::Status ReadManifest(const std::string& dir, int64_t version, v1::BundleManifest* manifest);

}  // namespace mliot

#endif  // MLIOT_SERVE_BUNDLE_READER_H_
