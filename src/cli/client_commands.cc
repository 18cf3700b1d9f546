// Client commands: nodes, submit, tasks, wait, predict, feedback, cancel.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "features/raw_source.h"
#include "serve/bundle_reader.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "common/file_transfer.h"
#include "common/status_util.h"
#include "coord/policy.h"
#include "data/source.h"
#include "train/task_spec.h"

namespace mliot::cli {
namespace {

struct ClientArgs {
  std::string coordinator;
  TlsOptions tls;
  bool json = false;
  std::string task;
  std::string spec_path;
  std::string state = "serving";
  double timeout_s = 600;
  std::string data;
  std::string label = "label";
  std::string token;
  double duration_s = 0;
  std::string time_column = "timestamp";
  std::string node;  // nodes revoke
};

int PrintPredictions(const ClientArgs& a, const Client::PredictResult& r, int64_t rows);

std::string StateName(v1::TaskPhase phase) {
  switch (phase) {
    case v1::TASK_PHASE_TRAINING:
      return "training";
    case v1::TASK_PHASE_SERVING:
      return "serving";
    case v1::TASK_PHASE_FAILED:
      return "failed";
    default:
      return "pending";
  }
}

int Nodes(ClientArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::ListNodesResponse response;
  grpc::Status s = client->coordinator().ListNodes(WithDeadline(&ctx), v1::ListNodesRequest(), &response);
  if (!s.ok()) return Fail(absl::UnavailableError(absl::StrCat("coordinator ", a.coordinator, ": ", s.error_message())));
  nlohmann::json out = nlohmann::json::array();
  for (const v1::NodeSummary& n : response.nodes()) {
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [k, v] : n.info().labels()) labels[k] = v;
    nlohmann::json workers = nlohmann::json::array();
    for (const v1::WorkerMetrics& w : n.metrics().workers()) {
      workers.push_back({{"task", w.task()}, {"role", w.role()}, {"pid", w.pid()}, {"cpu_percent", w.cpu_percent()},
                         {"rss_mb", w.rss_mb()}, {"restarts", w.restarts()}, {"serve_ms", w.serve_ms()}});
    }
    out.push_back({{"name", n.info().name()}, {"address", n.info().address()}, {"alive", n.alive()},
                   {"cores", n.info().cores()},
                   {"memory_mb", n.info().memory_mb()}, {"gpu", n.info().gpu()}, {"labels", labels},
                   {"cpu", n.metrics().cpu()}, {"mem", n.metrics().mem()}, {"load", n.metrics().load()},
                   {"isolation", n.info().isolation()},
                   {"tasks", std::vector<std::string>(n.tasks().begin(), n.tasks().end())},
                   {"rtt_ms", n.info().rtt_ms()}, {"cpu_quota_cores", n.info().cpu_quota_cores()},
                   {"endpoints", {{"v2_http", n.info().endpoints().v2_http()},
                                  {"v2_grpc", n.info().endpoints().v2_grpc()},
                                  {"metrics", n.info().endpoints().metrics()}}},
                   {"workers", workers},
                   {"serve_ms", {{"image", n.metrics().image_serve_ms()},
                                 {"sensor", n.metrics().sensor_serve_ms()}}},
                   {"benchmark", {{"image_predict_ms", n.info().benchmark().image_predict_ms()},
                                  {"sensor_predict_ms", n.info().benchmark().sensor_predict_ms()},
                                  {"request_ms", n.info().benchmark().request_ms()},
                                  {"train_speed", n.info().benchmark().train_speed()}}}});
  }
  if (a.json) {
    PrintJson(out);
  } else {
    for (const auto& n : out) {
      std::printf("%-12s %-5s %2d cores %8.0f MB  cpu %5.1f%%  mem %5.1f%%  load %4.2f  %s  tasks: %s\n",
                  n["name"].get<std::string>().c_str(), n["alive"].get<bool>() ? "alive" : "DEAD",
                  n["cores"].get<int>(), n["memory_mb"].get<double>(), n["cpu"].get<double>(),
                  n["mem"].get<double>(), n["load"].get<double>(), n["isolation"].get<std::string>().c_str(),
                  absl::StrJoin(n["tasks"].get<std::vector<std::string>>(), ",").c_str());
    }
  }
  return 0;
}

int Submit(ClientArgs& a) {
  absl::StatusOr<std::string> yaml = ReadFile(a.spec_path);
  if (!yaml.ok()) return Fail(yaml.status());
  absl::StatusOr<TaskSpec> spec = ParseTaskSpec(*yaml);
  if (!spec.ok()) return Fail(Annotate(spec.status(), a.spec_path));
  // Policies are checked here too, so a bad one costs no upload.
  if (absl::Status s = RequireExpr::Parse(spec->require).status(); !s.ok()) {
    return Fail(Annotate(s, absl::StrCat(a.spec_path, ": spec: device.require")));
  }
  if (absl::Status s = PreferRule::Parse(spec->prefer).status(); !s.ok()) {
    return Fail(Annotate(s, absl::StrCat(a.spec_path, ": spec: device.prefer")));
  }
  v1::SubmitRequest request;
  request.set_spec_yaml(*yaml);
  // Data files are resolved relative to the spec file and shipped with it.
  const std::filesystem::path base = std::filesystem::path(a.spec_path).parent_path();
  for (const std::string& file : DataFiles(spec->data)) {
    const std::filesystem::path p = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file) : base / file;
    // A folder (audio:DIR, sensor:DIR) travels packed as one file.
    absl::StatusOr<std::string> content =
        IsFolderData(spec->data) ? PackDirectory(p.string()) : ReadFile(p.string());
    if (!content.ok()) return Fail(Annotate(content.status(), absl::StrCat(a.spec_path, ": data")));
    v1::DataFile* f = request.add_files();
    f->set_name(file);
    f->set_content(*std::move(content));
  }
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::SubmitResponse response;
  grpc::Status s = client->coordinator().Submit(WithDeadline(&ctx, 60), request, &response);
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return Fail(absl::UnavailableError(absl::StrCat("coordinator ", a.coordinator, " unreachable: ", s.error_message())));
    }
    return Fail(Annotate(FromGrpc(s), a.spec_path));
  }
  // Why each node that could not take the task was left out (also when
  // another node took it).
  nlohmann::json reasons = nlohmann::json::object();
  for (const auto& [node, why] : response.reasons()) reasons[node] = why;
  nlohmann::json out;
  if (response.accepted()) {
    out = {{"accepted", true}, {"task", response.task()}, {"node", response.node()},
           {"ranking", std::vector<std::string>(response.ranking().begin(), response.ranking().end())},
           {"reasons", reasons}, {"predicted_latency_ms", response.predicted_latency_ms()},
           {"token", response.token()}};  // the task's bearer token, for its clients
  } else {
    out = {{"accepted", false}, {"task", spec->name}, {"reasons", reasons}};
  }
  if (a.json) {
    PrintJson(out);
  } else if (response.accepted()) {
    std::printf("task %s placed on %s (ranking: %s)\n", response.task().c_str(), response.node().c_str(),
                absl::StrJoin(response.ranking(), ", ").c_str());
  } else {
    std::printf("task %s refused:\n", spec->name.c_str());
    for (const auto& [node, why] : response.reasons()) std::printf("  %s: %s\n", node.c_str(), why.c_str());
  }
  return response.accepted() ? 0 : 3;
}

