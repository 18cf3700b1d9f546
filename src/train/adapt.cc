#include "train/adapt.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_util.h"
#include "common/thread_pool.h"
#include "mliot/v1/bundle.pb.h"
#include "ml/preprocess.h"
#include "serve/bundle_reader.h"
#include "train/bundle_writer.h"

namespace mliot {
namespace {

Params ParamsOf(const v1::Member& member) {
  Params p;
  for (const auto& [name, value] : member.params()) {
    if (value.value_case() == v1::ParamValue::kIntValue) p.Set(name, value.int_value());
    else if (value.value_case() == v1::ParamValue::kDoubleValue) p.Set(name, value.double_value());
    else p.Set(name, value.string_value());
  }
  return p;
}

}  // namespace

absl::StatusOr<AdaptReport> Adapt(const std::string& dir, const Dataset& feedback_in,
                                  const AdaptOptions& options,
                                  const std::function<void(const std::string&)>& say,
                                  const ModelRegistry& registry) {
  const double t0 = RealClock()->NowSeconds();
  auto log = [&](const std::string& line) {
    if (say) say(absl::StrFormat("[%6.1fs] %s", RealClock()->NowSeconds() - t0, line));
  };
  int64_t base = options.base_version;
  if (base <= 0) {
    MLIOT_ASSIGN_OR_RETURN(base, LatestBundleVersion(dir));
  }
  v1::BundleManifest m;
  MLIOT_RETURN_IF_ERROR(ReadManifest(dir, base, &m));
  const std::string vdir = absl::StrCat(dir, "/", base, "/");
  std::vector<std::string> classes(m.class_names().begin(), m.class_names().end());
  if (feedback_in.cols != m.num_features()) {
    return absl::InvalidArgumentError(absl::StrCat(feedback_in.source, ": rows have ", feedback_in.cols,
                                                   " features; the bundle expects ", m.num_features()));
  }
  for (int32_t label : feedback_in.labels) {
    if (label < 0) {
      return absl::InvalidArgumentError(absl::StrCat(feedback_in.source, ": feedback rows need labels"));
    }
  }

  // Stored rows, the base version's feedback batches, then this feedback;
  // new classes append.
  MLIOT_ASSIGN_OR_RETURN(Dataset data, ReadBundleData(dir, "train", classes));
  const bool have_validation = std::filesystem::exists(dir + "/data/validation.x.idx");
  if (have_validation && !options.hold_out_validation) {
    MLIOT_ASSIGN_OR_RETURN(Dataset validation, ReadBundleData(dir, "validation", classes));
    MLIOT_RETURN_IF_ERROR(data.Append(validation));
  }
  Dataset all_feedback;
  all_feedback.class_names = classes;
  all_feedback.cols = m.num_features();
  std::vector<std::string> batches(m.feedback_batches().begin(), m.feedback_batches().end());
  if (m.origin().empty() && std::filesystem::exists(dir + "/data/feedback.x.idx")) {
    batches.push_back("feedback");  // a bundle from before feedback batches: one file
  }
  for (const std::string& batch : batches) {
    MLIOT_ASSIGN_OR_RETURN(Dataset part, ReadBundleData(dir, batch, classes));
    MLIOT_RETURN_IF_ERROR(all_feedback.Append(part));
  }
  const int64_t earlier_rows = all_feedback.rows;
  MLIOT_RETURN_IF_ERROR(all_feedback.Append(feedback_in));
  for (size_t c = classes.size(); c < all_feedback.class_names.size(); ++c) {
    data.class_names.push_back(all_feedback.class_names[c]);
    log(absl::StrCat("feedback adds class '", all_feedback.class_names[c], "'"));
  }
  classes = all_feedback.class_names;
  const int64_t train_rows = data.rows;
  for (int w = 0; w < std::max(1, options.feedback_weight); ++w) {
    MLIOT_RETURN_IF_ERROR(data.Append(all_feedback));
  }
  if (m.image_height() > 0) data.shape = ImageShape{m.image_height(), m.image_width()};
  const int k = static_cast<int>(classes.size());

  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Preprocessor> pre,
                         Preprocessor::Load(vdir + m.preprocess().weights_file()));
  const int64_t r = pre->out_dim();
  std::vector<float> reduced(static_cast<size_t>(data.rows * r));
  pre->TransformBatch(data.features.data(), data.rows, reduced.data());
  log(absl::StrFormat("re-fitting %d members on %d rows (%d stored, %d feedback x %d)",
                      m.members_size(), data.rows, train_rows, all_feedback.rows,
                      options.feedback_weight));

