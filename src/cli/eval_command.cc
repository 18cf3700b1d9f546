// mliot eval: accuracy and latency of a bundle on labelled data, through the
// full serving path (preprocessing, two-stage, ensemble).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "serve/evaluate.h"
#include "cli/raw_data_flags.h"
#include "data/source.h"
#include "serve/servable.h"

namespace mliot::cli {
namespace {

struct EvalArgs {
  std::string bundle;
  std::string data;
  std::string label = "label";
  int64_t version = 0;
  bool json = false;
  RawDataFlags raw;
};

// Accuracy needs labels: data with no label column at all is an error, not
// "accuracy 0" (rows whose class the bundle does not know are counted).
absl::StatusOr<Evaluation> EvaluateLabelled(const Servable& servable, Dataset data, const std::string& label) {
  const bool unlabelled = std::all_of(data.labels.begin(), data.labels.end(),
                                      [](int32_t l) { return l < 0; });
  if (data.rows > 0 && unlabelled) {
    return absl::InvalidArgumentError(absl::StrCat(data.source, ": no label column '", label,
                                                   "'; eval needs labelled rows (see --label)"));
  }
  return Evaluate(servable, std::move(data));
}

int RunEval(const EvalArgs& a) {
  if (a.bundle.empty() || a.data.empty()) {
    return Fail(absl::InvalidArgumentError("--bundle and --data are required"));
  }
  absl::StatusOr<std::unique_ptr<Servable>> servable = Servable::Load(a.bundle, a.version);
  if (!servable.ok()) return Fail(servable.status());
  absl::StatusOr<Evaluation> e;
  if (IsRawDataSpec(a.data)) {
    // The bundle's featurizer (and its channels and devices) decide how the data is cut.
    if ((*servable)->featurizer() == nullptr) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(a.data, ": raw data, but bundle ", a.bundle, " was trained on feature rows")));
    }
    RawSourceOptions options = RawOptionsFromFlags(a.raw, /*for_training=*/false);
    options.label_column = a.label;
    absl::StatusOr<RawDataset> raw = LoadRawDataset(a.data, (*servable)->featurizer()->config(), options);
    if (!raw.ok()) return Fail(raw.status());
    if (std::all_of(raw->data.labels.begin(), raw->data.labels.end(), [](int32_t l) { return l < 0; })) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(a.data, ": no labels; eval needs labelled recordings")));
    }
    e = EvaluateRaw(**servable, *std::move(raw));
  } else {
    LoadOptions load;
    load.label_column = a.label;
    load.for_training = false;
    absl::StatusOr<Dataset> data = LoadDataset(a.data, load);
    if (!data.ok()) return Fail(data.status());
    e = EvaluateLabelled(**servable, *std::move(data), a.label);
  }
  if (!e.ok()) return Fail(e.status());
  if (a.json) {
    PrintJson(EvaluationJson(*e));
  } else {
    std::printf("%s on %s (version %lld): accuracy %.4f over %lld rows; single-row latency p50 %.3f ms, "
                "p99 %.3f ms; batch throughput %.0f rows/s\n",
                a.bundle.c_str(), a.data.c_str(), static_cast<long long>(e->version), e->accuracy,
                static_cast<long long>(e->n), e->p50_ms, e->p99_ms, e->throughput_rows_per_s);
  }
  return 0;
}

}  // namespace

Runner AddEvalCommand(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a bundle on labelled data");
  cmd->add_option("--bundle", args->bundle, "bundle directory");
  cmd->add_option("--data", args->data, "data spec: " + DataSpecForms());
  cmd->add_option("--label", args->label, "label column of a CSV file")->capture_default_str();
  cmd->add_option("--version", args->version, "bundle version (default: latest)");
  cmd->add_option("--time-column", args->raw.time_column, "timestamp column (ms) of sensor CSV files")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  return [args] { return RunEval(*args); };
}

}  // namespace mliot::cli