int Tasks(ClientArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::ListTasksResponse response;
  grpc::Status s = client->coordinator().ListTasks(WithDeadline(&ctx), v1::ListTasksRequest(), &response);
  if (!s.ok()) return Fail(absl::UnavailableError(absl::StrCat("coordinator ", a.coordinator, ": ", s.error_message())));
  nlohmann::json out = nlohmann::json::array();
  for (const v1::TaskInfo& t : response.tasks()) {
    out.push_back({{"name", t.name()}, {"node", t.node()}, {"state", StateName(t.phase())},
                   {"version", t.version()}, {"message", t.message()}, {"disk_bytes", t.disk_bytes()},
                   {"pinned_version", t.pinned_version()}, {"serving_address", t.serving_address()},
                   {"events", std::vector<std::string>(t.events().begin(), t.events().end())}});
  }
  if (a.json) {
    PrintJson(out);
  } else {
    for (const v1::TaskInfo& t : response.tasks()) {
      std::printf("%-20s %-12s %-9s v%-4lld %s\n", t.name().c_str(), t.node().c_str(), StateName(t.phase()).c_str(),
                  static_cast<long long>(t.version()), t.message().c_str());
    }
  }
  return 0;
}

int Wait(ClientArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  if (a.state != "pending" && a.state != "training" && a.state != "serving" && a.state != "failed") {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--state '", a.state, "': valid: pending, training, serving, failed")));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(a.timeout_s);
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<v1::TaskInfo> info = client->GetTask(a.task, /*allow_cache=*/false);
    if (!info.ok() && info.status().code() == absl::StatusCode::kNotFound) return Fail(info.status());
    if (info.ok()) {
      last = StateName(info->phase());
      if (last == a.state && (a.state != "serving" || !info->serving_address().empty())) {
        if (a.json) {
          PrintJson({{"task", a.task}, {"state", last}, {"node", info->node()}, {"version", info->version()}});
        } else {
          std::printf("task %s is %s on %s (version %lld)\n", a.task.c_str(), last.c_str(), info->node().c_str(),
                      static_cast<long long>(info->version()));
        }
        return 0;
      }
      if (last == "failed" && a.state != "failed") {
        return Fail(absl::FailedPreconditionError(absl::StrCat("task '", a.task, "' failed: ", info->message())));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Fail(absl::DeadlineExceededError(absl::StrCat("task '", a.task, "' not ", a.state, " after ", a.timeout_s,
                                                       "s (state: ", last.empty() ? "unknown" : last, ")")));
}

// predict/feedback with audio:/sensor: data: the task's featurizer (from its
// serving worker) decides the windows; predict sends each raw window,
// feedback sends the featurized rows with their labels.
int PredictRawData(ClientArgs& a, bool feedback) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  absl::StatusOr<v1::HealthResponse> health = client->Health(a.task, a.token);
  if (!health.ok()) return Fail(health.status());
  if (!health->has_featurizer()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(a.data, ": raw data, but task '", a.task,
                                                        "' was trained on feature rows")));
  }
  RawSourceOptions options;
  options.label_column = a.label;
  options.time_column = a.time_column;
  options.for_training = false;
  absl::StatusOr<RawDataset> raw = LoadRawDataset(a.data, FeaturizerFromProto(health->featurizer()), options);
  if (!raw.ok()) return Fail(raw.status());
  if (feedback) {
    absl::StatusOr<int64_t> accepted = client->Feedback(a.task, raw->data, a.token);
    if (!accepted.ok()) return Fail(accepted.status());
    if (a.json) PrintJson({{"accepted_rows", *accepted}});
    else std::printf("%lld feedback rows accepted for %s\n", static_cast<long long>(*accepted), a.task.c_str());
    return 0;
  }
  absl::StatusOr<Client::PredictResult> r = client->PredictRaw(a.task, *raw, a.token);
  if (!r.ok()) return Fail(r.status());
  return PrintPredictions(a, *r, raw->data.rows);
}

