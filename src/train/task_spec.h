// TaskSpec: an application's request, as submitted to the coordinator in
// YAML (`mliot submit SPEC.yaml`):
//
//   name: kitchen-activity          # [a-z0-9_-], 1-64 characters
//   data: csv:kitchen.csv           # any engine data spec
//   label: activity                 # CSV label column (default: label)
//   model:
//     budget_s: 60
//     time_bound_s: 10
//     models: [knn, xgboost, mlp]   # or "knn,xgboost,mlp"
//     reduce: auto
//     hpo: bayes
//     select: "min_accuracy(0.8) and lowest_latency(3)"
//     background_class: idle
//   device:
//     require: "locality == 'local' and latency_ms <= 40"
//     prefer: "max(memory_mb)"
//
// Raw IoT data (a folder of audio clips or sensor recordings, shipped with
// the spec) names its featurizer; audio: without one means logmel:
//
//   data: audio:clips/                    # or sensor:recordings/
//   features: {name: sensor_stats, window_s: 2, hop_s: 1, devices: [sp, sw]}
//   time_column: timestamp                # sensor CSV files (default)
//
// A topic may carry a raw stream (chunks of PCM audio or sensor readings,
// stream/raw_windower.h): `features: {name: logmel}` makes the node window
// and featurize it on ingest; stream.model then trains on the windows.
//
// A streaming task names a topic as its data and says how to train on it
// (the `model:` section does not apply; stream/stream_task.h runs it):
//
//   data: mqtt://127.0.0.1:1883/mliot/kitchen/data   # or kafka://HOST:PORT/TOPIC
//   stream:
//     classes: [idle, cooking, washing]   # the labels samples carry (required)
//     epoch_samples: 60000                # samples per epoch (required)
//     epochs: 2
//     batch: 64
//     model: mlp                          # mlp | cnn
//     cache_mb: 64                        # RAM tier
//     disk_mb: 256                        # LMDB tier
//     policy: lru                         # lru | shade | icache
//     sampler: uniform                    # uniform | importance
//
// Unknown keys and bad values are InvalidArgument naming the key path, e.g.
// `spec: model.budget_s: must be > 0, got -3` or `spec: unknown key
// 'model.budgt_s'; known: budget_s, time_bound_s, ...`. Model names, the
// reducer, the HPO strategy and the selection policy are checked against
// the engine's registries; the device policy by coord/policy.h.
#ifndef MLIOT_TRAIN_TASK_SPEC_H_
#define MLIOT_TRAIN_TASK_SPEC_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/trainer.h"

namespace mliot {

struct StreamSpec {
  std::vector<std::string> classes;
  int64_t epoch_samples = 0;
  int epochs = 2;
  int batch = 64;
  std::string model = "mlp";
  double cache_mb = 64;
  double disk_mb = 256;
  std::string policy = "lru";
  std::string sampler = "uniform";
};

// The `versions:` section: retention and promotion (src/lifecycle/).
struct VersionsSpec {
  int64_t keep = 5;        // versions kept besides the serving, pinned and shadow ones
  double keep_days = 0;    // older versions are deleted too (0: no age limit)
  bool guarded = false;    // promote: guarded (a shadow first) or immediate
};

struct TaskSpec {
  std::string name;
  std::string data;
  std::string label = "label";
  double budget_s = 60;
  std::optional<double> time_bound_s;
  std::vector<std::string> models;
  std::string reduce = "auto";
  std::string hpo = "bayes";
  std::string select = kDefaultSelection;
  std::optional<std::string> background_class;
  std::string require;  // empty: any node
  std::string prefer = "best_effort";
  std::optional<StreamSpec> stream;  // set exactly when `data` is a topic
  std::optional<FeaturizerConfig> features;  // audio:/sensor: data
  std::string time_column = "timestamp";
  VersionsSpec versions;
};

absl::StatusOr<TaskSpec> ParseTaskSpec(const std::string& yaml_text);

// The engine options for this spec (data_source and out_dir left empty).
TrainOptions ToTrainOptions(const TaskSpec& spec);

// Local files the data spec names (csv:PATH, idx:A,B), in order; the
// folder of audio:DIR and sensor:DIR (shipped packed, see IsFolderData);
// empty for data every node has (fashion-mnist:*) and for topics.
std::vector<std::string> DataFiles(const std::string& data_spec);

// True for audio:DIR and sensor:DIR: the folder travels packed as one file
// (common/file_transfer.h PackDirectory) and is unpacked on the node into
// `dir`/<basename>.d.
bool IsFolderData(const std::string& data_spec);

// True for image data (fashion-mnist:*, idx:*): placement predicts image
// and sensor tasks' costs apart.
bool IsImageData(const std::string& data_spec);

// The same data spec with every file path replaced by `dir`/<basename>
// (folders: `dir`/<basename>.d).
std::string RelocateDataSpec(const std::string& data_spec, const std::string& dir);

}  // namespace mliot

#endif  // MLIOT_TRAIN_TASK_SPEC_H_
