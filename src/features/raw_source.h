// Raw data specs: recordings featurized into a Dataset.
//
//   audio:DIR    one sub-folder per class (DIR/<class>/<clip>), any format
//                libsndfile reads, any rate and channel count; each clip gives
//                one or more rows (featurizer default: logmel)
//   sensor:DIR   CSV recordings (data/sensor_recording.h), one file per
//                recording, or STEM_<device>.csv per device with devices;
//                each window gives one row labelled with its majority label
//                (ties: the label that comes first in the window)
//
// Every row remembers its recording (Dataset::groups, so that splits keep a
// recording on one side) and its raw window, so that evaluation and
// prediction can send the raw window itself through the serving path.
#ifndef MLIOT_FEATURES_RAW_SOURCE_H_
#define MLIOT_FEATURES_RAW_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "data/signal.h"
#include "features/featurizer.h"

namespace mliot {

struct RawSourceOptions {
  std::string time_column = "timestamp";
  std::string label_column = "label";
  // Training data needs labels and two classes; prediction data may have
  // neither (audio clips directly in DIR, sensor files without labels).
  bool for_training = true;
  int threads = 0;  // featurization threads; 0: the cores
};

struct RawWindow {
  int32_t recording = 0;
  FrameRange frames;
};

struct RawDataset {
  Dataset data;                               // featurized rows
  std::vector<Signal> recordings;             // audio as read; sensors aligned at the featurizer's rate
  std::vector<std::string> recording_names;   // file (audio) or stem (sensors)
  std::vector<RawWindow> windows;             // one per row
  FeaturizerConfig featurizer;                // complete, with the data's channels and devices
};

// True for audio:... and sensor:... specs.
bool IsRawDataSpec(absl::string_view spec);

// `featurizer` names the featurizer (name empty: logmel for audio,
// sensor_stats for sensors) and its parameters; `featurizer.devices` the
// devices of multimodal recordings. A featurizer from a bundle carries its
// channels: the data must have the same ones. Errors name the file.
absl::StatusOr<RawDataset> LoadRawDataset(absl::string_view spec, FeaturizerConfig featurizer,
                                          const RawSourceOptions& options = {});

}  // namespace mliot

#endif  // MLIOT_FEATURES_RAW_SOURCE_H_
