// fig13: co-located tasks on M1 and M4 of the testbed (no added RTT):
// end-to-end latency as 1..N tasks serve at once, then the same with a
// latency policy under which a device stops admitting tasks where the
// latency model's prediction would pass the bound.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/kit.h"
#include "bench/paper/experiment.h"
#include "bench/paper/testbed_run.h"
#include "common/status_util.h"
#include "testbed/testbed.h"

namespace mliot::bench::paper {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Step {
  int tasks = 0;            // serving at once
  std::vector<double> ms;   // each task's mean end-to-end latency
  double mean = 0, stdev = 0;
};

// Every task of `tasks` sends its rows for `seconds` at once; each task's
// mean latency.
absl::StatusOr<Step> Measure(TestbedRun& tb, const std::vector<std::string>& tasks,
                             const TraceFiles& files, double seconds) {
  std::vector<absl::StatusOr<json>> answers(tasks.size(), absl::UnknownError("not run"));
  std::vector<std::thread> clients;
  for (size_t i = 0; i < tasks.size(); ++i) {
    clients.emplace_back([&, i] {
      answers[i] = tb.Cli({"predict", "--task", tasks[i], "--data",
                           "csv:" + files.parts[i % files.parts.size()], "--duration-s",
                           absl::StrCat(seconds)},
                          std::chrono::seconds(static_cast<int64_t>(seconds) + 120));
    });
  }
  for (std::thread& t : clients) t.join();
  Step step{.tasks = static_cast<int>(tasks.size())};
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (!answers[i].ok()) return Annotate(answers[i].status(), tasks[i]);
    step.ms.push_back((*answers[i])["latency_ms"].value("mean", 0.0));
  }
  for (double v : step.ms) step.mean += v / static_cast<double>(step.ms.size());
  for (double v : step.ms) step.stdev += (v - step.mean) * (v - step.mean);
  step.stdev = std::sqrt(step.stdev / static_cast<double>(step.ms.size()));
  return step;
}

absl::StatusOr<std::string> SubmitAndServe(TestbedRun& tb, const std::string& task,
                                           const TraceFiles& files, double budget_s,
                                           const std::string& require, json* answer) {
  MLIOT_ASSIGN_OR_RETURN(*answer, tb.Submit(task, files.train, budget_s, require, ""));
  if (!answer->value("accepted", false)) {
    (void)tb.Cli({"cancel", "--task", task});
    return std::string();
  }
  MLIOT_RETURN_IF_ERROR(tb.Cli({"wait", "--task", task, "--state", "serving", "--timeout-s", "300"},
                               std::chrono::seconds(320))
                            .status());
  // Co-located *serving* tasks: measured and placed once the newcomer's
  // training (which goes on after its first version serves) has ended.
  MLIOT_RETURN_IF_ERROR(tb.WaitTrained(task, std::chrono::seconds(300)));
  return answer->value("node", "");
}

// Pearson correlation of (n, latency).
double Correlation(const std::vector<Step>& steps) {
  const double n = static_cast<double>(steps.size());
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (const Step& s : steps) {
    sx += s.tasks;
    sy += s.mean;
    sxx += s.tasks * s.tasks;
    syy += s.mean * s.mean;
    sxy += s.tasks * s.mean;
  }
  const double den = std::sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
  return den > 0 ? (n * sxy - sx * sy) / den : 0;
}

json StepJson(const Step& s) {
  return {{"tasks", s.tasks}, {"mean_ms", s.mean}, {"stdev_ms", s.stdev}, {"task_ms", s.ms}};
}

}  // namespace

