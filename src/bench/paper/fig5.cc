#include "bench/paper/experiment.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "ml/hpo/strategy.h"
#include "ml/model.h"
#include "serve/evaluate.h"
#include "serve/servable.h"
#include "train/trainer.h"

namespace mliot::bench::paper {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

// One training of fig5: a configuration at a training size.
struct Fig5Config {
  std::string name;    // baseline | dr | hpo | dr+hpo
  std::string reduce;  // none | pca:32
  int max_trials;      // 1: each kind once, at its defaults (no HPO)
};

absl::StatusOr<json> Fig5Point(Context& c, const FeaturizedSplit& d, const Fig5Config& cfg,
                               int64_t rows, double budget_s) {
  const Dataset train = Sample(d.train, rows, 7);
  const Dataset test = Sample(d.test, c.options.quick ? 300 : 1000, 11);
  TrainOptions t;
  t.budget_s = budget_s;
  t.reduce = cfg.reduce;
  t.hpo = "bayes";
  t.max_trials = cfg.max_trials;
  t.out_dir = absl::StrCat(c.work, "/fig5-", d.type, "-", rows, "-",
                           cfg.name == "dr+hpo" ? "both" : cfg.name);
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  MLIOT_ASSIGN_OR_RETURN(TrainReport report, trainer.Train(train, t));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Servable> servable, Servable::Load(t.out_dir));
  MLIOT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(*servable, test));
  fs::remove_all(t.out_dir);
  Say(absl::StrFormat(
      "fig5 %s %d rows %s: train %.1f s, accuracy %.3f, p50 %.3f ms (%d trials, reduce %s)", d.type,
      rows, cfg.name, report.elapsed_s, e.accuracy, e.p50_ms, report.trials, report.reduce));
  return json{{"type", d.type},          {"rows", train.rows},
              {"config", cfg.name},      {"train_s", report.elapsed_s},
              {"accuracy", e.accuracy},  {"latency_ms", e.p50_ms},
              {"trials", report.trials}, {"reduce", report.reduce}};
}

}  // namespace

absl::StatusOr<json> Fig5(Context& c) {
  const std::vector<Fig5Config> configs = {
      {"baseline", "none", 1}, {"dr", "pca:32", 1}, {"hpo", "none", 10}, {"dr+hpo", "pca:32", 10}};
  const std::vector<std::string> types = c.options.quick
                                             ? std::vector<std::string>{"image"}
                                             : std::vector<std::string>{"image", "audio", "sensor"};
  const double budget_s = c.options.quick ? 4 : 20;
  json points = json::array();
  for (const std::string& type : types) {
    MLIOT_ASSIGN_OR_RETURN(const FeaturizedSplit* d, c.Data(type));
    // The paper's 200-800 rows; DCASE has 224 training windows in all.
    std::vector<int64_t> sizes =
        c.options.quick ? std::vector<int64_t>{200} : std::vector<int64_t>{200, 400, 800};
    for (int64_t& n : sizes) n = std::min(n, d->train.rows);
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
    for (int64_t rows : sizes) {
      for (const Fig5Config& cfg : configs) {
        MLIOT_ASSIGN_OR_RETURN(json p, Fig5Point(c, *d, cfg, rows, budget_s));
        points.push_back(std::move(p));
      }
    }
  }
  // The claims, over every (type, size): how often each held.
  auto at = [&](const std::string& type, int64_t rows, const std::string& cfg) -> const json* {
    for (const json& p : points) {
      if (p["type"] == type && p["rows"] == rows && p["config"] == cfg) return &p;
    }
    return nullptr;
  };
  int cells = 0, both_faster = 0, both_more_accurate = 0, both_not_slower_serving = 0,
      dr_faster = 0, hpo_more_accurate = 0;
  for (const json& p : points) {
    if (p["config"] != "baseline") continue;
    const json* dr = at(p["type"], p["rows"], "dr");
    const json* hpo = at(p["type"], p["rows"], "hpo");
    const json* both = at(p["type"], p["rows"], "dr+hpo");
    if (dr == nullptr || hpo == nullptr || both == nullptr) continue;
    ++cells;
    both_faster += (*both)["train_s"].get<double>() < p["train_s"].get<double>();
    both_more_accurate += (*both)["accuracy"].get<double>() >= p["accuracy"].get<double>();
    both_not_slower_serving += (*both)["latency_ms"].get<double>() <= p["latency_ms"].get<double>();
    dr_faster += (*dr)["train_s"].get<double>() < p["train_s"].get<double>();
    hpo_more_accurate += (*hpo)["accuracy"].get<double>() >= p["accuracy"].get<double>();
  }
  auto share = [&](int n) { return absl::StrCat(n, " of ", cells, " data type x size cells"); };
  auto most = [&](int n) { return cells > 0 && 2 * n > cells; };
  json claims = json::array({
      Claim("DR and HPO together train faster than the baseline",
            "lower training time across the board", share(both_faster), most(both_faster)),
      Claim("DR and HPO together are at least as accurate as the baseline",
            "higher accuracy across the board", share(both_more_accurate),
            most(both_more_accurate)),
      Claim("DR and HPO together serve no slower than the baseline",
            "lower serving latency across the board", share(both_not_slower_serving),
            most(both_not_slower_serving)),
      Claim("DR alone reduces training time", "DR-only reduces training time", share(dr_faster),
            most(dr_faster)),
      Claim("HPO alone gives higher accuracy", "HPO-only provides high accuracy",
            share(hpo_more_accurate), most(hpo_more_accurate)),
  });
  return json{{"claims", claims},
              {"points", points},
              {"budget_s", budget_s},
              {"configs",
               {{"baseline", "reduce none, each kind once at its defaults"},
                {"dr", "reduce pca:32, each kind once"},
                {"hpo", "reduce none, bayes HPO, up to 10 trials per kind"},
                {"dr+hpo", "reduce pca:32, bayes HPO, up to 10 trials per kind"}}}};
}

}  // namespace mliot::bench::paper
