#include "train/bundle_writer.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "data/idx.h"
#include "mliot/v1/bundle.pb.h"
#include "lifecycle/publish.h"
#include "serve/bundle_reader.h"

namespace mliot {
namespace fs = std::filesystem;
namespace {

void SetParam(const std::string& name, const ParamValue& value, v1::Member* member) {
  v1::ParamValue& out = (*member->mutable_params())[name];
  if (const auto* i = std::get_if<int64_t>(&value)) out.set_int_value(*i);
  else if (const auto* d = std::get_if<double>(&value)) out.set_double_value(*d);
  else out.set_string_value(std::get<std::string>(value));
}

}  // namespace

absl::StatusOr<int64_t> WriteBundleVersion(const std::string& dir, const BundleContents& c,
                                           int64_t exact_version) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  absl::StatusOr<int64_t> latest = LatestBundleVersion(dir);
  int64_t version = exact_version > 0 ? exact_version : latest.ok() ? *latest + 1 : 1;
  const std::string tmp = absl::StrCat(dir, "/.tmp-", version, "-", getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(tmp, ": cannot create: ", ec.message()));

  v1::BundleManifest m;
  m.set_version(version);
  m.set_created_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  for (const std::string& name : c.class_names) m.add_class_names(name);
  for (const std::string& name : c.feature_names) m.add_feature_names(name);
  m.set_num_features(c.num_features);
  if (c.shape) {
    m.set_image_height(c.shape->height);
    m.set_image_width(c.shape->width);
  }
  m.mutable_preprocess()->set_reducer(c.preprocess->reducer_spec());
  m.mutable_preprocess()->set_weights_file("preprocess.w");
  m.mutable_preprocess()->set_reduced_dim(c.preprocess->out_dim());
  MLIOT_RETURN_IF_ERROR(c.preprocess->Save(tmp + "/preprocess.w"));
  for (size_t i = 0; i < c.members.size(); ++i) {
    const BundleMember& bm = c.members[i];
    v1::Member* member = m.add_members();
    member->set_kind(bm.kind->name);
    for (const auto& [name, value] : bm.params.values()) SetParam(name, value, member);
    member->set_val_accuracy(bm.val_accuracy);
    member->set_weight(bm.weight);
    member->set_fit_s(bm.fit_s);
    member->set_latency_ms(bm.latency_ms);
    member->set_input(bm.kind->needs_image ? v1::MEMBER_INPUT_RAW : v1::MEMBER_INPUT_REDUCED);
    const std::string file = absl::StrCat("member-", i, "-", bm.kind->name, ".w");
    member->set_weights_file(file);
    MLIOT_RETURN_IF_ERROR(bm.model->SaveWeights(absl::StrCat(tmp, "/", file)));
  }
  m.set_weighting(WeightingName(c.weighting));
  if (c.two_stage) {
    m.mutable_two_stage()->set_background_class(c.two_stage->background_class);
    m.mutable_two_stage()->set_threshold(c.two_stage->threshold);
    m.mutable_two_stage()->set_weights_file("stage1-logreg.w");
    MLIOT_RETURN_IF_ERROR(c.two_stage->detector->SaveWeights(tmp + "/stage1-logreg.w"));
  }
  for (const auto& [name, source] : c.extra_files) {
    fs::copy_file(source, absl::StrCat(tmp, "/", name), fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::UnavailableError(absl::StrCat(source, ": cannot copy into the bundle: ", ec.message()));
  }
  m.set_val_accuracy(c.val_accuracy);
  m.set_data_source(c.data_source);
  m.set_selection(c.selection);
  if (c.featurizer) FeaturizerToProto(*c.featurizer, m.mutable_featurizer());
  m.set_parent(c.parent);
  m.set_origin(c.origin);
  for (const std::string& b : c.feedback_batches) m.add_feedback_batches(b);
  m.set_feedback_rows(c.feedback_rows);
  MLIOT_RETURN_IF_ERROR(WriteManifest(tmp + "/manifest.pb", m));
  return PublishVersionDirectory(dir, tmp, &m, exact_version);
}

absl::Status WriteBundleData(const std::string& dir, const std::string& name, const Dataset& data) {
  const std::string data_dir = dir + "/data";
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(data_dir, ": cannot create: ", ec.message()));
  const std::string tmp = absl::StrCat(data_dir, "/.tmp-", name, "-", getpid());
  // Compressed: the rows are stored on the node and again at the
  // coordinator, and are most of a task's disk use (Fashion-MNIST's 10,000
  // training rows: 31 MB as f32, 7.8 MB gzipped).
  MLIOT_RETURN_IF_ERROR(WriteIdxFloat(tmp + ".x", {data.rows, data.cols}, data.features.data(), /*gzip=*/true));
  MLIOT_RETURN_IF_ERROR(WriteIdxInt32(tmp + ".y", data.labels, /*gzip=*/true));
  // Labels are indices into the manifest's class names.
  fs::rename(tmp + ".x", absl::StrCat(data_dir, "/", name, ".x.idx"), ec);
  if (!ec) fs::rename(tmp + ".y", absl::StrCat(data_dir, "/", name, ".y.idx"), ec);
  if (ec) return absl::UnavailableError(absl::StrCat(data_dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<Dataset> ReadBundleData(const std::string& dir, const std::string& name,
                                       const std::vector<std::string>& class_names) {
  const std::string x = absl::StrCat(dir, "/data/", name, ".x.idx");
  const std::string y = absl::StrCat(dir, "/data/", name, ".y.idx");
  MLIOT_ASSIGN_OR_RETURN(IdxArray features, ReadIdx(x));
  MLIOT_ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(y));
  if (features.dims.size() != 2 || labels.dims.size() != 1 || labels.dims[0] != features.dims[0]) {
    return absl::DataLossError(absl::StrCat(x, ": stored data has the wrong shape"));
  }
  Dataset ds;
  ds.source = x;
  ds.rows = features.dims[0];
  ds.cols = features.dims[1];
  ds.features = std::move(features.values);
  ds.class_names = class_names;
  for (float l : labels.values) {
    if (l < 0 || l >= static_cast<float>(class_names.size())) {
      return absl::DataLossError(absl::StrCat(y, ": label out of range"));
    }
    ds.labels.push_back(static_cast<int32_t>(l));
  }
  return ds;
}

}  // namespace mliot
