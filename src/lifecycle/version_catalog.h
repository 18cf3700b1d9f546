// Every version of a task a node has seen, with its lifecycle state: what
// `mliot versions` lists. The node agent keeps the catalog (catalog.pb in the
// bundle directory) so a version deleted by retention, or by hand, is still
// listed, as `deleted`.
#ifndef MLIOT_LIFECYCLE_VERSION_CATALOG_H_
#define MLIOT_LIFECYCLE_VERSION_CATALOG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lifecycle/lifecycle_state.h"
#include "mliot/v1/node.pb.h"

namespace mliot {

// The complete versions in DIR (numeric directories with a manifest), ascending.
std::vector<int64_t> VersionNumbers(const std::string& bundle_dir);

// Bytes of the regular files under `path` (0 when it does not exist).
int64_t DirectoryBytes(const std::string& path);

class VersionCatalog {
 public:
  // Loads DIR/catalog.pb when present.
  explicit VersionCatalog(std::string bundle_dir);

  // Adds versions that appeared (from their manifests, with their size),
  // marks vanished ones deleted, and saves the catalog when it changed. Returns
  // every version, oldest first, in the states `state` and `pin` give.
  std::vector<v1::VersionStatus> Refresh(const LifecycleState& state, int64_t pin);

 private:
  std::string dir_;
  std::map<int64_t, v1::VersionStatus> known_;
};

}  // namespace mliot

#endif  // MLIOT_LIFECYCLE_VERSION_CATALOG_H_
