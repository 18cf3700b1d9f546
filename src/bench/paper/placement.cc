// fig10, fig11, fig12: three iterations of six application traces placed on
// the emulated testbed (testbeds/paper.yaml) under the paper's policies.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
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
#include "coord/policy.h"

namespace mliot::bench::paper {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

struct Policy {
  std::string name;  // P1..P6
  std::string require, prefer;
  std::string meaning;
};

// How long things take: the full run, and quick mode's (CI).
struct Schedule {
  double budget_s;      // training budget of every trace
  double serve_s;       // how long a trace sends predictions once serving
  double submit_gap_s;  // between two traces of an iteration
  double overlap_s;     // iteration 2 starts this long after iteration 1's last submit
  double settle_s;      // before iteration 3, after every earlier trace ended
  int iterations;
};

// What happened to one trace.
struct TraceRun {
  int id = 0;  // 1..18
  int iteration = 0;
  Policy policy;
  json nodes_before;  // `mliot nodes` just before the submit
  json submit = json::object();  // the coordinator's answer (node, ranking, reasons)
  double submitted_s = 0, serving_s = -1, ended_s = -1;
  json predict;       // `mliot predict --json` (latency_ms, accuracy, node)
  std::string error;
};

// The node of `nodes` named `name` as a policy sees it, with `latency_ms`.
NodeView ViewOf(const json& nodes, const std::string& name, double latency_ms) {
  NodeView v;
  v.name = name;
  for (const json& n : nodes) {
    if (n.value("name", "") != name) continue;
    v.cores = n.value("cores", 0);
    v.memory_mb = n.value("memory_mb", 0.0);
    v.gpu = n.value("gpu", false);
    v.rtt_ms = n.value("rtt_ms", 0.0);
    v.cpu = n.value("cpu", 0.0);
    v.mem = n.value("mem", 0.0);
    v.load = n.value("load", 0.0);
    v.free_cpu = std::max(0.0, v.cores * (1.0 - v.cpu / 100.0));
    v.tasks = static_cast<int>(n.value("tasks", json::array()).size());
    auto labels = std::make_shared<NodeLabels>();
    const json node_labels = n.value("labels", json::object());
    for (const auto& [k, val] : node_labels.items()) {
      (*labels)[k] = val.is_string() ? val.get<std::string>() : val.dump();
    }
    v.labels = labels;
  }
  v.latency_ms = latency_ms;
  return v;
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One trace from submit to cancel: waits for serving, sends its test part
// for `serve_s`, cancels.
void RunTrace(TestbedRun& tb, TraceRun& t, const std::string& train, const std::string& test,
              const Schedule& s, Clock::time_point start) {
  const std::string task = absl::StrCat("t", t.id);
  absl::StatusOr<json> nodes = tb.Nodes();
  if (nodes.ok()) t.nodes_before = *nodes;
  t.submitted_s = Since(start);
  absl::StatusOr<json> submit = tb.Submit(task, train, s.budget_s, t.policy.require, t.policy.prefer);
  if (!submit.ok()) {
    t.error = std::string(submit.status().message());
    return;
  }
  t.submit = *submit;
  if (!t.submit.value("accepted", false)) {
    // Refused: a refused task would wait for a node; a trace does not.
    (void)tb.Cli({"cancel", "--task", task});
    t.ended_s = Since(start);
    return;
  }
  absl::StatusOr<json> waited = tb.Cli({"wait", "--task", task, "--state", "serving",
                                        "--timeout-s", "300"},
                                       std::chrono::seconds(320));
  if (!waited.ok()) {
    t.error = std::string(waited.status().message());
  } else {
    t.serving_s = Since(start);
    absl::StatusOr<json> p = tb.Cli({"predict", "--task", task, "--data", "csv:" + test,
                                     "--duration-s", absl::StrCat(s.serve_s)},
                                    std::chrono::seconds(static_cast<int64_t>(s.serve_s) + 120));
    if (p.ok()) {
      t.predict = *p;
    } else {
      t.error = std::string(p.status().message());
    }
  }
  (void)tb.Cli({"cancel", "--task", task});
  t.ended_s = Since(start);
}

json TraceJson(const TraceRun& t) {
  json j = {{"trace", absl::StrCat("T", t.id)},
            {"iteration", t.iteration},
            {"policy", t.policy.name},
            {"require", t.policy.require},
            {"prefer", t.policy.prefer.empty() ? "best_effort" : t.policy.prefer},
            {"accepted", t.submit.value("accepted", false)},
            {"node", t.submit.value("node", "")},
            {"ranking", t.submit.value("ranking", json::array())},
            {"reasons", t.submit.value("reasons", json::object())},
            {"submitted_s", t.submitted_s},
            {"serving_s", t.serving_s},
            {"ended_s", t.ended_s}};
  if (t.predict.is_object()) {
    j["latency_ms_p50"] = t.predict["latency_ms"].value("p50", 0.0);
    j["accuracy"] = t.predict.value("accuracy", 0.0);
  }
  if (!t.error.empty()) j["error"] = t.error;
  return j;
}

// A figure-specific claim over the finished traces.
using ClaimCheck = std::function<json(const std::vector<TraceRun>&)>;

absl::StatusOr<json> RunTraces(Context& c, const std::string& fig,
                               const std::vector<Policy>& policies,
                               const std::vector<ClaimCheck>& checks) {
  const bool quick = c.options.quick;
  const Schedule s = quick ? Schedule{2, 2, 0.5, 2, 3, 1} : Schedule{10, 15, 2, 8, 10, 3};
  const std::string dir = absl::StrCat(c.work, "/", fig);
  MLIOT_ASSIGN_OR_RETURN(TraceFiles files, WriteTraceFiles(c, dir));
  const std::string& train_csv = files.train;
  const std::vector<std::string>& parts = files.parts;
  const std::string testbed = FindSourceFile("testbeds/paper.yaml", c.options.source_dir);
  if (testbed.empty()) return absl::NotFoundError("testbeds/paper.yaml not found (--source-dir)");
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<TestbedRun> tb,
                         TestbedRun::Start(testbed, dir + "/testbed", 5));
  absl::StatusOr<json> devices = tb->Nodes();

  std::vector<TraceRun> traces(static_cast<size_t>(6 * s.iterations));
  for (size_t i = 0; i < traces.size(); ++i) {
    traces[i].id = static_cast<int>(i) + 1;
    traces[i].iteration = static_cast<int>(i) / 6 + 1;
    traces[i].policy = policies[i % 6];
  }
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> running;
  auto launch = [&](int iteration) {
    for (size_t i = 0; i < traces.size(); ++i) {
      if (traces[i].iteration != iteration) continue;
      TraceRun& t = traces[i];
      Say(absl::StrFormat("%s: T%d:%s (%s%s) at %.1f s", fig, t.id, t.policy.name,
                          t.policy.require.empty() ? "any device" : t.policy.require,
                          t.policy.prefer.empty() ? "" : ", prefer " + t.policy.prefer, Since(start)));
      running.emplace_back(RunTrace, std::ref(*tb), std::ref(t), train_csv, parts[i % 6], s, start);
      std::this_thread::sleep_for(std::chrono::duration<double>(s.submit_gap_s));
    }
  };
  launch(1);
  if (s.iterations >= 2) {
    // Iteration 2 while iteration 1 still runs: placement sees its load.
    std::this_thread::sleep_for(std::chrono::duration<double>(s.overlap_s));
    launch(2);
  }
  for (std::thread& t : running) t.join();
  running.clear();
  if (s.iterations >= 3) {
    // Iteration 3 on an idle testbed again, after the metrics settled.
    std::this_thread::sleep_for(std::chrono::duration<double>(s.settle_s));
    launch(3);
    for (std::thread& t : running) t.join();
  }
  const double elapsed = Since(start);
  tb.reset();

  json out_traces = json::array();
  int accepted = 0, satisfied = 0, errors = 0;
  std::vector<std::string> violations;
  for (const TraceRun& t : traces) {
    json j = TraceJson(t);
    Say(absl::StrFormat("%s: T%d:%s -> %s, ranking [%s], p50 %.1f ms%s", fig, t.id, t.policy.name,
                        j["accepted"].get<bool>() ? j["node"].get<std::string>() : "refused",
                        absl::StrJoin(j["ranking"].get<std::vector<std::string>>(), " > "),
                        j.value("latency_ms_p50", -1.0),
                        t.error.empty() ? "" : absl::StrCat(" (", t.error, ")")));
    if (!t.error.empty()) ++errors;
    if (j["accepted"].get<bool>() && j.contains("latency_ms_p50")) {
      ++accepted;
      // The policy again, on the device as it was before the submit, with
      // the latency the trace measured in place of the predicted one.
      absl::StatusOr<RequireExpr> require = RequireExpr::Parse(t.policy.require);
      std::string why;
      if (require.ok() &&
          require->Matches(ViewOf(t.nodes_before, j["node"], j["latency_ms_p50"]), &why)) {
        ++satisfied;
        j["policy_held"] = true;
      } else {
        j["policy_held"] = false;
        j["policy_violation"] = why;
        violations.push_back(absl::StrCat("T", t.id, ": ", why));
      }
    }
    out_traces.push_back(std::move(j));
  }
  json claims = json::array({Claim(
      "every placement satisfies its policy (checked again with the trace's measured latency in "
      "place of the predicted one)",
      "the DSL schedules each trace on a device meeting its policy",
      absl::StrCat(satisfied, " of ", accepted, " placed traces",
                   violations.empty() ? "" : absl::StrCat(" (", absl::StrJoin(violations, "; "), ")"),
                   errors > 0 ? absl::StrCat("; ", errors, " traces failed") : ""),
      accepted > 0 && satisfied == accepted && errors == 0)});
  if (s.iterations >= 2) {
    std::vector<std::string> moved;
    for (size_t i = 0; i < 6; ++i) {
      const std::string a = traces[i].submit.value("node", ""), b = traces[i + 6].submit.value("node", "");
      auto where = [](const std::string& node) { return node.empty() ? std::string(" refused") : " on " + node; };
      if (a != b) moved.push_back(absl::StrCat("T", i + 7, where(b), " (T", i + 1, where(a), ")"));
    }
    claims.push_back(Claim(
        "with iteration 1 still running, placement follows the load: some trace of iteration 2 "
        "goes elsewhere than its twin of iteration 1",
        "in the second iteration traces are deployed based on the load balancing metrics",
        moved.empty() ? "every trace placed as its twin" : absl::StrJoin(moved, ", "),
        !moved.empty()));
  }
  if (s.iterations >= 3) {
    int same = 0;
    for (size_t i = 0; i < 6; ++i) same += traces[i].submit.value("node", "") ==
                                           traces[i + 12].submit.value("node", "");
    claims.push_back(Claim("on an idle testbed again, iteration 3 is placed as iteration 1",
                           "traces T13-T18 are scheduled on the same devices as T1-T6",
                           absl::StrCat(same, " of 6 traces on the same device"), same == 6));
  }
  for (const ClaimCheck& check : checks) {
    json claim = check(traces);
    if (!claim.is_null()) claims.push_back(std::move(claim));
  }
  json policy_list = json::array();
  for (const Policy& p : policies) {
    policy_list.push_back({{"policy", p.name},
                           {"require", p.require},
                           {"prefer", p.prefer.empty() ? "best_effort" : p.prefer},
                           {"meaning", p.meaning}});
  }
  return json{{"claims", claims},
              {"traces", out_traces},
              {"policies", policy_list},
              {"devices", devices.ok() ? *devices : json::array()},
              {"schedule",
               {{"budget_s", s.budget_s},
                {"serve_s", s.serve_s},
                {"submit_gap_s", s.submit_gap_s},
                {"overlap_s", s.overlap_s},
                {"settle_s", s.settle_s},
                {"iterations", s.iterations}}},
              {"run_s", elapsed},
              {"data", quick ? "synthetic rows" : "sp-sw-har (sensor_stats rows)"}};
}

// The traces of one policy, placed.
std::vector<const TraceRun*> Placed(const std::vector<TraceRun>& traces, const std::string& policy) {
  std::vector<const TraceRun*> out;
  for (const TraceRun& t : traces) {
    if (t.policy.name == policy && t.submit.value("accepted", false)) out.push_back(&t);
  }
  return out;
}

std::string Where(const std::vector<const TraceRun*>& traces) {
  std::vector<std::string> parts;
  for (const TraceRun* t : traces) {
    parts.push_back(absl::StrCat("T", t->id, " on ", t->submit.value("node", "")));
  }
  return parts.empty() ? "none placed" : absl::StrJoin(parts, ", ");
}

bool On(const TraceRun& t, const std::vector<std::string>& nodes) {
  return std::find(nodes.begin(), nodes.end(), t.submit.value("node", "")) != nodes.end();
}

bool Local(const TraceRun& t) { return On(t, {"M1", "M2"}); }

// The claim that every placed trace of `policy` ran on one of `nodes`.
ClaimCheck AllOn(const std::string& policy, const std::vector<std::string>& nodes,
                 const std::string& claim, const std::string& paper) {
  return [=](const std::vector<TraceRun>& traces) {
    const std::vector<const TraceRun*> placed = Placed(traces, policy);
    bool all = !placed.empty();
    for (const TraceRun* t : placed) all = all && On(*t, nodes);
    return Claim(claim, paper, Where(placed), all);
  };
}

}  // namespace

