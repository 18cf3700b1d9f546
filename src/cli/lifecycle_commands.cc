// Model lifecycle commands: versions, rollback, pin (src/lifecycle/,
// docs/LIFECYCLE.md). Flags and printing only; the coordinator decides.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "common/status_util.h"
#include "lifecycle/lifecycle_state.h"

namespace mliot::cli {
namespace {

struct LifecycleArgs {
  std::string coordinator;
  TlsOptions tls;
  bool json = false;
  std::string task;
  int64_t to = 0;
  int64_t version = 0;
  bool clear = false;
  double wait_s = 10;
};

// A failed call, saying which coordinator when it could not be reached.
int RpcFail(const LifecycleArgs& a, const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Fail(absl::UnavailableError(absl::StrCat("coordinator ", a.coordinator, " unreachable: ", s.error_message())));
  }
  return Fail(FromGrpc(s));
}

int Versions(const LifecycleArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::ListVersionsRequest request;
  request.set_task(a.task);
  v1::ListVersionsResponse response;
  grpc::Status s = client->coordinator().ListVersions(WithDeadline(&ctx, 10), request, &response);
  if (!s.ok()) return RpcFail(a, s);
  nlohmann::json out = nlohmann::json::array();
  for (const v1::VersionStatus& v : response.versions()) {
    nlohmann::json row = {{"version", v.version()},
                          {"state", v.state()},
                          {"origin", v.origin()},
                          {"parent", v.parent()},
                          {"created_at", IsoTime(v.created_unix_ms())},
                          {"validation_accuracy", v.validation_accuracy()},
                          {"feedback_accuracy", nullptr},
                          {"feedback_rows", v.feedback_rows()},
                          {"bytes", v.bytes()},
                          {"stored", v.stored()}};
    if (v.feedback_accuracy() >= 0) row["feedback_accuracy"] = v.feedback_accuracy();
    if (!v.reason().empty()) row["reason"] = v.reason();
    out.push_back(std::move(row));
  }
  if (a.json) {
    PrintJson(out);
    return 0;
  }
  std::printf("%-7s %-9s %-32s %-6s %-20s %-8s %-12s %10s  %s\n", "VERSION", "STATE", "ORIGIN", "PARENT", "CREATED",
              "VAL ACC", "FEEDBACK ACC", "BYTES", "STORED");
  for (const v1::VersionStatus& v : response.versions()) {
    const std::string fb = v.feedback_accuracy() >= 0
                               ? absl::StrCat(absl::StrFormat("%.3f", v.feedback_accuracy()), " (", v.feedback_rows(), ")")
                               : "-";
    std::printf("%-7lld %-9s %-32s %-6lld %-20s %-8.4f %-12s %10lld  %s%s\n", static_cast<long long>(v.version()),
                v.state().c_str(), v.origin().c_str(), static_cast<long long>(v.parent()),
                IsoTime(v.created_unix_ms()).c_str(), v.validation_accuracy(), fb.c_str(),
                static_cast<long long>(v.bytes()), v.stored().c_str(),
                v.reason().empty() ? "" : absl::StrCat("  (", v.reason(), ")").c_str());
  }
  return 0;
}

int Rollback(const LifecycleArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::RollbackRequest request;
  request.set_task(a.task);
  request.set_to(a.to);
  request.set_wait_ms(static_cast<int32_t>(a.wait_s * 1000));
  v1::RollbackResponse response;
  grpc::Status s = client->coordinator().Rollback(WithDeadline(&ctx, a.wait_s + 10), request, &response);
  if (!s.ok()) return RpcFail(a, s);
  if (a.json) {
    PrintJson({{"task", a.task}, {"to", response.to()}, {"version", response.version()},
               {"serving_after_ms", response.serving_after_ms()}});
  } else {
    std::printf("task %s: version %lld (a copy of version %lld) serving after %.0f ms\n", a.task.c_str(),
                static_cast<long long>(response.version()), static_cast<long long>(response.to()),
                response.serving_after_ms());
  }
  return 0;
}

int Pin(const LifecycleArgs& a) {
  if (a.clear == (a.version > 0)) {
    return Fail(absl::InvalidArgumentError("pin: give exactly one of --version V and --clear"));
  }
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::PinRequest request;
  request.set_task(a.task);
  request.set_version(a.version);
  request.set_clear(a.clear);
  v1::PinResponse response;
  grpc::Status s = client->coordinator().Pin(WithDeadline(&ctx, 10), request, &response);
  if (!s.ok()) return RpcFail(a, s);
  if (a.json) {
    PrintJson({{"task", a.task}, {"pinned_version", response.pinned_version()}});
  } else if (response.pinned_version() > 0) {
    std::printf("task %s pinned to version %lld\n", a.task.c_str(), static_cast<long long>(response.pinned_version()));
  } else {
    std::printf("task %s: pin cleared\n", a.task.c_str());
  }
  return 0;
}

}  // namespace

Runner AddLifecycleCommands(CLI::App& app) {
  auto args = std::make_shared<LifecycleArgs>();
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--coordinator", args->coordinator, "coordinator address")->required();
    AddTlsFlags(cmd, &args->tls, false);
    cmd->add_flag("--json", args->json, "print one JSON object or list as the last stdout line");
    cmd->add_option("--task", args->task, "task name")->required();
  };
  CLI::App* versions = app.add_subcommand("versions", "list a task's model versions and their lifecycle states");
  common(versions);
  CLI::App* rollback = app.add_subcommand("rollback", "serve an earlier version again (published as a copy)");
  common(rollback);
  rollback->add_option("--to", args->to, "the version to serve")->required();
  rollback->add_option("--wait-s", args->wait_s, "wait this long for the node to serve it")->capture_default_str();
  CLI::App* pin = app.add_subcommand("pin", "keep serving one version (new ones are still built) until --clear");
  common(pin);
  pin->add_option("--version", args->version, "the version to serve");
  pin->add_flag("--clear", args->clear, "serve new versions again");
  return [&app, args]() -> int {
    if (app.got_subcommand("versions")) return Versions(*args);
    if (app.got_subcommand("rollback")) return Rollback(*args);
    if (app.got_subcommand("pin")) return Pin(*args);
    return -1;
  };
}

}  // namespace mliot::cli
