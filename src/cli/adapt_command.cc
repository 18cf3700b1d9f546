// mliot adapt: re-fit the latest bundle version with feedback rows.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "data/source.h"
#include "train/adapt.h"

namespace mliot::cli {
namespace {

struct AdaptArgs {
  std::string bundle;
  std::string feedback;
  std::string label = "label";
  int feedback_weight = 3;
  int threads = 0;
  bool json = false;
};

int RunAdapt(const AdaptArgs& a) {
  if (a.bundle.empty() || a.feedback.empty()) {
    return Fail(absl::InvalidArgumentError("--bundle and --feedback are required"));
  }
  if (a.feedback_weight < 1) return Fail(absl::InvalidArgumentError("--feedback-weight must be >= 1"));
  LoadOptions load;
  load.label_column = a.label;
  load.for_training = false;  // a single corrected class is fine
  absl::StatusOr<Dataset> feedback = LoadDataset(a.feedback, load);
  if (!feedback.ok()) return Fail(feedback.status());
  AdaptOptions o;
  o.feedback_weight = a.feedback_weight;
  o.threads = a.threads;
  absl::StatusOr<AdaptReport> r = Adapt(a.bundle, *feedback, o, Progress);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson({{"version", r->version},
               {"elapsed_s", r->elapsed_s},
               {"feedback_rows", r->feedback_rows},
               {"train_rows", r->train_rows}});
  } else {
    std::printf("%s: version %lld from %lld stored rows and %lld feedback rows in %.1fs\n",
                a.bundle.c_str(), static_cast<long long>(r->version),
                static_cast<long long>(r->train_rows), static_cast<long long>(r->feedback_rows),
                r->elapsed_s);
  }
  return 0;
}

}  // namespace

Runner AddAdaptCommand(CLI::App& app) {
  auto args = std::make_shared<AdaptArgs>();
  CLI::App* cmd = app.add_subcommand("adapt", "re-fit a bundle's members with feedback (no new search)");
  cmd->add_option("--bundle", args->bundle, "bundle directory");
  cmd->add_option("--feedback", args->feedback, "labelled feedback rows (data spec)");
  cmd->add_option("--label", args->label, "label column of a CSV file")->capture_default_str();
  cmd->add_option("--feedback-weight", args->feedback_weight, "copies of each feedback row")->capture_default_str();
  cmd->add_option("--threads", args->threads, "parallel re-fits (0: cores)");
  cmd->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  return [args] { return RunAdapt(*args); };
}

}  // namespace mliot::cli
