#include "serve/evaluate.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/stats.h"

namespace mliot {

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
  const int k = servable.num_classes();
  std::vector<float> cert(static_cast<size_t>(k));
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(data.rows));
  int64_t correct = 0;
  // Warm up the thread-local scratch space of every member.
  for (int64_t i = 0; i < std::min<int64_t>(data.rows, 20); ++i) servable.Predict(data.row(i), cert.data());
  for (int64_t i = 0; i < data.rows; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Answer a = servable.Predict(data.row(i), cert.data());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    correct += a.label == data.labels[i];
    e.stage1_answers += a.stage == 1;
  }
  e.accuracy = data.rows > 0 ? static_cast<double>(correct) / data.rows : 0;
  e.p50_ms = Percentile(ms, 0.5);
  e.p99_ms = Percentile(ms, 0.99);
  constexpr int64_t kBatch = 256;
  std::vector<Answer> answers(kBatch);
  std::vector<float> batch_cert(static_cast<size_t>(kBatch * k));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < data.rows; i += kBatch) {
    const int64_t n = std::min(kBatch, data.rows - i);
    servable.PredictBatch(data.row(i), n, answers.data(), batch_cert.data());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.throughput_rows_per_s = s > 0 ? data.rows / s : 0;
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
  const int k = servable.num_classes();
  std::vector<float> cert(static_cast<size_t>(k));
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(data.rows));
  int64_t correct = 0;
  const auto predict = [&](int64_t i) {
    const RawWindow& w = raw.windows[static_cast<size_t>(i)];
    return servable.PredictWindow(raw.recordings[w.recording], w.frames, cert.data());
  };
  for (int64_t i = 0; i < std::min<int64_t>(data.rows, 20); ++i) (void)predict(i);  // warm-up
  for (int64_t i = 0; i < data.rows; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Answer> a = predict(i);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (!a.ok()) return a.status();
    correct += a->label == data.labels[i];
    e.stage1_answers += a->stage == 1;
  }
  e.accuracy = data.rows > 0 ? static_cast<double>(correct) / data.rows : 0;
  e.p50_ms = Percentile(ms, 0.5);
  e.p99_ms = Percentile(ms, 0.99);
  // Throughput: featurize every window, then predict in batches of 256.
  const Featurizer& f = *servable.featurizer();
  std::vector<float> rows(static_cast<size_t>(data.rows * f.num_features()));
  std::vector<Answer> answers(static_cast<size_t>(data.rows));
  std::vector<float> batch_cert(static_cast<size_t>(data.rows * k));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < data.rows; ++i) {
    const RawWindow& w = raw.windows[static_cast<size_t>(i)];
    if (absl::Status s = f.FeaturizeWindow(raw.recordings[w.recording], w.frames, rows.data() + i * f.num_features());
        !s.ok()) {
      return s;
    }
  }
  for (int64_t i = 0; i < data.rows; i += 256) {
    const int64_t n = std::min<int64_t>(256, data.rows - i);
    servable.PredictBatch(rows.data() + i * f.num_features(), n, answers.data() + i, batch_cert.data() + i * k);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.throughput_rows_per_s = s > 0 ? data.rows / s : 0;
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
