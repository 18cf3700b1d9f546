#include "serve/evaluate.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/stats.h"
#include "common/status_util.h"

namespace mliot {

namespace {

// The single-row part of an evaluation: `predict(i, certainties)` answers row
// i; each call is timed (after a warm-up of the members' scratch space) and
// scored against the data's labels (already mapped to the bundle's classes).
template <typename Predict>
absl::Status ScoreRows(const Servable& servable, const Dataset& data, Predict predict, Evaluation* e) {
  std::vector<float> cert(static_cast<size_t>(servable.num_classes()));
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(data.rows));
  int64_t correct = 0;
  for (int64_t i = 0; i < std::min<int64_t>(data.rows, 20); ++i) (void)predict(i, cert.data());
  for (int64_t i = 0; i < data.rows; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Answer> a = predict(i, cert.data());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!a.ok()) return a.status();
    correct += a->label == data.labels[i];
    e->stage1_answers += a->stage == 1;
  }
  e->accuracy = data.rows > 0 ? static_cast<double>(correct) / data.rows : 0;
  e->p50_ms = Percentile(ms, 0.5);
  e->p99_ms = Percentile(ms, 0.99);
  return absl::OkStatus();
}

// Batch throughput: PredictBatch over `rows` (featurized) in batches of 256;
// `prepare_s` (featurization) is added to the time.
double Throughput(const Servable& servable, const float* rows, int64_t n, double prepare_s) {
  constexpr int64_t kBatch = 256;
  const int64_t cols = servable.num_features(), k = servable.num_classes();
  std::vector<Answer> answers(kBatch);
  std::vector<float> cert(static_cast<size_t>(kBatch * k));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i += kBatch) {
    servable.PredictBatch(rows + i * cols, std::min(kBatch, n - i), answers.data(), cert.data());
  }
  const double s = prepare_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return s > 0 ? n / s : 0;
}

}  // namespace

absl::StatusOr<Evaluation> Evaluate(const Servable& servable, Dataset data) {
  if (data.cols != servable.num_features()) {
    return absl::InvalidArgumentError(absl::StrCat(data.source, ": rows have ", data.cols,
                                                   " features; the bundle expects ",
                                                   servable.num_features()));
  }
  Evaluation e;
  e.n = data.rows;
  e.version = servable.version();
  e.unknown_labels = RemapLabels(data, servable.class_names());
  MLIOT_RETURN_IF_ERROR(ScoreRows(servable, data, [&](int64_t i, float* cert) -> absl::StatusOr<Answer> {
    return servable.Predict(data.row(i), cert);
  }, &e));
  e.throughput_rows_per_s = Throughput(servable, data.features.data(), data.rows, 0);
  return e;
}

absl::StatusOr<Evaluation> EvaluateRaw(const Servable& servable, RawDataset raw) {
  if (servable.featurizer() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(raw.data.source, ": raw data, but the bundle was trained on feature rows"));
  }
  Dataset& data = raw.data;
  Evaluation e;
  e.n = data.rows;
  e.version = servable.version();
  e.unknown_labels = RemapLabels(data, servable.class_names());
  MLIOT_RETURN_IF_ERROR(ScoreRows(servable, data, [&](int64_t i, float* cert) {
    const RawWindow& w = raw.windows[static_cast<size_t>(i)];
    return servable.PredictWindow(raw.recordings[w.recording], w.frames, cert);
  }, &e));
  // Throughput: featurize every window, then predict in batches.
  const Featurizer& f = *servable.featurizer();
  std::vector<float> rows(static_cast<size_t>(data.rows * f.num_features()));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < data.rows; ++i) {
    const RawWindow& w = raw.windows[static_cast<size_t>(i)];
    MLIOT_RETURN_IF_ERROR(f.FeaturizeWindow(raw.recordings[w.recording], w.frames, rows.data() + i * f.num_features()));
  }
  e.throughput_rows_per_s =
      Throughput(servable, rows.data(), data.rows, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return e;
}

nlohmann::json EvaluationJson(const Evaluation& e) {
  return {{"n", e.n},
          {"accuracy", e.accuracy},
          {"latency_ms", {{"p50", e.p50_ms}, {"p99", e.p99_ms}}},
          {"throughput_rows_per_s", e.throughput_rows_per_s},
          {"version", e.version},
          {"stage1_answers", e.stage1_answers},
          {"unknown_labels", e.unknown_labels}};
}

}  // namespace mliot
