// Publishing a bundle version directory: the numbering rules every writer of
// versions shares (training, adaptation, rollback).
//
// A version is written into DIR/.tmp-*/ and renamed to DIR/<n> in one
// rename(2). A number once published is never used again: retention never
// deletes the newest version, so "1 + the highest present" only grows.
#ifndef MLIOT_LIFECYCLE_PUBLISH_H_
#define MLIOT_LIFECYCLE_PUBLISH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mliot {
namespace v1 {
class BundleManifest;
}

absl::Status WriteManifest(const std::string& path, const v1::BundleManifest& manifest);

// Publishes the complete version directory `tmp` (whose manifest is
// `manifest`, rewritten when the number changes) as DIR/<n>, n starting at
// manifest->version(). With `exact_version` > 0 only that number will do
// (Aborted when it is taken); otherwise a taken number moves on to the next.
// Removes `tmp` when it fails.
absl::StatusOr<int64_t> PublishVersionDirectory(const std::string& dir, const std::string& tmp,
                                                v1::BundleManifest* manifest, int64_t exact_version);

// The current time as Unix milliseconds.
int64_t NowUnixMs();

}  // namespace mliot

#endif  // MLIOT_LIFECYCLE_PUBLISH_H_
