// The flags every command that reads raw IoT data shares (train, eval,
// predict, device simulate): which featurizer, its windows, the devices of
// a multimodal recording, the time column of sensor CSV files.
#ifndef MLIOT_CLI_RAW_DATA_FLAGS_H_
#define MLIOT_CLI_RAW_DATA_FLAGS_H_

#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "features/featurizer.h"
#include "features/raw_source.h"

namespace mliot::cli {

struct RawDataFlags {
  std::string features;  // NAME[:key=value,...]; empty: the data's default
  std::optional<double> window_s;
  std::optional<double> hop_s;
  std::string devices;   // comma-separated
  std::string time_column = "timestamp";
};

// Adds --features, --window-s, --hop-s, --devices, --time-column.
void AddRawDataFlags(CLI::App* cmd, RawDataFlags* flags);

// The featurizer the flags name for data spec `spec` (audio: logmel by
// default, sensor: sensor_stats). Errors name the flag.
absl::StatusOr<FeaturizerConfig> FeaturizerFromFlags(const RawDataFlags& flags, const std::string& spec);

RawSourceOptions RawOptionsFromFlags(const RawDataFlags& flags, bool for_training);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_RAW_DATA_FLAGS_H_
