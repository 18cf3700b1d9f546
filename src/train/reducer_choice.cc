#include "train/reducer_choice.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ml/model.h"
#include "ml/preprocess.h"

namespace mliot {
namespace {

double ProxyAccuracy(const ReducerChoiceInput& in, bool global_scale, const std::string& spec) {
  FitControl control;
  control.seed = in.seed;
  absl::StatusOr<std::unique_ptr<Preprocessor>> pre =
      Preprocessor::Fit(in.train_x, in.train_rows, in.cols, global_scale, spec, control);
  if (!pre.ok()) return -1;
  const int64_t r = (*pre)->out_dim();
  // The proxies see at most 5000 training rows: enough to rank reducers.
  const int64_t n = std::min<int64_t>(in.train_rows, 5000);
  std::vector<float> train(static_cast<size_t>(n * r)), val(static_cast<size_t>(in.val_rows * r));
  (*pre)->TransformBatch(in.train_x, n, train.data());
  (*pre)->TransformBatch(in.val_x, in.val_rows, val.data());
  double best = 0;
  for (const char* name : {"ridge", "knn"}) {
    const ModelKind* kind = *BuiltinModels().Find(name);
    std::unique_ptr<Model> model = kind->create();
    FitInput fit{train.data(), n, r, in.train_y, in.num_classes, std::nullopt};
    if (!model->Fit(fit, Params::Defaults(kind->params), control).ok()) continue;
    std::vector<float> proba(static_cast<size_t>(in.val_rows * in.num_classes));
    model->PredictProbaBatch(val.data(), in.val_rows, proba.data());
    int64_t correct = 0;
    for (int64_t i = 0; i < in.val_rows; ++i) {
      correct += ArgMax(proba.data() + i * in.num_classes, in.num_classes) == in.val_y[i];
    }
    best = std::max(best, in.val_rows > 0 ? static_cast<double>(correct) / in.val_rows : 0.0);
  }
  return best;
}


// Scores each spec under `global_scale`, up to `threads` at a time.
std::vector<double> ScoreAll(const ReducerChoiceInput& in, const std::vector<std::pair<bool, std::string>>& specs,
                             const Deadline& deadline) {
  std::vector<double> scores(specs.size(), -1);
  size_t next = 0;
  while (next < specs.size() && !deadline.Expired()) {
    std::vector<std::thread> pool;
    for (int t = 0; t < std::max(1, in.threads) && next < specs.size(); ++t, ++next) {
      pool.emplace_back([&, i = next] { scores[i] = ProxyAccuracy(in, specs[i].first, specs[i].second); });
    }
    for (std::thread& t : pool) t.join();
  }
  return scores;
}

}  // namespace

PreprocessChoice ChoosePreprocessing(const ReducerChoiceInput& in, const std::string& scale,
                                     const std::string& reduce, const Deadline& deadline,
                                     const std::function<void(const std::string&)>& say) {
  PreprocessChoice choice;
  choice.global_scale = in.has_shape || scale == "global";
  choice.reducer = reduce == "auto" ? "none" : reduce;
  std::string line;
  if (scale == "auto" && !in.has_shape) {
    const std::vector<double> s = ScoreAll(in, {{false, "none"}, {true, "none"}}, deadline);
    choice.global_scale = s[1] > s[0] + 0.005;
    choice.proxy_accuracy = std::max(s[0], s[1]);
    line = absl::StrFormat("scale auto: feature=%.4f global=%.4f -> %s; ", s[0], s[1],
                           choice.global_scale ? "global" : "feature");
  }
  if (reduce == "auto" && in.cols > 32) {
    const int64_t k = std::min<int64_t>(64, in.cols / 2);
    std::vector<std::pair<bool, std::string>> specs = {{choice.global_scale, "none"},
                                                       {choice.global_scale, absl::StrCat("pca:", k)},
                                                       {choice.global_scale, absl::StrCat("kpca:", k, ":cosine")}};
    // 2-D rows (spectrogram patches): statistics per column, over time.
    if (in.has_shape && in.height > 1 && in.width > 1) {
      specs.push_back({choice.global_scale, absl::StrCat("colstats:", in.height, ":", in.width)});
    }
    const std::vector<double> scores = ScoreAll(in, specs, deadline);
    size_t best = 0;
    for (size_t i = 1; i < specs.size(); ++i) {
      // Later candidates reduce; they win when no more than 0.5 points worse.
      if (scores[i] >= scores[best] - 0.005 && scores[i] >= 0) {
        if (best == 0 || scores[i] > scores[best]) best = i;
      }
    }
    absl::StrAppend(&line, "reduce auto:");
    for (size_t i = 0; i < specs.size(); ++i) {
      absl::StrAppend(&line, absl::StrFormat(" %s=%.4f", specs[i].second, scores[i]));
    }
    absl::StrAppend(&line, " -> ", specs[best].second);
    choice.reducer = specs[best].second;
    choice.proxy_accuracy = scores[best];
  }
  if (!line.empty()) say(line);
  return choice;
}

}  // namespace mliot
