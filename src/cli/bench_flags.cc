#include "cli/bench_flags.h"

#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/cli_util.h"

namespace mliot::cli {

void BenchFlags::Add(CLI::App* app, const std::string& quick_means, std::function<void()> make_quick,
                     int* repeat) {
  app->add_flag_callback(
      "--quick",
      [this, make_quick] {
        quick = true;
        make_quick();
      },
      "seconds, not minutes (make bench-quick): " + quick_means);
  if (repeat != nullptr) {
    app->add_option("--repeat", *repeat,
                    "rounds (mliot and its peer alternate); figures are medians, range [min, max]")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
  }
  app->add_flag("--json", json, "print one JSON object as the last stdout line");
}

void AddSgdModelFlags(CLI::App* app, bench::SgdBenchModel* m) {
  app->add_option("--model", m->model, "mlp or cnn (the engine's architectures)")
      ->check(CLI::IsMember({"mlp", "cnn"}))
      ->capture_default_str();
  app->add_option("--test", m->test, "labelled data for the accuracy")->capture_default_str();
  app->add_option("--hidden", m->hidden, "hidden width")->capture_default_str();
  app->add_option("--batch", m->batch, "mini-batch rows")->capture_default_str();
  app->add_option("--learning-rate", m->learning_rate, "Adam learning rate")->capture_default_str();
  app->add_option("--threads", m->threads, "intra-op threads of the model")->capture_default_str();
  app->add_option("--seed", m->seed, "random seed")->capture_default_str();
}

int PrintBenchReport(const absl::StatusOr<nlohmann::json>& report, const BenchFlags& flags,
                     bool held) {
  if (!report.ok()) return Fail(report.status());
  if (flags.json) {
    PrintJson(*report);
  } else {
    std::printf("%s\n", report->dump(2).c_str());
  }
  return held ? 0 : 1;
}

}  // namespace mliot::cli
