#include "stream/stream_bundle.h"

#include <chrono>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "ml/model.h"
#include "ml/preprocess.h"
#include "train/bundle_writer.h"

namespace mliot::stream {

absl::StatusOr<int64_t> PublishStreamBundle(const std::string& bundle_dir, const SgdModel& model,
                                            const StreamBundleInfo& info) {
  const SgdOptions& o = model.options();
  std::error_code ec;
  std::filesystem::create_directories(info.scratch_dir, ec);
  const std::string engine_file = info.scratch_dir + "/engine.w";
  const std::string checkpoint = absl::StrCat(info.scratch_dir, "/", kStreamCheckpointFile);
  MLIOT_RETURN_IF_ERROR(model.SaveEngineWeights(engine_file));
  MLIOT_RETURN_IF_ERROR(model.SaveCheckpoint(checkpoint));

  // The engine's kind reads the weights back: the bundle holds exactly what
  // Servable will load.
  MLIOT_ASSIGN_OR_RETURN(const ModelKind* kind, BuiltinModels().Find(o.kind));
  Params params = Params::Defaults(kind->params);
  if (o.kind == "cnn") {
    params.Set("hidden", int64_t{o.hidden});
    params.Set("head", std::string("dense"));  // the streaming cnn flattens its pooled map
  }
  std::unique_ptr<Model> served = kind->create();
  MLIOT_RETURN_IF_ERROR(Annotate(served->LoadWeights(engine_file, params), "stream bundle"));

  // Preprocessing maps [0, 1] inputs to [-1, 1], the SgdModel's own input
  // mapping: a global scale fitted on an all-0 and an all-1 row has mean 0.5
  // and standard deviation 0.5. (The cnn member takes the raw row and maps
  // it by its own mean/inv_std, the same values.)
  std::vector<float> rows(static_cast<size_t>(2 * o.features), 0.0f);
  std::fill(rows.begin() + o.features, rows.end(), 1.0f);
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Preprocessor> preprocess,
                         Preprocessor::Fit(rows.data(), 2, o.features, true, "none", FitControl{}));

  // Single-row latency, as the engine records it for every member.
  std::vector<float> row(static_cast<size_t>(o.features), 0.5f), proba(static_cast<size_t>(o.classes));
  served->PredictProba(row.data(), proba.data());
  const auto start = std::chrono::steady_clock::now();
  constexpr int kTimed = 50;
  for (int i = 0; i < kTimed; ++i) served->PredictProba(row.data(), proba.data());
  const double latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kTimed;

  BundleContents c;
  c.class_names = info.class_names;
  c.num_features = static_cast<int>(o.features);
  if (o.height > 0 && o.width > 0) c.shape = ImageShape{o.height, o.width};
  c.preprocess = preprocess.get();
  c.members.push_back(BundleMember{.kind = kind, .params = params, .model = served.get(), .weight = 1.0,
                                   .latency_ms = latency_ms});
  c.data_source = info.data_source;
  c.featurizer = info.featurizer;
  c.selection = "stream";
  c.extra_files = {{kStreamCheckpointFile, checkpoint}};
  return WriteBundleVersion(bundle_dir, c);
}

}  // namespace mliot::stream
