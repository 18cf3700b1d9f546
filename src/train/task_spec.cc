#include "train/task_spec.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/broker_uri.h"
#include "common/status_util.h"
#include "features/featurizer.h"
#include "features/raw_source.h"
#include "ml/ensemble.h"
#include "ml/hpo/strategy.h"
#include "ml/reduce/reducer.h"
#include "ml/selection.h"

namespace mliot {
namespace {

absl::Status SpecError(const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("spec: ", message));
}

absl::Status CheckKeys(const YAML::Node& map, const std::string& path,
                       const std::vector<std::string>& known) {
  if (!map.IsMap()) {
    return SpecError(absl::StrCat(path.empty() ? "the document" : path, " must be a mapping"));
  }
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return SpecError(absl::StrCat("unknown key '", path.empty() ? "" : path + ".", key,
                                    "'; known: ", absl::StrJoin(known, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> String(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return SpecError(absl::StrCat(path, ": expected a string"));
  return node.as<std::string>();
}

absl::StatusOr<double> Number(const YAML::Node& node, const std::string& path) {
  double v = 0;
  if (!node.IsScalar() || !YAML::convert<double>::decode(node, v)) {
    return SpecError(absl::StrCat(path, ": expected a number, got '",
                                  node.IsScalar() ? node.as<std::string>() : "a structure", "'"));
  }
  if (!(v > 0)) return SpecError(absl::StrCat(path, ": must be > 0, got ", v));
  return v;
}

absl::StatusOr<int64_t> Count(const YAML::Node& node, const std::string& path) {
  MLIOT_ASSIGN_OR_RETURN(double v, Number(node, path));
  if (v != static_cast<double>(static_cast<int64_t>(v))) {
    return SpecError(absl::StrCat(path, ": expected a whole number, got ", v));
  }
  return static_cast<int64_t>(v);
}

absl::StatusOr<std::string> Choice(const YAML::Node& node, const std::string& path,
                                   const std::vector<std::string>& valid) {
  MLIOT_ASSIGN_OR_RETURN(std::string v, String(node, path));
  if (std::find(valid.begin(), valid.end(), v) == valid.end()) {
    return SpecError(absl::StrCat(path, ": '", v, "'; valid: ", absl::StrJoin(valid, ", ")));
  }
  return v;
}

// The `features:` section of audio:/sensor: data: a featurizer name, its
// declared parameters, devices. Missing: the data's default featurizer.
absl::StatusOr<FeaturizerConfig> ParseFeatures(const YAML::Node& node, const std::string& data) {
  FeaturizerConfig f;
  const bool topic = !IsFolderData(data);
  f.name = absl::StartsWith(data, "audio:") ? "logmel" : "sensor_stats";
  if (topic && (!node || !node["name"])) {
    return SpecError("features.name: missing; a topic's raw stream needs its featurizer named (logmel, sensor_stats)");
  }
  if (node) {
    if (!node.IsMap()) return SpecError("features: must be a mapping, e.g. {name: logmel}");
    if (node["name"]) {
      MLIOT_ASSIGN_OR_RETURN(f.name, String(node["name"], "features.name"));
    }
  }
  absl::StatusOr<const FeaturizerKind*> kind = BuiltinFeaturizers().Find(f.name);
  if (!kind.ok()) return Annotate(kind.status(), "spec: features.name");
  if (!topic && (f.name == "logmel") != absl::StartsWith(data, "audio:")) {
    return SpecError(absl::StrCat("features.name: ", f.name, " does not apply to ", data.substr(0, data.find(':')),
                                  ": data"));
  }
  std::vector<std::string> known = {"name", "devices"};
  for (const ParamSpec& p : (*kind)->params) known.push_back(p.name);
  if (node) {
    MLIOT_RETURN_IF_ERROR(CheckKeys(node, "features", known));
    std::string params;
    for (const ParamSpec& p : (*kind)->params) {
      if (!node[p.name]) continue;
      MLIOT_ASSIGN_OR_RETURN(std::string v, String(node[p.name], "features." + p.name));
      absl::StrAppend(&params, params.empty() ? "" : ",", p.name, "=", v);
    }
    absl::StatusOr<Params> parsed = ParseParams((*kind)->params, params);
    if (!parsed.ok()) return Annotate(parsed.status(), "spec: features");
    f.params = *std::move(parsed);
    if (const YAML::Node devices = node["devices"]) {
      if (!devices.IsSequence()) return SpecError("features.devices: expected a list, e.g. [sp, sw]");
      for (const YAML::Node& d : devices) {
        MLIOT_ASSIGN_OR_RETURN(std::string name, String(d, "features.devices"));
        f.devices.push_back(name);
      }
      if (absl::StartsWith(data, "audio:")) return SpecError("features.devices: applies to sensor: data");
    }
  } else {
    f.params = Params::Defaults((*kind)->params);
  }
  return f;
}

// The `stream:` section of a task whose data is a topic.
absl::StatusOr<StreamSpec> ParseStream(const YAML::Node& node) {
  MLIOT_RETURN_IF_ERROR(CheckKeys(node, "stream", {"classes", "epoch_samples", "epochs", "batch", "model",
                                                   "cache_mb", "disk_mb", "policy", "sampler"}));
  StreamSpec s;
  const YAML::Node classes = node["classes"];
  if (!classes) return SpecError("stream.classes: missing (the class names samples carry as labels)");
  if (!classes.IsSequence()) return SpecError("stream.classes: expected a list of class names");
  std::set<std::string> seen;
  for (const YAML::Node& c : classes) {
    MLIOT_ASSIGN_OR_RETURN(std::string name, String(c, "stream.classes"));
    if (!seen.insert(name).second) return SpecError(absl::StrCat("stream.classes: '", name, "' appears twice"));
    s.classes.push_back(name);
  }
  if (s.classes.size() < 2) return SpecError("stream.classes: at least two classes are needed");
  if (!node["epoch_samples"]) return SpecError("stream.epoch_samples: missing (samples per epoch)");
  MLIOT_ASSIGN_OR_RETURN(s.epoch_samples, Count(node["epoch_samples"], "stream.epoch_samples"));
  if (node["epochs"]) {
    MLIOT_ASSIGN_OR_RETURN(int64_t e, Count(node["epochs"], "stream.epochs"));
    s.epochs = static_cast<int>(e);
  }
  if (node["batch"]) {
    MLIOT_ASSIGN_OR_RETURN(int64_t b, Count(node["batch"], "stream.batch"));
    s.batch = static_cast<int>(b);
  }
  if (node["model"]) {
    MLIOT_ASSIGN_OR_RETURN(s.model, Choice(node["model"], "stream.model", {"mlp", "cnn"}));
  }
  if (node["cache_mb"]) {
    MLIOT_ASSIGN_OR_RETURN(s.cache_mb, Number(node["cache_mb"], "stream.cache_mb"));
  }
  if (node["disk_mb"]) {
    MLIOT_ASSIGN_OR_RETURN(s.disk_mb, Number(node["disk_mb"], "stream.disk_mb"));
  }
  if (node["policy"]) {
    MLIOT_ASSIGN_OR_RETURN(s.policy, Choice(node["policy"], "stream.policy", {"lru", "shade", "icache"}));
  }
  if (node["sampler"]) {
    MLIOT_ASSIGN_OR_RETURN(s.sampler, Choice(node["sampler"], "stream.sampler", {"uniform", "importance"}));
  }
  return s;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<TaskSpec> ParseTaskSpec(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return SpecError(absl::StrCat("malformed YAML at line ", e.mark.line + 1, ", column ",
                                  e.mark.column + 1, ": ", e.msg));
  }
  if (!root.IsDefined() || root.IsNull()) return SpecError("empty document");
  TaskSpec spec;
  try {
    MLIOT_RETURN_IF_ERROR(
        CheckKeys(root, "", {"name", "data", "label", "model", "device", "stream", "features", "time_column",
                                         "versions"}));
    if (!root["name"]) return SpecError("missing key 'name'");
    MLIOT_ASSIGN_OR_RETURN(spec.name, String(root["name"], "name"));
    if (!ValidName(spec.name)) {
      return SpecError(absl::StrCat("name: '", spec.name,
                                    "' must be 1-64 characters of a-z, 0-9, '-' and '_'"));
    }
    if (!root["data"]) return SpecError("missing key 'data'");
    MLIOT_ASSIGN_OR_RETURN(spec.data, String(root["data"], "data"));
    if (IsBrokerUri(spec.data)) {
      absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(spec.data);
      MLIOT_RETURN_IF_ERROR(Annotate(uri.status(), "spec: data"));
      if (uri->scheme == "kafka" &&
          uri->topic.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
              std::string::npos) {
        return SpecError(absl::StrCat("data: kafka topic '", uri->topic, "' may use only A-Z a-z 0-9 . _ -"));
      }
      if (root["model"]) {
        return SpecError("model: does not apply when data is a topic (a streaming task); use stream.model");
      }
      if (!root["stream"]) return SpecError("stream: missing; a task whose data is a topic needs stream.classes "
                                            "and stream.epoch_samples");
      MLIOT_ASSIGN_OR_RETURN(spec.stream, ParseStream(root["stream"]));
    } else if (!absl::StartsWith(spec.data, "fashion-mnist:") && !absl::StartsWith(spec.data, "csv:") &&
               !absl::StartsWith(spec.data, "idx:") && !IsFolderData(spec.data)) {
      return SpecError(absl::StrCat("data: '", spec.data,
                                    "' is not a data spec (fashion-mnist:..., csv:PATH, idx:A,B, audio:DIR, sensor:DIR) "
                                    "or a topic (mqtt://HOST:PORT/TOPIC, kafka://HOST:PORT/TOPIC)"));
    } else if (root["stream"]) {
      return SpecError("stream: applies only when data is a topic (mqtt://... or kafka://...)");
    }
    if (root["label"]) {
      MLIOT_ASSIGN_OR_RETURN(spec.label, String(root["label"], "label"));
    }
    if (root["features"] && !IsFolderData(spec.data) && !spec.stream) {
      return SpecError("features: applies to audio:DIR, sensor:DIR and topic data");
    }
    if (IsFolderData(spec.data) || (spec.stream && root["features"])) {
      MLIOT_ASSIGN_OR_RETURN(spec.features, ParseFeatures(root["features"], spec.data));
    }
    if (root["time_column"]) {
      MLIOT_ASSIGN_OR_RETURN(spec.time_column, String(root["time_column"], "time_column"));
    }
    if (const YAML::Node model = root["model"]) {
      MLIOT_RETURN_IF_ERROR(CheckKeys(model, "model",
                                      {"budget_s", "time_bound_s", "models", "reduce", "hpo",
                                       "select", "background_class", "weighting"}));
      if (model["budget_s"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.budget_s, Number(model["budget_s"], "model.budget_s"));
      }
      if (model["time_bound_s"]) {
        MLIOT_ASSIGN_OR_RETURN(double t, Number(model["time_bound_s"], "model.time_bound_s"));
        spec.time_bound_s = t;
      }
      if (const YAML::Node models = model["models"]) {
        if (models.IsSequence()) {
          for (const YAML::Node& m : models) {
            MLIOT_ASSIGN_OR_RETURN(std::string name, String(m, "model.models"));
            spec.models.push_back(name);
          }
        } else {
          MLIOT_ASSIGN_OR_RETURN(std::string list, String(models, "model.models"));
          spec.models = absl::StrSplit(list, ',', absl::SkipWhitespace());
        }
        for (const std::string& m : spec.models) {
          MLIOT_RETURN_IF_ERROR(Annotate(BuiltinModels().Find(m).status(), "spec: model.models"));
        }
      }
      if (model["reduce"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.reduce, String(model["reduce"], "model.reduce"));
        if (spec.reduce != "auto") MLIOT_RETURN_IF_ERROR(Annotate(MakeReducer(spec.reduce).status(), "spec: model.reduce"));
      }
      if (model["hpo"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.hpo, String(model["hpo"], "model.hpo"));
        MLIOT_RETURN_IF_ERROR(Annotate(BuiltinStrategies().Find(spec.hpo).status(), "spec: model.hpo"));
      }
      if (model["select"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.select, String(model["select"], "model.select"));
        MLIOT_RETURN_IF_ERROR(Annotate(SelectionPolicy::Parse(spec.select).status(), "spec: model.select"));
      }
      if (model["background_class"]) {
        MLIOT_ASSIGN_OR_RETURN(std::string bg, String(model["background_class"], "model.background_class"));
        spec.background_class = bg;
      }
    }
    if (const YAML::Node versions = root["versions"]) {
      if (!versions.IsMap()) return SpecError("versions: must be a mapping, e.g. {keep: 5, promote: guarded}");
      MLIOT_RETURN_IF_ERROR(CheckKeys(versions, "versions", {"keep", "keep_days", "promote"}));
      if (versions["keep"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.versions.keep, Count(versions["keep"], "versions.keep"));
        if (spec.versions.keep < 1) return SpecError("versions.keep: must be >= 1");
      }
      if (versions["keep_days"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.versions.keep_days, Number(versions["keep_days"], "versions.keep_days"));
        if (spec.versions.keep_days < 0) return SpecError("versions.keep_days: must be >= 0 (0: no age limit)");
      }
      if (versions["promote"]) {
        MLIOT_ASSIGN_OR_RETURN(std::string p, Choice(versions["promote"], "versions.promote", {"immediate", "guarded"}));
        spec.versions.guarded = p == "guarded";
      }
      if (spec.stream && spec.versions.guarded) {
        return SpecError("versions.promote: guarded applies to tasks trained on stored data, not topics");
      }
    }
    if (const YAML::Node device = root["device"]) {
      MLIOT_RETURN_IF_ERROR(CheckKeys(device, "device", {"require", "prefer"}));
      if (device["require"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.require, String(device["require"], "device.require"));
      }
      if (device["prefer"]) {
        MLIOT_ASSIGN_OR_RETURN(spec.prefer, String(device["prefer"], "device.prefer"));
      }
    }
  } catch (const YAML::Exception& e) {
    return SpecError(absl::StrCat("line ", e.mark.line + 1, ": ", e.msg));
  }
  return spec;
}

TrainOptions ToTrainOptions(const TaskSpec& spec) {
  TrainOptions o;
  o.hold_out_validation = spec.versions.guarded;
  o.budget_s = spec.budget_s;
  o.time_bound_s = spec.time_bound_s;
  o.models = spec.models;
  o.reduce = spec.reduce;
  o.hpo = spec.hpo;
  o.select = spec.select;
  o.background_class = spec.background_class;
  o.featurizer = spec.features;
  return o;
}

bool IsFolderData(const std::string& data_spec) { return IsRawDataSpec(data_spec); }

bool IsImageData(const std::string& data_spec) {
  return absl::StartsWith(data_spec, "fashion-mnist:") || absl::StartsWith(data_spec, "idx:");
}

std::vector<std::string> DataFiles(const std::string& data_spec) {
  if (IsFolderData(data_spec)) {
    std::string dir = data_spec.substr(data_spec.find(':') + 1);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return {dir};
  }
  if (absl::StartsWith(data_spec, "csv:")) return {data_spec.substr(4)};
  if (absl::StartsWith(data_spec, "idx:")) return absl::StrSplit(data_spec.substr(4), ',');
  return {};
}

std::string RelocateDataSpec(const std::string& data_spec, const std::string& dir) {
  const std::vector<std::string> files = DataFiles(data_spec);
  if (files.empty()) return data_spec;
  if (IsFolderData(data_spec)) {
    return absl::StrCat(data_spec.substr(0, data_spec.find(':') + 1), dir, "/",
                        std::filesystem::path(files[0]).filename().string(), ".d");
  }
  std::vector<std::string> moved;
  for (const std::string& f : files) moved.push_back(dir + "/" + std::filesystem::path(f).filename().string());
  return absl::StrCat(data_spec.substr(0, 4), absl::StrJoin(moved, ","));
}

}  // namespace mliot
