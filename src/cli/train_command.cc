// mliot train: the engine alone, on one machine.
#include <cstdio>
#include <optional>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/raw_data_flags.h"
#include "common/stats.h"
#include "data/source.h"
#include "features/raw_source.h"
#include "ml/hpo/strategy.h"
#include "train/trainer.h"

namespace mliot::cli {
namespace {

struct TrainArgs {
  std::string data;
  std::string label = "label";
  std::string out;
  double budget_s = 120;
  std::optional<double> time_bound_s;
  std::string select = kDefaultSelection;
  std::string models;
  std::string params;
  std::string scale = "auto";
  std::string reduce = "auto";
  std::string hpo = "bayes";
  std::optional<std::string> background_class;
  std::string weighting = "auto";
  int threads = 0;
  int trials = 10;
  uint64_t seed = 42;
  double val_fraction = 0.2;
  int cv = 0;
  double trial_limit_s = 0;
  bool json = false;
  std::string help_model;
  std::string help_featurizer;
  RawDataFlags raw;
};

std::string ParamTypeName(const ParamSpec& s) {
  switch (s.type) {
    case ParamType::kInt:
      return "int";
    case ParamType::kDouble:
      return "float";
    case ParamType::kChoice:
      return "choice";
  }
  return "";
}

int HelpModel(const std::string& name) {
  absl::StatusOr<const ModelKind*> kind = BuiltinModels().Find(name);
  if (!kind.ok()) return Fail(kind.status());
  std::printf("%s: %s\nprobabilities: %s\n%s\n\n", (*kind)->name.c_str(), (*kind)->description.c_str(),
              (*kind)->probabilities.c_str(),
              (*kind)->cooperative ? "fit: stops at the trial deadline, keeping what it learned"
                                   : "fit: runs in a child process killed at the trial deadline");
  for (const ParamSpec& s : (*kind)->params) {
    std::string range;
    if (s.type == ParamType::kChoice) range = absl::StrJoin(s.choices, "|");
    else range = absl::StrFormat("[%g, %g]%s", s.min, s.max, s.log_scale ? " log" : "");
    std::string def;
    std::visit([&](const auto& v) { def = absl::StrFormat("%v", v); }, s.default_value);
    std::printf("  %-18s %-6s default %-10s %-22s %s%s\n", s.name.c_str(), ParamTypeName(s).c_str(),
                def.c_str(), range.c_str(), s.help.c_str(), s.tunable ? "" : " (not tuned)");
  }
  return 0;
}

void PrintSummary(const TrainReport& r, const std::string& out) {
  std::printf("bundle %s version %lld: %zu members, validation accuracy %.4f (%s vote), %d trials in %.1fs\n",
              out.c_str(), static_cast<long long>(r.bundle_version), r.members.size(), r.val_accuracy,
              r.weighting.c_str(), r.trials, r.elapsed_s);
  std::printf("reduce: %s\n", r.reduce.c_str());
  for (const MemberReport& m : r.members) {
    std::printf("  %-14s val_acc %.4f  fit %6.1fs  %.3f ms/row  %s\n", m.kind.c_str(), m.val_accuracy,
                m.fit_s, m.latency_ms, m.params.ToString().c_str());
  }
  for (const PublishedVersion& v : r.versions) {
    std::printf("  version %lld at %.1fs: %s\n", static_cast<long long>(v.version), v.at_s,
                absl::StrJoin(v.members, ", ").c_str());
  }
}

int RunTrain(const TrainArgs& a) {
  if (!a.help_model.empty()) return HelpModel(a.help_model);
  if (!a.help_featurizer.empty()) {
    absl::StatusOr<std::string> help = DescribeFeaturizer(a.help_featurizer);
    if (!help.ok()) return Fail(help.status());
    std::printf("%s", help->c_str());
    return 0;
  }
  if (a.data.empty()) return Fail(absl::InvalidArgumentError("--data is required"));
  if (a.out.empty()) return Fail(absl::InvalidArgumentError("--out is required"));
  TrainOptions o;
  o.budget_s = a.budget_s;
  o.time_bound_s = a.time_bound_s;
  o.select = a.select;
  if (!a.models.empty()) o.models = absl::StrSplit(a.models, ',', absl::SkipWhitespace());
  for (absl::string_view item : absl::StrSplit(a.params, ';', absl::SkipWhitespace())) {
    const size_t colon = item.find(':');
    if (colon == absl::string_view::npos) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--params '", std::string(item), "': expected KIND:name=value,... (kinds separated by ';')")));
    }
    o.start_params[std::string(item.substr(0, colon))] = std::string(item.substr(colon + 1));
  }
  o.reduce = a.reduce;
  o.scale = a.scale;
  o.hpo = a.hpo;
  o.background_class = a.background_class;
  o.weighting = a.weighting;
  o.threads = a.threads;
  o.max_trials = a.trials;
  o.seed = a.seed;
  o.val_fraction = a.val_fraction;
  o.cv_folds = a.cv;
  o.trial_limit_s = a.trial_limit_s;
  o.out_dir = a.out;
  o.data_source = a.data;
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  trainer.set_progress(Progress);
  // Options that need no data are checked before the (possibly slow) load.
  if (!(o.budget_s > 0)) return Fail(absl::InvalidArgumentError(absl::StrFormat("--budget-s must be > 0, got %g", o.budget_s)));
  absl::StatusOr<Dataset> data;
  if (IsRawDataSpec(a.data)) {
    absl::StatusOr<FeaturizerConfig> featurizer = FeaturizerFromFlags(a.raw, a.data);
    if (!featurizer.ok()) return Fail(featurizer.status());
    RawSourceOptions raw_options = RawOptionsFromFlags(a.raw, /*for_training=*/true);
    raw_options.label_column = a.label;
    absl::StatusOr<RawDataset> raw = LoadRawDataset(a.data, *featurizer, raw_options);
    if (!raw.ok()) return Fail(raw.status());
    Progress(absl::StrFormat("%s: %d recordings -> %d rows (%s)", a.data, raw->recordings.size(),
                             raw->data.rows, raw->featurizer.name));
    o.featurizer = raw->featurizer;
    data = std::move(raw->data);
  } else if (!a.raw.features.empty() || a.raw.window_s || !a.raw.devices.empty()) {
    return Fail(absl::InvalidArgumentError("--features, --window-s and --devices apply to audio: and sensor: data"));
  } else {
    LoadOptions load;
    load.label_column = a.label;
    data = LoadDataset(a.data, load);
  }
  if (!data.ok()) return Fail(data.status());
  absl::StatusOr<TrainReport> report = trainer.Train(*data, o);
  if (!report.ok()) return Fail(report.status());
  if (!a.json) {
    PrintSummary(*report, a.out);
    return 0;
  }
  nlohmann::json members = nlohmann::json::array();
  for (const MemberReport& m : report->members) {
    members.push_back({{"kind", m.kind},
                       {"params", ParamsJson(m.params)},
                       {"val_accuracy", m.val_accuracy},
                       {"fit_s", m.fit_s},
                       {"latency_ms", m.latency_ms}});
  }
  nlohmann::json candidates = nlohmann::json::array();
  for (const MemberReport& m : report->candidates) {
    candidates.push_back({{"kind", m.kind},
                          {"params", ParamsJson(m.params)},
                          {"val_accuracy", m.val_accuracy},
                          {"fit_s", m.fit_s},
                          {"latency_ms", m.latency_ms}});
  }
  nlohmann::json versions = nlohmann::json::array();
  for (const PublishedVersion& v : report->versions) {
    versions.push_back({{"version", v.version}, {"at_s", v.at_s}, {"members", v.members},
                        {"val_accuracy", v.val_accuracy}});
  }
  nlohmann::json out = {{"bundle", a.out},
                        {"bundle_version", report->bundle_version},
                        {"members", members},
                        {"reduce", report->reduce},
                        {"scale", report->scale},
                        {"val_accuracy", report->val_accuracy},
                        {"elapsed_s", report->elapsed_s},
                        {"versions", versions},
                        {"weighting", report->weighting},
                        {"trials", report->trials},
                        {"candidates", candidates},
                        {"cv_folds", report->cross_validation_folds},
                        {"peak_rss_mib", PeakRssMiB()}};
  if (a.background_class) out["background_threshold"] = report->background_threshold;
  PrintJson(out);
  return 0;
}

}  // namespace