int PredictOrFeedback(ClientArgs& a, bool feedback) {
  if (a.task.empty() || a.data.empty()) return Fail(absl::InvalidArgumentError("--task and --data are required"));
  if (IsRawDataSpec(a.data)) return PredictRawData(a, feedback);
  LoadOptions load;
  load.label_column = a.label;
  load.for_training = false;
  absl::StatusOr<Dataset> data = LoadDataset(a.data, load);
  if (!data.ok()) return Fail(data.status());
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  if (feedback) {
    absl::StatusOr<int64_t> accepted = client->Feedback(a.task, *data, a.token);
    if (!accepted.ok()) return Fail(accepted.status());
    absl::StatusOr<v1::TaskInfo> info = client->GetTask(a.task);
    const nlohmann::json out = {{"accepted_rows", *accepted}, {"version", info.ok() ? info->version() : 0}};
    if (a.json) PrintJson(out);
    else std::printf("%lld feedback rows accepted for %s\n", static_cast<long long>(*accepted), a.task.c_str());
    return 0;
  }
  absl::StatusOr<Client::PredictResult> r = client->Predict(a.task, *data, a.token, a.duration_s);
  if (!r.ok()) return Fail(r.status());
  return PrintPredictions(a, *r, data->rows);
}

int PrintPredictions(const ClientArgs& a, const Client::PredictResult& r, int64_t rows) {
  nlohmann::json out = {{"n", r.n}, {"latency_ms", {{"p50", r.p50_ms}, {"p99", r.p99_ms}, {"mean", r.mean_ms}}},
                        {"version", r.version}, {"first_version", r.first_version}, {"node", r.node}, {"failed", r.failed},
                        {"stage1_answers", r.stage1}};
  if (r.labelled > 0) out["accuracy"] = r.accuracy;
  if (a.json) {
    PrintJson(out);
  } else {
    std::printf("%lld predictions from %s (version %lld): p50 %.3f ms, p99 %.3f ms end to end%s\n",
                static_cast<long long>(r.n), r.node.c_str(), static_cast<long long>(r.version), r.p50_ms,
                r.p99_ms, r.labelled > 0 ? absl::StrCat(", accuracy ", r.accuracy).c_str() : "");
  }
  return r.n > 0 || rows == 0 ? 0 : 1;
}