// Fig. 10: latency-bound traces (best effort among the devices that meet
// the bound).
absl::StatusOr<json> Fig10(Context& c) {
  const std::vector<Policy> policies = {
      {"P1", "latency_ms <= 10", "", "latency < 10 ms"},
      {"P2", "latency_ms <= 30", "", "latency < 30 ms"},
      {"P3", "latency_ms <= 70", "", "latency < 70 ms"},
      {"P4", "latency_ms <= 90", "", "latency < 90 ms"},
      {"P5", "latency_ms <= 30", "", "latency < 30 ms"},
      {"P6", "latency_ms <= 90", "", "latency < 90 ms"},
  };
  std::vector<ClaimCheck> checks = {
      AllOn("P1", {"M1"}, "the tightest bound (10 ms) goes to the closest device, M1",
            "T1:P1 is scheduled on M1, the lowest RTT (~3 ms) among those meeting it")};
  return RunTraces(c, "fig10", policies, checks);
}

// Fig. 11: hybrid latency and locality (P2: local devices only; P1, P3, P5:
// a latency bound and the closest device first, `min(rtt_ms)`, which on the
// testbed is a local one whenever a local device meets the bound).
absl::StatusOr<json> Fig11(Context& c) {
  const std::vector<Policy> policies = {
      {"P1", "latency_ms <= 10", "min(rtt_ms)", "latency < 10 ms, local when possible"},
      {"P2", "locality == 'local'", "", "local devices only (privacy)"},
      {"P3", "latency_ms <= 70", "min(rtt_ms)", "latency < 70 ms, local when possible"},
      {"P4", "", "", "best effort"},
      {"P5", "latency_ms <= 80", "min(rtt_ms)", "latency < 80 ms, local when possible"},
      {"P6", "", "", "best effort"},
  };
  std::vector<ClaimCheck> checks = {
      AllOn("P2", {"M1", "M2"}, "local-only traces always run on a local device (M1, M2)",
            "traces with P2 pick only local devices"),
      [](const std::vector<TraceRun>& traces) {
        int n = 0, ok = 0;
        std::vector<const TraceRun*> all;
        for (const std::string p : {"P1", "P3", "P5"}) {
          for (const TraceRun* t : Placed(traces, p)) {
            ++n;
            all.push_back(t);
            // Local, or no local device was eligible.
            bool local_eligible = false;
            for (const json& r : t->submit.value("ranking", json::array())) {
              local_eligible = local_eligible || r == "M1" || r == "M2";
            }
            ok += Local(*t) || !local_eligible;
          }
        }
        return Claim("traces preferring local run locally whenever a local device meets their "
                     "bound",
                     "MLIoT picks local devices (M1, M2) despite other devices satisfying the "
                     "latency constraint",
                     Where(all), n > 0 && ok == n);
      }};
  return RunTraces(c, "fig11", policies, checks);
}

// Fig. 12: diverse policies: locality without latency, latency, load
// average, free CPU, best effort, the most memory.
absl::StatusOr<json> Fig12(Context& c) {
  const std::vector<Policy> policies = {
      {"P1", "locality == 'local'", "", "local, no latency bound"},
      {"P2", "latency_ms <= 30", "", "latency < 30 ms"},
      {"P3", "", "", "best effort"},
      {"P4", "load < 2", "", "load average < 2"},
      {"P5", "cpu < 50", "", "CPU use < 50 %"},
      {"P6", "", "max(memory_mb)", "the device with the most memory"},
  };
  std::vector<ClaimCheck> checks = {AllOn("P6", {"M5"}, "the most-memory policy always picks M5",
                                           "T6, T12, T18 (most memory) always run on M5 (32 GB)")};
  return RunTraces(c, "fig12", policies, checks);
}

}  // namespace mliot::bench::paper
