#include "bench/paper_bench.h"

#include <chrono>
#include <filesystem>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/kit.h"
#include "bench/paper/experiment.h"
#include "common/grpc_util.h"
#include "common/status_util.h"

namespace mliot::bench {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;
using paper::Context;
using paper::Say;

using Experiment = std::function<absl::StatusOr<json>(Context&)>;

const std::vector<std::pair<std::string, Experiment>>& Registry() {
  static const std::vector<std::pair<std::string, Experiment>> all = {
      {"fig3", paper::Fig3}, {"fig5", paper::Fig5}, {"fig6", paper::Fig6}, {"fig7", paper::Fig7}, {"fig8", paper::Fig8}, {"fig9", paper::Fig9}, {"fig10", paper::Fig10}, {"fig11", paper::Fig11}, {"fig12", paper::Fig12}, {"fig13", paper::Fig13}, {"table4", paper::Table4}};
  return all;
}

// Writes DIR/NAME.json and draws DIR/NAME.png.
absl::StatusOr<json> RunOne(Context& c, const std::string& name, const Experiment& run) {
  const auto start = std::chrono::steady_clock::now();
  Say(absl::StrCat(name, ": running", c.options.quick ? " (quick)" : ""));
  MLIOT_ASSIGN_OR_RETURN(json r, run(c));
  json out = {{"experiment", name}};
  out.update(r);
  out["elapsed_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out["machine"] = MachineFacts();
  out["quick"] = c.options.quick;
  fs::create_directories(c.options.out_dir);
  const std::string data = absl::StrCat(c.options.out_dir, "/", name, ".json");
  const std::string png = absl::StrCat(c.options.out_dir, "/", name, ".png");
  out["figure"] = "";
  MLIOT_RETURN_IF_ERROR(WriteFileAtomically(data, out.dump(1)));
  if (c.options.plot) {
    absl::StatusOr<json> plotted = RunPeer(PeerRun{.script = "plot_paper.py",
                                                   .args = {data, png},
                                                   .timeout = std::chrono::seconds(120),
                                                   .source_dir = c.options.source_dir});
    if (plotted.ok()) {
      out["figure"] = png;
    } else {
      out["figure_error"] = std::string(plotted.status().message());
    }
    MLIOT_RETURN_IF_ERROR(WriteFileAtomically(data, out.dump(1)));
  }
  for (const json& claim : out["claims"]) {
    Say(absl::StrCat(name, ": ", claim["held"].get<bool>() ? "held" : "NOT held", ": ",
                     claim["claim"].get<std::string>(), " (paper: ", claim["paper"].dump(),
                     "; here: ", claim["mliot"].dump(), ")"));
  }
  return out;
}

}  // namespace

std::vector<std::string> PaperExperiments() {
  std::vector<std::string> names;
  for (const auto& [name, run] : Registry()) names.push_back(name);
  return names;
}

absl::StatusOr<json> RunPaperBench(const PaperBenchOptions& o) {
  std::vector<std::pair<std::string, Experiment>> chosen;
  for (const auto& [name, run] : Registry()) {
    if (o.experiment == "all" || o.experiment == name) chosen.emplace_back(name, run);
  }
  if (chosen.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--experiment '", o.experiment, "': valid: ", absl::StrJoin(PaperExperiments(), ", "),
        ", all"));
  }
  Context c{.options = o, .work = o.work_dir.empty() ? TempDir("paper") : o.work_dir};
  fs::create_directories(c.work);
  json reports = json::array();
  // One experiment failing does not cost the others of an hour's run: each
  // has written its DIR/NAME.json; the failures are named at the end.
  std::vector<std::string> failed;
  absl::Status status;
  for (const auto& [name, run] : chosen) {
    absl::StatusOr<json> r = RunOne(c, name, run);
    if (!r.ok()) {
      status = Annotate(r.status(), name);
      failed.push_back(name);
      Say(absl::StrCat(name, ": failed: ", r.status().message()));
      continue;
    }
    reports.push_back(std::move(*r));
  }
  if (o.work_dir.empty()) fs::remove_all(c.work);
  if (failed.size() == 1) return status;
  if (!failed.empty()) {
    return absl::InternalError(absl::StrCat(failed.size(), " of ", chosen.size(),
                                            " experiments failed: ", absl::StrJoin(failed, ", "),
                                            "; the last: ", status.message()));
  }
  if (o.experiment != "all") return reports[0];
  return json{{"experiments", reports}};
}

}  // namespace mliot::bench
