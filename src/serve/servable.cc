#include "serve/servable.h"

#include <chrono>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"

namespace mliot {

absl::StatusOr<std::unique_ptr<Servable>> Servable::Load(const std::string& dir, int64_t version,
                                                         const ModelRegistry& registry) {
  if (version <= 0) {
    MLIOT_ASSIGN_OR_RETURN(version, LatestBundleVersion(dir));
  }
  v1::BundleManifest m;
  MLIOT_RETURN_IF_ERROR(ReadManifest(dir, version, &m));
  const std::string vdir = absl::StrCat(dir, "/", version, "/");
  auto s = std::unique_ptr<Servable>(new Servable());
  s->dir_ = dir;
  s->version_ = version;
  s->class_names_.assign(m.class_names().begin(), m.class_names().end());
  s->num_features_ = m.num_features();
  if (m.image_height() > 0) s->shape_ = ImageShape{m.image_height(), m.image_width()};
  if (std::optional<FeaturizerConfig> f = ManifestFeaturizer(m)) {
    MLIOT_ASSIGN_OR_RETURN(s->featurizer_, MakeFeaturizer(*f));
    if (s->featurizer_->num_features() != s->num_features_) {
      return absl::DataLossError(absl::StrCat(vdir, ": featurizer ", f->name, " gives ",
                                              s->featurizer_->num_features(), " features, manifest says ",
                                              s->num_features_));
    }
  }
  MLIOT_ASSIGN_OR_RETURN(s->preprocess_, Preprocessor::Load(vdir + m.preprocess().weights_file()));
  if (s->preprocess_->in_dim() != s->num_features_) {
    return absl::DataLossError(absl::StrCat(vdir, ": preprocessing expects ",
                                            s->preprocess_->in_dim(), " features, manifest says ",
                                            s->num_features_));
  }
  const int k = s->num_classes();
  for (const v1::Member& member : m.members()) {
    MLIOT_ASSIGN_OR_RETURN(const ModelKind* kind, registry.Find(member.kind()));
    MLIOT_ASSIGN_OR_RETURN(Params params, CompleteParams(kind->params, MemberParams(member)));
    Member loaded;
    loaded.model = kind->create();
    loaded.raw_input = member.input() == v1::MEMBER_INPUT_RAW;
    MLIOT_RETURN_IF_ERROR(loaded.model->LoadWeights(vdir + member.weights_file(), params));
    const int want = loaded.raw_input ? s->num_features_ : s->preprocess_->out_dim();
    if (loaded.model->num_classes() != k || loaded.model->num_features() != want) {
      return absl::DataLossError(absl::StrCat(vdir, member.weights_file(), ": member shape (",
                                              loaded.model->num_features(), " -> ",
                                              loaded.model->num_classes(), ") does not match (",
                                              want, " -> ", k, ")"));
    }
    s->members_.push_back(std::move(loaded));
    s->weights_.push_back(member.weight());
  }
  MLIOT_ASSIGN_OR_RETURN(s->weighting_, ParseWeighting(m.weighting()));
  if (m.has_two_stage()) {
    MLIOT_ASSIGN_OR_RETURN(const ModelKind* logreg, registry.Find("logreg"));
    s->detector_ = logreg->create();
    MLIOT_RETURN_IF_ERROR(s->detector_->LoadWeights(vdir + m.two_stage().weights_file(),
                                                    Params::Defaults(logreg->params)));
    s->background_class_ = m.two_stage().background_class();
    s->threshold_ = m.two_stage().threshold();
    if (s->background_class_ < 0 || s->background_class_ >= k ||
        s->detector_->num_features() != s->preprocess_->out_dim()) {
      return absl::DataLossError(absl::StrCat(vdir, ": two-stage detector does not match"));
    }
  }
  return s;
}

Answer Servable::Predict(const float* raw_row, float* certainties) const {
  const int k = num_classes();
  thread_local std::vector<float> reduced;
  thread_local std::vector<float> member_proba;
  reduced.resize(static_cast<size_t>(preprocess_->out_dim()));
  member_proba.resize(members_.size() * static_cast<size_t>(k));
  preprocess_->Transform(raw_row, reduced.data());
  if (detector_ && stage1_) {
    float p[2];
    detector_->PredictProba(reduced.data(), p);
    if (p[1] >= threshold_) {
      std::fill(certainties, certainties + k, (1.0f - p[1]) / std::max(1, k - 1));
      certainties[background_class_] = p[1];
      return Answer{background_class_, 1};
    }
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    m.model->PredictProba(m.raw_input ? raw_row : reduced.data(), member_proba.data() + i * k);
  }
  const int label = Combine(member_proba.data(), static_cast<int>(members_.size()), k,
                            weights_.data(), weighting_, certainties);
  return Answer{label, 2};
}

void Servable::PredictBatch(const float* raw_rows, int64_t n, Answer* answers,
                            float* certainties) const {
  const int k = num_classes();
  const int64_t r = preprocess_->out_dim();
  std::vector<float> reduced(static_cast<size_t>(n * r));
  preprocess_->TransformBatch(raw_rows, n, reduced.data());
  std::vector<float> bg;
  if (detector_ && stage1_) {
    bg.resize(static_cast<size_t>(n * 2));
    detector_->PredictProbaBatch(reduced.data(), n, bg.data());
  }
  std::vector<std::vector<float>> proba(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    proba[i].resize(static_cast<size_t>(n * k));
    m.model->PredictProbaBatch(m.raw_input ? raw_rows : reduced.data(), n, proba[i].data());
  }
  std::vector<float> rows(members_.size() * static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    float* cert = certainties + j * k;
    if (detector_ && stage1_ && bg[j * 2 + 1] >= threshold_) {
      const float p = bg[j * 2 + 1];
      std::fill(cert, cert + k, (1.0f - p) / std::max(1, k - 1));
      cert[background_class_] = p;
      answers[j] = Answer{background_class_, 1};
      continue;
    }
    for (size_t i = 0; i < members_.size(); ++i) {
      std::copy_n(proba[i].data() + j * k, k, rows.data() + i * k);
    }
    answers[j] = Answer{Combine(rows.data(), static_cast<int>(members_.size()), k, weights_.data(),
                                weighting_, cert),
                        2};
  }
}

absl::StatusOr<Answer> Servable::PredictWindow(const Signal& signal, FrameRange window, float* certainties,
                                               double* featurize_s) const {
  if (!featurizer_) {
    return absl::FailedPreconditionError("this task takes feature rows, not raw audio or sensor data");
  }
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(num_features_));
  const auto start = std::chrono::steady_clock::now();
  MLIOT_RETURN_IF_ERROR(featurizer_->FeaturizeWindow(signal, window, row.data()));
  if (featurize_s != nullptr) {
    *featurize_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return Predict(row.data(), certainties);
}

absl::StatusOr<std::vector<Answer>> Servable::PredictRaw(const Signal& signal, std::vector<float>* certainties,
                                                         double* featurize_s) const {
  if (!featurizer_) {
    return absl::FailedPreconditionError("this task takes feature rows, not raw audio or sensor data");
  }
  const std::vector<FrameRange> windows = featurizer_->Windows(signal.frames(), signal.sample_rate);
  if (windows.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("raw input of ", signal.seconds(),
                                                   " s is shorter than one window of ", featurizer_->config().name));
  }
  const int k = num_classes();
  certainties->resize(windows.size() * static_cast<size_t>(k));
  std::vector<Answer> answers;
  answers.reserve(windows.size());
  for (size_t i = 0; i < windows.size(); ++i) {
    MLIOT_ASSIGN_OR_RETURN(Answer a, PredictWindow(signal, windows[i], certainties->data() + i * k, featurize_s));
    answers.push_back(a);
  }
  return answers;
}

}  // namespace mliot