absl::StatusOr<json> Fig13(Context& c) {
  const bool quick = c.options.quick;
  const int max_tasks = quick ? 2 : 6;
  const double budget_s = quick ? 2 : 10, serve_s = quick ? 2 : 4;
  const std::string dir = c.work + "/fig13";
  MLIOT_ASSIGN_OR_RETURN(TraceFiles files, WriteTraceFiles(c, dir));
  // The paper's devices of this figure, without the added round-trip times.
  const std::string paper = FindSourceFile("testbeds/paper.yaml", c.options.source_dir);
  if (paper.empty()) return absl::NotFoundError("testbeds/paper.yaml not found (--source-dir)");
  MLIOT_ASSIGN_OR_RETURN(Testbed paper_testbed, LoadTestbed(paper));
  // M3 has M1's quota on the scaled testbed (testbeds/paper.yaml): it
  // would repeat M1's series, so the smallest and a larger device are run.
  const std::vector<std::string> names =
      quick ? std::vector<std::string>{"M4"} : std::vector<std::string>{"M1", "M4"};
  const std::string file = dir + "/testbed.yaml";
  {
    std::ofstream out(file);
    out << "devices:\n";
    for (const TestbedDevice& d : paper_testbed.devices) {
      if (std::find(names.begin(), names.end(), d.name) == names.end()) continue;
      out << "  - {name: " << d.name << ", cores: " << d.cores << ", memory_mb: " << d.memory_mb
          << ", declared_cores: " << d.declared_cores << ", rtt_ms: 0, labels: {device: " << d.name
          << "}}\n";
    }
  }
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<TestbedRun> tb,
                         TestbedRun::Start(file, dir + "/testbed", static_cast<int>(names.size())));

  // Without a policy: 1..N tasks on each device, all serving at once.
  std::map<std::string, std::vector<Step>> unbounded;
  std::vector<std::string> failures;  // tasks that never served
  int serial = 0;
  for (const std::string& device : names) {
    std::vector<std::string> tasks;
    for (int n = 1; n <= max_tasks; ++n) {
      const std::string task = absl::StrCat("u", ++serial);
      json answer;
      absl::StatusOr<std::string> node = SubmitAndServe(
          *tb, task, files, budget_s, absl::StrCat("device == '", device, "'"), &answer);
      if (!node.ok() || node->empty()) {
        // A task that cannot train or is refused ends this device's series.
        const std::string why = node.ok() ? answer.dump() : std::string(node.status().message());
        Say(absl::StrCat("fig13 ", device, ": task ", n, " not serving: ", why));
        failures.push_back(absl::StrCat(device, " task ", n, ": ", why));
        break;
      }
      tasks.push_back(task);
      MLIOT_ASSIGN_OR_RETURN(Step step, Measure(*tb, tasks, files, serve_s));
      Say(absl::StrFormat("fig13 %s, no policy: %d tasks: mean %.2f ms, stdev %.2f ms", device, n,
                          step.mean, step.stdev));
      unbounded[device].push_back(std::move(step));
    }
    for (const std::string& t : tasks) (void)tb->Cli({"cancel", "--task", t});
    std::this_thread::sleep_for(std::chrono::seconds(quick ? 2 : 8));  // metrics settle
  }

  // The bound: like the paper's 250 ms, where M1 (the first device) stops
  // at 4 tasks: halfway between its latency with 4 and with 5 tasks.
  const std::vector<Step>& first = unbounded[names.front()];
  if (first.empty()) {
    return absl::InternalError(absl::StrCat("fig13: no task served on ", names.front(), ": ",
                                            absl::StrJoin(failures, "; ")));
  }
  const double bound =
      first.size() >= 5 ? (first[3].mean + first[4].mean) / 2 : 1.5 * first.back().mean;

  // With `latency_ms <= bound`: each device admits until the prediction passes it.
  json bounded = json::object();
  int within = 0, predictions = 0, over = 0, admitted_total = 0, wrongly_refused = 0;
  std::vector<std::string> errors, refusals;
  std::map<std::string, int> admitted;
  for (const std::string& device : names) {
    std::vector<std::string> tasks;
    json per_task = json::array();
    std::string refusal;
    for (int n = 1; n <= max_tasks + 2; ++n) {
      // The coordinator's CPU figures are an EWMA over heartbeats: let the
      // load of the last measurement fade, as it would between requests.
      if (n > 1) std::this_thread::sleep_for(std::chrono::seconds(quick ? 2 : 4));
      const std::string task = absl::StrCat("b", ++serial);
      json answer;
      absl::StatusOr<std::string> node = SubmitAndServe(
          *tb, task, files, budget_s,
          absl::StrFormat("device == '%s' and latency_ms <= %.3f", device, bound), &answer);
      if (!node.ok()) {
        Say(absl::StrCat("fig13 ", device, ": task ", n, " not serving: ", node.status().message()));
        failures.push_back(absl::StrCat(device, " task ", n, ": ", node.status().message()));
        break;
      }
      if (node->empty()) {
        refusal = answer.value("reasons", json::object()).value(device, "refused");
        break;
      }
      tasks.push_back(task);
      MLIOT_ASSIGN_OR_RETURN(Step step, Measure(*tb, tasks, files, serve_s));
      const double predicted = answer.value("predicted_latency_ms", 0.0);
      const double error = (predicted - step.mean) / std::max(1e-9, step.mean);
      Say(absl::StrFormat("fig13 %s, latency_ms <= %.1f: task %d admitted, predicted %.2f ms, "
                          "measured mean %.2f ms (%+.0f %%)",
                          device, bound, n, predicted, step.mean, 100 * error));
      // What the prediction was made of (nodes --json), for the report.
      json learned = json::object();
      if (absl::StatusOr<json> nodes = tb->Nodes(); nodes.ok() && nodes->is_array()) {
        for (const json& node : *nodes) {
          if (node.value("name", "") != device) continue;
          learned = {{"serve_ms", node.value("serve_ms", json::object()).value("sensor", 0.0)},
                     {"request_ms",
                      node.value("benchmark", json::object()).value("request_ms", 0.0)}};
        }
      }
      per_task.push_back({{"task", n},
                          {"model", learned},
                          {"predicted_ms", predicted},
                          {"measured_mean_ms", step.mean},
                          {"error", error},
                          {"step", StepJson(step)}});
      ++predictions;
      within += std::abs(error) <= 0.25;
      if (std::abs(error) > 0.25) {
        errors.push_back(absl::StrFormat("%s task %d %+.0f%%", device, n, 100 * error));
      }
      for (double v : step.ms) over += v > bound;
    }
    admitted[device] = static_cast<int>(tasks.size());
    admitted_total += static_cast<int>(tasks.size());
    // Would the refused task have stayed under the bound (by the unbounded run)?
    const std::vector<Step>& u = unbounded[device];
    if (!refusal.empty() && tasks.size() < u.size() && u[tasks.size()].mean < bound / 1.25) {
      ++wrongly_refused;
    }
    refusals.push_back(absl::StrCat(device, ": ", tasks.size(), " admitted",
                                    refusal.empty() ? "" : absl::StrCat(", then refused (", refusal, ")")));
    bounded[device] = {{"admitted", tasks.size()}, {"tasks", per_task}, {"refusal", refusal}};
    for (const std::string& t : tasks) (void)tb->Cli({"cancel", "--task", t});
    std::this_thread::sleep_for(std::chrono::seconds(quick ? 2 : 8));
  }
  tb.reset();

  // The claims.
  bool linear = true;
  double worst_cv = 0;
  std::vector<std::string> slopes;
  json unbounded_json = json::object();
  for (const std::string& device : names) {
    const std::vector<Step>& u = unbounded[device];
    const double r = Correlation(u);
    linear = linear && u.size() >= 2 && r >= 0.9 && u.back().mean > u.front().mean;
    slopes.push_back(absl::StrFormat("%s: %.1f -> %.1f ms (r = %.2f)", device, u.front().mean,
                                     u.back().mean, r));
    json steps = json::array();
    for (const Step& s : u) {
      steps.push_back(StepJson(s));
      worst_cv = std::max(worst_cv, s.stdev / std::max(1e-9, s.mean));
    }
    unbounded_json[device] = steps;
  }
  std::vector<std::string> counts;
  bool ordered = true;
  for (size_t i = 0; i < names.size(); ++i) {
    counts.push_back(absl::StrCat(names[i], " ", admitted[names[i]]));
    if (i > 0) ordered = ordered && admitted[names[i - 1]] <= admitted[names[i]];
  }
  json claims = json::array({
      Claim("latency grows about linearly with the number of co-located tasks (correlation >= "
            "0.9 on every device)",
            "the average latency increases almost linearly across all devices",
            absl::StrJoin(slopes, "; "), linear),
      Claim("co-located tasks share a device fairly: the deviation across tasks stays within 25 % "
            "of the mean",
            "the standard deviation of the serving latency is low",
            absl::StrFormat("largest deviation / mean %.2f", worst_cv), worst_cv <= 0.25),
      Claim("under a latency bound the smaller devices admit fewer tasks",
            "no more than 4 tasks on M1, 7 on M3", absl::StrJoin(counts, ", "), ordered),
      Claim(absl::StrFormat("no admitted task measured over the bound (%.1f ms)", bound),
            "the DSL does not schedule tasks whose latency would exceed 250 ms",
            absl::StrCat(over, " task measurements over the bound; ", absl::StrJoin(refusals, "; ")),
            over == 0 && admitted_total > 0),
      Claim("the latency model's prediction is within 25 % of the measured mean for every admitted "
            "task (beyond the paper)",
            "(the paper reports no prediction error)",
            absl::StrCat(within, " of ", predictions, " within 25 %",
                         errors.empty() ? "" : absl::StrCat(" (", absl::StrJoin(errors, ", "), ")")),
            predictions > 0 && within == predictions),
      Claim("no task refused that would have stayed under the bound (within 25 %)",
            "(beyond the paper)", absl::StrCat(wrongly_refused, " wrongly refused"),
            wrongly_refused == 0),
  });
  return json{{"claims", claims},
              {"bound_ms", bound},
              {"unbounded", unbounded_json},
              {"bounded", bounded},
              {"devices", names},
              {"failures", failures},
              {"budget_s", budget_s},
              {"serve_s", serve_s},
              {"data", quick ? "synthetic rows" : "sp-sw-har (sensor_stats rows)"}};
}

}  // namespace mliot::bench::paper
