#include "serve/bundle_reader.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mliot/v1/bundle.pb.h"

namespace mliot {
namespace fs = std::filesystem;

absl::StatusOr<int64_t> LatestBundleVersion(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such bundle directory"));
  }
  int64_t best = -1;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    int64_t v;
    if (!e.is_directory() || !absl::SimpleAtoi(e.path().filename().string(), &v) || v < 1) continue;
    if (fs::exists(e.path() / "manifest.pb") && v > best) best = v;
  }
  if (best < 0) return absl::NotFoundError(absl::StrCat(dir, ": no bundle versions"));
  return best;
}

absl::Status ReadManifest(const std::string& dir, int64_t version, v1::BundleManifest* manifest) {
  const std::string path = absl::StrCat(dir, "/", version, "/manifest.pb");
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  if (!manifest->ParseFromIstream(&in)) {
    return absl::DataLossError(absl::StrCat(path, ": not a bundle manifest"));
  }
  if (manifest->class_names_size() < 2 || manifest->num_features() <= 0 ||
      manifest->members_size() == 0) {
    return absl::DataLossError(absl::StrCat(path, ": incomplete manifest"));
  }
  return absl::OkStatus();
}

namespace {

Params ParamsOf(const google::protobuf::Map<std::string, v1::ParamValue>& stored) {
  Params p;
  for (const auto& [name, value] : stored) {
    switch (value.value_case()) {
      case v1::ParamValue::kIntValue:
        p.Set(name, value.int_value());
        break;
      case v1::ParamValue::kDoubleValue:
        p.Set(name, value.double_value());
        break;
      default:
        p.Set(name, value.string_value());
    }
  }
  return p;
}

}  // namespace

Params MemberParams(const v1::Member& member) { return ParamsOf(member.params()); }

std::optional<FeaturizerConfig> ManifestFeaturizer(const v1::BundleManifest& manifest) {
  if (!manifest.has_featurizer()) return std::nullopt;
  return FeaturizerFromProto(manifest.featurizer());
}

FeaturizerConfig FeaturizerFromProto(const v1::Featurizer& f) {
  return FeaturizerConfig{f.name(), ParamsOf(f.params()), {f.channels().begin(), f.channels().end()},
                          {f.devices().begin(), f.devices().end()}};
}

void FeaturizerToProto(const FeaturizerConfig& config, v1::Featurizer* out) {
  out->set_name(config.name);
  for (const auto& [name, value] : config.params.values()) {
    v1::ParamValue& v = (*out->mutable_params())[name];
    if (const auto* i = std::get_if<int64_t>(&value)) v.set_int_value(*i);
    else if (const auto* d = std::get_if<double>(&value)) v.set_double_value(*d);
    else v.set_string_value(std::get<std::string>(value));
  }
  for (const std::string& c : config.channels) out->add_channels(c);
  for (const std::string& d : config.devices) out->add_devices(d);
}

}  // namespace mliot
