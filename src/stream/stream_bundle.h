// A streaming model as a serving bundle. The streaming trainer's SgdModel
// has the architecture of one of the engine's kinds (mlp or cnn), so each
// published version is an ordinary bundle (train/bundle_writer.h) with one
// member of that kind: the node's serving worker loads it with Servable,
// hot-swaps it like any other version, the node uploads it to the
// coordinator, and a task that fails over serves it elsewhere unchanged.
//
// The version also carries the SgdModel checkpoint (`stream.ckpt`), so the
// training worker can resume from it (feedback re-fits) on any node.
#ifndef MLIOT_STREAM_STREAM_BUNDLE_H_
#define MLIOT_STREAM_STREAM_BUNDLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "features/featurizer.h"
#include "stream/sgd_model.h"

namespace mliot::stream {

inline constexpr char kStreamCheckpointFile[] = "stream.ckpt";

struct StreamBundleInfo {
  std::vector<std::string> class_names;
  std::string data_source;  // the topic
  std::string scratch_dir;  // for the files written on the way
  std::optional<FeaturizerConfig> featurizer;  // a raw stream's (the bundle featurizes raw input)
};

// Writes the next version of `bundle_dir` from `model`; returns its number.
absl::StatusOr<int64_t> PublishStreamBundle(const std::string& bundle_dir, const SgdModel& model,
                                            const StreamBundleInfo& info);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_STREAM_BUNDLE_H_