  // Re-fit every member in parallel, each with its tuned settings.
  struct Refit {
    const ModelKind* kind = nullptr;
    Params params;
    std::unique_ptr<Model> model;
    absl::Status status;
    double fit_s = 0;
  };
  std::vector<Refit> refits(static_cast<size_t>(m.members_size()));
  for (int i = 0; i < m.members_size(); ++i) {
    MLIOT_ASSIGN_OR_RETURN(refits[i].kind, registry.Find(m.members(i).kind()));
    MLIOT_ASSIGN_OR_RETURN(refits[i].params, CompleteParams(refits[i].kind->params, ParamsOf(m.members(i))));
  }
  {
    ThreadPool pool(options.threads > 0 ? options.threads : ThreadPool::DefaultSize());
    for (Refit& f : refits) {
      pool.Schedule([&] {
        const double start = RealClock()->NowSeconds();
        f.model = f.kind->create();
        FitInput in = f.kind->needs_image
                          ? FitInput{data.features.data(), data.rows, data.cols, data.labels.data(), k, data.shape}
                          : FitInput{reduced.data(), data.rows, r, data.labels.data(), k, std::nullopt};
        FitControl control;
        control.seed = options.seed;
        f.status = f.model->Fit(in, f.params, control);
        f.fit_s = RealClock()->NowSeconds() - start;
        log(absl::StrFormat("re-fitted %s in %.1fs", f.kind->name, f.fit_s));
      });
    }
    pool.Wait();
  }
  BundleContents contents;
  contents.class_names = classes;
  contents.feature_names.assign(m.feature_names().begin(), m.feature_names().end());
  contents.num_features = m.num_features();
  contents.shape = data.shape;
  contents.preprocess = pre.get();
  for (int i = 0; i < m.members_size(); ++i) {
    MLIOT_RETURN_IF_ERROR(Annotate(refits[i].status, absl::StrCat("re-fitting ", refits[i].kind->name)));
    const v1::Member& old = m.members(i);
    contents.members.push_back(BundleMember{refits[i].kind, refits[i].params, refits[i].model.get(),
                                            old.val_accuracy(), old.weight(), refits[i].fit_s,
                                            old.latency_ms()});
  }
  MLIOT_ASSIGN_OR_RETURN(contents.weighting, ParseWeighting(m.weighting()));
  std::unique_ptr<Model> detector;
  if (m.has_two_stage()) {
    const int background = m.two_stage().background_class();
    std::vector<int32_t> binary(static_cast<size_t>(data.rows));
    for (int64_t i = 0; i < data.rows; ++i) binary[i] = data.labels[i] == background ? 1 : 0;
    const ModelKind* logreg = *registry.Find("logreg");
    detector = logreg->create();
    MLIOT_RETURN_IF_ERROR(detector->Fit(FitInput{reduced.data(), data.rows, r, binary.data(), 2, std::nullopt},
                                        Params::Defaults(logreg->params), FitControl{}));
    contents.two_stage = TwoStageSpec{background, m.two_stage().threshold(), detector.get()};
  }
  contents.val_accuracy = m.val_accuracy();
  contents.data_source = m.data_source();
  contents.selection = m.selection();
  contents.featurizer = ManifestFeaturizer(m);
  // This adaptation's rows become one batch (labels in the final classes).
  std::vector<int64_t> new_rows;
  for (int64_t i = earlier_rows; i < all_feedback.rows; ++i) new_rows.push_back(i);
  const std::string batch = absl::StrCat("fb-", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count(),
                                         "-", getpid());
  MLIOT_RETURN_IF_ERROR(WriteBundleData(dir, batch, all_feedback.Subset(new_rows)));
  batches.push_back(batch);
  contents.parent = base;
  contents.origin = absl::StrCat("adaptation: ", feedback_in.rows, " feedback rows");
  contents.feedback_batches = batches;
  contents.feedback_rows = all_feedback.rows;
  absl::StatusOr<int64_t> published = WriteBundleVersion(dir, contents, options.publish_as);
  if (!published.ok()) {
    std::error_code ec;
    std::filesystem::remove(absl::StrCat(dir, "/data/", batch, ".x.idx"), ec);
    std::filesystem::remove(absl::StrCat(dir, "/data/", batch, ".y.idx"), ec);
    return published.status();
  }
  const int64_t version = *published;
  log(absl::StrCat("published version ", version));
  return AdaptReport{version, all_feedback.rows, train_rows, RealClock()->NowSeconds() - t0};
}

}  // namespace mliot
