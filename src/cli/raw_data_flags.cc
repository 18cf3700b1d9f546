#include "cli/raw_data_flags.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_util.h"

namespace mliot::cli {

void AddRawDataFlags(CLI::App* cmd, RawDataFlags* f) {
  cmd->add_option("--features", f->features,
                  "featurizer of audio:/sensor: data, NAME[:key=value,...] (logmel | sensor_stats; "
                  "see train --help-featurizer NAME)");
  cmd->add_option("--window-s", f->window_s, "sensor_stats window, seconds (default 2)");
  cmd->add_option("--hop-s", f->hop_s, "sensor_stats hop, seconds (default 1)");
  cmd->add_option("--devices", f->devices, "devices of multimodal sensor recordings: files STEM_<device>.csv, e.g. sp,sw");
  cmd->add_option("--time-column", f->time_column, "timestamp column (ms) of sensor CSV files")->capture_default_str();
}

absl::StatusOr<FeaturizerConfig> FeaturizerFromFlags(const RawDataFlags& flags, const std::string& spec) {
  const bool audio = absl::StartsWith(spec, "audio:");
  FeaturizerConfig config;
  if (flags.features.empty()) {
    config.name = audio ? "logmel" : "sensor_stats";
  } else {
    MLIOT_ASSIGN_OR_RETURN(config, ParseFeaturizerText(flags.features));
  }
  const bool windows = flags.window_s || flags.hop_s;
  if (windows && config.name != "sensor_stats") {
    return absl::InvalidArgumentError(
        absl::StrCat("--window-s/--hop-s apply to sensor_stats; ", config.name, " has fixed windows"));
  }
  if (flags.window_s) config.params.Set("window_s", *flags.window_s);
  if (flags.hop_s) config.params.Set("hop_s", *flags.hop_s);
  config.devices = absl::StrSplit(flags.devices, ',', absl::SkipWhitespace());
  if (!config.devices.empty() && audio) {
    return absl::InvalidArgumentError("--devices applies to sensor: data");
  }
  absl::StatusOr<FeaturizerConfig> complete = CompleteFeaturizerConfig(config);
  if (!complete.ok()) return Annotate(complete.status(), absl::StrCat("--features ", config.name));
  return complete;
}

RawSourceOptions RawOptionsFromFlags(const RawDataFlags& flags, bool for_training) {
  RawSourceOptions o;
  o.time_column = flags.time_column;
  o.for_training = for_training;
  return o;
}

}  // namespace mliot::cli
