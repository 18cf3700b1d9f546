// Credential commands: token rotate (src/auth/, docs/SECURITY.md). `nodes
// revoke` lives with `nodes` in client_commands.cc.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "common/status_util.h"
#include "lifecycle/lifecycle_state.h"

namespace mliot::cli {
namespace {

struct TokenArgs {
  std::string coordinator;
  TlsOptions tls;
  bool json = false;
  std::string task;
  double grace_s = -1;  // < 0: the coordinator's --token-grace-s
};

int Rotate(const TokenArgs& a) {
  absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
  if (!client.ok()) return Fail(client.status());
  grpc::ClientContext ctx;
  v1::RotateTokenRequest request;
  request.set_task(a.task);
  if (a.grace_s >= 0) request.set_grace_s(a.grace_s);
  v1::RotateTokenResponse response;
  grpc::Status s = client->coordinator().RotateToken(WithDeadline(&ctx), request, &response);
  if (!s.ok()) return Fail(FromGrpc(s));
  if (a.json) {
    PrintJson({{"task", response.task()},
               {"token", response.token()},
               {"generation", response.generation()},
               {"previous_valid_until", IsoTime(response.previous_valid_until_unix_ms())}});
  } else {
    std::printf("task %s: new token %s (generation %lld); the old one works until %s\n", response.task().c_str(),
                response.token().c_str(), static_cast<long long>(response.generation()),
                IsoTime(response.previous_valid_until_unix_ms()).c_str());
  }
  return 0;
}

}  // namespace

Runner AddAuthCommands(CLI::App& app) {
  auto args = std::make_shared<TokenArgs>();
  CLI::App* token = app.add_subcommand("token", "task tokens: rotate");
  CLI::App* rotate = token->add_subcommand("rotate", "issue a new bearer token for a task; the old one stops "
                                                     "working after a grace period");
  token->require_subcommand(1);
  rotate->add_option("--coordinator", args->coordinator, "coordinator address")->required();
  AddTlsFlags(rotate, &args->tls, false);
  rotate->add_flag("--json", args->json, "print one JSON object as the last stdout line");
  rotate->add_option("--task", args->task, "task name")->required();
  rotate->add_option("--grace-s", args->grace_s, "the old token keeps working this long (default: the coordinator's "
                                                 "--token-grace-s, 60 s)");
  return [args, rotate]() -> int {
    if (rotate->parsed()) return Rotate(*args);
    return -1;
  };
}

}  // namespace mliot::cli