Runner AddTrainCommand(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train an ensemble on a data set and write a bundle");
  cmd->add_option("--data", args->data, "data spec: " + DataSpecForms());
  cmd->add_option("--label", args->label, "label column of a CSV file")->capture_default_str();
  cmd->add_option("--out", args->out, "bundle directory (versions go to OUT/<n>/)");
  cmd->add_option("--budget-s", args->budget_s, "wall-clock budget for training, seconds")->capture_default_str();
  cmd->add_option("--time-bound-s", args->time_bound_s, "lazy training: publish version 1 at T seconds");
  cmd->add_option("--select", args->select, "model-selection policy")->capture_default_str();
  cmd->add_option("--models", args->models, "comma-separated kinds (default: all that fit the data)");
  cmd->add_option("--params", args->params,
                  "starting settings per kind, tried first: 'cnn:channels=32,epochs=30;knn:k=9'");
  cmd->add_option("--reduce", args->reduce, "none | pca:K | kpca:K[:cosine|rbf] | auto")->capture_default_str();
  cmd->add_option("--scale", args->scale, "standardisation: feature | global | auto")->capture_default_str();
  cmd->add_option("--hpo", args->hpo, "grid | random | bayes")->capture_default_str();
  cmd->add_option("--background-class", args->background_class, "enables two-stage serving");
  cmd->add_option("--weighting", args->weighting, "ensemble vote: paper | soft | fitted | auto")->capture_default_str();
  cmd->add_option("--threads", args->threads, "parallel trials (0: cores)")->capture_default_str();
  cmd->add_option("--trials", args->trials, "maximum trials per model kind")->capture_default_str();
  cmd->add_option("--trial-limit-s", args->trial_limit_s, "per-trial time limit (0: 75% of the budget)");
  cmd->add_option("--val-fraction", args->val_fraction, "validation hold-out")->capture_default_str();
  cmd->add_option("--cv", args->cv, "k-fold cross-validation (0: 5 folds below 3000 rows, else hold-out)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("--help-model", args->help_model, "describe a model kind's hyper-parameters and exit");
  cmd->add_option("--help-featurizer", args->help_featurizer, "describe a featurizer's parameters and exit");
  AddRawDataFlags(cmd, &args->raw);
  cmd->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  return [args] { return RunTrain(*args); };
}

}  // namespace mliot::cli
