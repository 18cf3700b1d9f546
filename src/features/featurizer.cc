#include "features/featurizer.h"

#include <cmath>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"
#include "features/logmel.h"
#include "features/sensor_stats.h"

namespace mliot {

absl::StatusOr<std::vector<float>> Featurizer::FeaturizeAll(const Signal& signal, int64_t* rows) const {
  const std::vector<FrameRange> windows = Windows(signal.frames(), signal.sample_rate);
  std::vector<float> out(windows.size() * static_cast<size_t>(num_features()));
  for (size_t i = 0; i < windows.size(); ++i) {
    MLIOT_RETURN_IF_ERROR(FeaturizeWindow(signal, windows[i], out.data() + i * num_features()));
  }
  *rows = static_cast<int64_t>(windows.size());
  return out;
}

absl::Status Featurizer::CheckInput(const Signal& signal) const {
  if (signal.channels <= 0 || !(signal.sample_rate > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(config_.name, ": input needs channels >= 1 and sample_rate > 0 (got ",
                                                   signal.channels, " channels at ", signal.sample_rate, " Hz)"));
  }
  if (!config_.channels.empty()) {
    if (signal.channels != static_cast<int>(config_.channels.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          config_.name, ": input has ", signal.channels, " channels, expected ", config_.channels.size(),
          " (", absl::StrJoin(config_.channels, ", "), ")"));
    }
    if (!signal.channel_names.empty() && signal.channel_names != config_.channels) {
      return absl::InvalidArgumentError(absl::StrCat(config_.name, ": input channels (",
                                                     absl::StrJoin(signal.channel_names, ", "),
                                                     ") are not the trained ones (",
                                                     absl::StrJoin(config_.channels, ", "), ")"));
    }
  }
  if (required_rate() > 0 && std::abs(signal.sample_rate - required_rate()) > 1e-6 * required_rate()) {
    return absl::InvalidArgumentError(absl::StrCat(config_.name, ": input sample_rate ", signal.sample_rate,
                                                   " Hz, expected ", required_rate(), " Hz"));
  }
  return absl::OkStatus();
}

absl::Status FeaturizerRegistry::Register(FeaturizerKind kind) {
  if (kinds_.count(kind.name) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("featurizer '", kind.name, "' registered twice"));
  }
  const std::string name = kind.name;
  kinds_.emplace(name, std::move(kind));
  return absl::OkStatus();
}

absl::StatusOr<const FeaturizerKind*> FeaturizerRegistry::Find(const std::string& name) const {
  auto it = kinds_.find(name);
  if (it == kinds_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown featurizer '", name, "'; valid: ", absl::StrJoin(Names(), ", ")));
  }
  return &it->second;
}

std::vector<std::string> FeaturizerRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, kind] : kinds_) names.push_back(name);
  return names;
}

void RegisterBuiltinFeaturizers(FeaturizerRegistry& registry) {
  (void)registry.Register(LogMelKind());
  (void)registry.Register(SensorStatsKind());
}

const FeaturizerRegistry& BuiltinFeaturizers() {
  static const FeaturizerRegistry* registry = [] {
    auto* r = new FeaturizerRegistry();
    RegisterBuiltinFeaturizers(*r);
    return r;
  }();
  return *registry;
}

absl::StatusOr<FeaturizerConfig> CompleteFeaturizerConfig(FeaturizerConfig config,
                                                         const FeaturizerRegistry& registry) {
  MLIOT_ASSIGN_OR_RETURN(const FeaturizerKind* kind, registry.Find(config.name));
  MLIOT_ASSIGN_OR_RETURN(config.params, CompleteParams(kind->params, config.params));
  return config;
}

absl::StatusOr<std::unique_ptr<Featurizer>> MakeFeaturizer(const FeaturizerConfig& config,
                                                           const FeaturizerRegistry& registry) {
  MLIOT_ASSIGN_OR_RETURN(const FeaturizerKind* kind, registry.Find(config.name));
  absl::StatusOr<FeaturizerConfig> complete = CompleteFeaturizerConfig(config, registry);
  if (!complete.ok()) return Annotate(complete.status(), absl::StrCat("features ", config.name));
  return kind->create(*std::move(complete));
}

absl::StatusOr<FeaturizerConfig> ParseFeaturizerText(const std::string& text,
                                                     const FeaturizerRegistry& registry) {
  const size_t colon = text.find(':');
  FeaturizerConfig config;
  config.name = text.substr(0, colon);
  MLIOT_ASSIGN_OR_RETURN(const FeaturizerKind* kind, registry.Find(config.name));
  absl::StatusOr<Params> params =
      ParseParams(kind->params, colon == std::string::npos ? "" : text.substr(colon + 1));
  if (!params.ok()) return Annotate(params.status(), absl::StrCat("--features ", config.name));
  config.params = *std::move(params);
  return config;
}

absl::StatusOr<std::string> DescribeFeaturizer(const std::string& name, const FeaturizerRegistry& registry) {
  MLIOT_ASSIGN_OR_RETURN(const FeaturizerKind* kind, registry.Find(name));
  std::string out = absl::StrCat(kind->name, ": ", kind->description, "\n\n");
  for (const ParamSpec& s : kind->params) {
    std::string def;
    std::visit([&](const auto& v) { def = absl::StrFormat("%v", v); }, s.default_value);
    const std::string range = s.type == ParamType::kChoice ? absl::StrJoin(s.choices, "|")
                                                          : absl::StrFormat("[%g, %g]", s.min, s.max);
    absl::StrAppendFormat(&out, "  %-12s default %-8s %-16s %s\n", s.name, def, range, s.help);
  }
  return out;
}

}  // namespace mliot