int RevokeNode(ClientArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::RevokeNodeRequest request;
  request.set_name(a.node);
  v1::RevokeNodeResponse response;
  grpc::Status s = client->coordinator().RevokeNode(WithDeadline(&ctx), request, &response);
  if (!s.ok()) return Fail(FromGrpc(s));
  std::vector<std::string> tasks(response.tasks().begin(), response.tasks().end());
  if (a.json) {
    PrintJson({{"node", response.name()}, {"revoked", true}, {"tasks", tasks}});
  } else {
    std::printf("node %s revoked: its calls are refused%s\n", response.name().c_str(),
                tasks.empty() ? "" : absl::StrCat("; its tasks (", absl::StrJoin(tasks, ", "),
                                                  ") move once it is declared dead").c_str());
  }
  return 0;
}

int Cancel(ClientArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::CancelRequest request;
  request.set_task(a.task);
  v1::CancelResponse response;
  grpc::Status s = client->coordinator().Cancel(WithDeadline(&ctx), request, &response);
  if (!s.ok()) return Fail(FromGrpc(s));
  if (a.json) {
    PrintJson({{"task", a.task}, {"cancelled", true}});
  } else {
    std::printf("task %s cancelled\n", a.task.c_str());
  }
  return 0;
}

}  // namespace

Runner AddClientCommands(CLI::App& app) {
  auto args = std::make_shared<ClientArgs>();
  auto common = [&](CLI::App* cmd, bool json) {
    cmd->add_option("--coordinator", args->coordinator, "coordinator address")->required();
    AddTlsFlags(cmd, &args->tls, false);
    if (json) cmd->add_flag("--json", args->json, "print one JSON object or list as the last stdout line");
  };
  CLI::App* nodes = app.add_subcommand("nodes", "list nodes, their metrics and tasks");
  nodes->add_option("--coordinator", args->coordinator, "coordinator address");  // checked when connecting
  AddTlsFlags(nodes, &args->tls, false);
  nodes->add_flag("--json", args->json, "print one JSON object or list as the last stdout line");
  CLI::App* revoke =
      nodes->add_subcommand("revoke", "revoke a node's credentials: its calls are refused, its tasks move elsewhere");
  // Its flags may come before `revoke` (as `nodes` flags) or after it.
  revoke->add_option("--coordinator", args->coordinator, "coordinator address");
  AddTlsFlags(revoke, &args->tls, false);
  revoke->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  revoke->add_option("name", args->node, "node name")->required();
  CLI::App* submit = app.add_subcommand("submit", "submit a task spec (YAML)");
  common(submit, true);
  submit->add_option("spec", args->spec_path, "SPEC.yaml")->required();
  CLI::App* tasks = app.add_subcommand("tasks", "list tasks");
  common(tasks, true);
  CLI::App* wait = app.add_subcommand("wait", "wait until a task reaches a state");
  common(wait, true);
  wait->add_option("--task", args->task, "task name")->required();
  wait->add_option("--state", args->state, "pending | training | serving | failed")->capture_default_str();
  wait->add_option("--timeout-s", args->timeout_s, "give up after this long")->capture_default_str();
  CLI::App* predict = app.add_subcommand("predict", "send rows to a task's serving worker");
  common(predict, true);
  CLI::App* feedback = app.add_subcommand("feedback", "send labelled rows as feedback");
  common(feedback, true);
  for (CLI::App* cmd : {predict, feedback}) {
    cmd->add_option("--task", args->task, "task name")->required();
    cmd->add_option("--data", args->data, "data spec: " + DataSpecForms())->required();
    cmd->add_option("--label", args->label, "label column of a CSV file")->capture_default_str();
    cmd->add_option("--token", args->token, "bearer token (default: from the coordinator)");
    cmd->add_option("--time-column", args->time_column, "timestamp column (ms) of sensor CSV files")
        ->capture_default_str();
    if (cmd == predict) {
      cmd->add_option("--duration-s", args->duration_s, "keep cycling through the rows this long (a steady load)");
    }
  }
  CLI::App* cancel = app.add_subcommand("cancel", "cancel a task");
  common(cancel, true);
  cancel->add_option("--task", args->task, "task name")->required();
  return [&app, args, revoke]() -> int {
    if (app.got_subcommand("nodes")) return revoke->parsed() ? RevokeNode(*args) : Nodes(*args);
    if (app.got_subcommand("submit")) return Submit(*args);
    if (app.got_subcommand("tasks")) return Tasks(*args);
    if (app.got_subcommand("wait")) return Wait(*args);
    if (app.got_subcommand("predict")) return PredictOrFeedback(*args, false);
    if (app.got_subcommand("feedback")) return PredictOrFeedback(*args, true);
    if (app.got_subcommand("cancel")) return Cancel(*args);
    return -1;
  };
}

}  // namespace mliot::cli
