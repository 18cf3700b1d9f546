// Reading model bundles (the format is described in train/bundle_writer.h).
#ifndef MLIOT_SERVE_BUNDLE_READER_H_
#define MLIOT_SERVE_BUNDLE_READER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "features/featurizer.h"
#include "ml/params.h"

namespace mliot {
namespace v1 {
class BundleManifest;
class Featurizer;
class Member;
}

// The highest complete version in `dir` (a numeric subdirectory holding a
// manifest). NotFound when there is none.
absl::StatusOr<int64_t> LatestBundleVersion(const std::string& dir);

// Reads and checks DIR/<version>/manifest.pb.
absl::Status ReadManifest(const std::string& dir, int64_t version, v1::BundleManifest* manifest);

// A member's hyper-parameters as stored.
Params MemberParams(const v1::Member& member);

// The manifest's featurizer, if it has one.
std::optional<FeaturizerConfig> ManifestFeaturizer(const v1::BundleManifest& manifest);
FeaturizerConfig FeaturizerFromProto(const v1::Featurizer& featurizer);
// Stores `config` in `out`.
void FeaturizerToProto(const FeaturizerConfig& config, v1::Featurizer* out);

}  // namespace mliot

#endif  // MLIOT_SERVE_BUNDLE_READER_H_
