#include "bench/engine_bench.h"

#include <unistd.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "bench/kit.h"
#include "common/stats.h"
#include "data/source.h"
#include "ml/hpo/strategy.h"
#include "serve/evaluate.h"
#include "train/trainer.h"

namespace mliot::bench {
namespace {

void Say(const std::string& line) { Progress("engine", line); }

absl::StatusOr<nlohmann::json> RunMliot(const EngineBenchOptions& a, const Dataset& train,
                                        const Dataset& test) {
  const std::string out = a.out.empty() ? TempDir("engine") : a.out;
  TrainOptions o;
  o.budget_s = a.budget_s;
  o.out_dir = out;
  o.data_source = a.train;
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  trainer.set_progress(Say);
  absl::StatusOr<TrainReport> report = trainer.Train(train, o);
  if (!report.ok()) return report.status();
  absl::StatusOr<std::unique_ptr<Servable>> servable = Servable::Load(out);
  if (!servable.ok()) return servable.status();
  absl::StatusOr<Evaluation> e = Evaluate(**servable, test);
  if (!e.ok()) return e.status();
  if (a.out.empty()) std::filesystem::remove_all(out);
  nlohmann::json members = nlohmann::json::array();
  for (const MemberReport& m : report->members) {
    members.push_back({{"kind", m.kind},
                       {"val_accuracy", m.val_accuracy},
                       {"fit_s", m.fit_s},
                       {"latency_ms", m.latency_ms}});
  }
  return nlohmann::json{
      {"case", "fashion-mnist"},
      {"train", a.train},
      {"test", a.test},
      {"budget_s", a.budget_s},
      {"train_elapsed_s", report->elapsed_s},
      {"val_accuracy", report->val_accuracy},
      {"accuracy", e->accuracy},
      {"latency_ms", {{"p50", e->p50_ms}, {"p99", e->p99_ms}}},
      {"throughput_rows_per_s", e->throughput_rows_per_s},
      {"peak_rss_mib", PeakRssMiB()},
      {"members", members},
      {"reduce", report->reduce},
      {"version", e->version},
  };
}

}  // namespace

void MakeQuick(EngineBenchOptions& o) {
  o.train = "fashion-mnist:train:2000";
  o.test = "fashion-mnist:test:1000";
  o.budget_s = 10;
}

absl::StatusOr<nlohmann::json> RunEngineBench(const EngineBenchOptions& a) {
  LoadOptions load;
  load.label_column = a.label;
  absl::StatusOr<Dataset> train = LoadDataset(a.train, load);
  if (!train.ok()) return train.status();
  load.for_training = false;
  absl::StatusOr<Dataset> test = LoadDataset(a.test, load);
  if (!test.ok()) return test.status();
  std::string peer_error;
  absl::StatusOr<nlohmann::json> report =
      RunRepeated(a.repeat, [&]() -> absl::StatusOr<nlohmann::json> {
        absl::StatusOr<nlohmann::json> r = RunMliot(a, *train, *test);
        if (!r.ok() || !a.peer || !peer_error.empty()) return r;
        // The peer, right after mliot in the same round.
        PeerRun run{.script = "sklearn_peer.py",
                    .args = {"--mode", "ensemble", "--data", a.train, "--test", a.test, "--label",
                             a.label, "--json"},
                    .source_dir = a.source_dir};
        Say("peer: scikit-learn ensemble (bench/peers/sklearn_peer.py)");
        absl::StatusOr<nlohmann::json> peer = RunPeer(run);
        if (peer.ok()) {
          (*r)["peer"] = *peer;
        } else {
          peer_error = std::string(peer.status().message());
          Say(absl::StrCat("peer failed: ", peer_error));
        }
        return r;
      });
  if (report.ok() && !peer_error.empty()) (*report)["peer_error"] = peer_error;
  return report;
}

}  // namespace mliot::bench
