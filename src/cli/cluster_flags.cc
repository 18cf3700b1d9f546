#include "cli/cluster_flags.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mliot::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

}  // namespace

void AddTlsFlags(CLI::App* cmd, TlsOptions* tls, bool server) {
  cmd->add_option("--tls-cert", tls->cert, "PEM certificate (chain) of this process");
  cmd->add_option("--tls-key", tls->key, "PEM private key");
  cmd->add_option("--tls-ca", tls->ca, "PEM CA bundle that signs the peers");
  if (server) cmd->add_flag("--require-client-cert", tls->require_client_cert, "mutual TLS: refuse clients without a certificate");
  if (!server) {
    cmd->add_option("--admin-token-file", tls->admin_token_file,
                    "the coordinator's admin.token (default: $MLIOT_ADMIN_TOKEN_FILE, else .mliot/admin.token)");
  }
}

std::atomic<bool>& StopOnSignal() {
  static bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)installed;
  return g_stop;
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& text) {
  std::map<std::string, std::string> labels;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--labels: '", std::string(item), "' is not key=value"));
    }
    labels[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
  }
  return labels;
}

absl::Status CheckPlaintextBind(const std::string& listen, const TlsOptions& tls, const std::string& role) {
  if (tls.enabled()) return absl::OkStatus();
  const std::string host = listen.substr(0, listen.rfind(':'));
  if (host != "127.0.0.1" && host != "localhost" && host != "[::1]") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", listen, ": without --tls-cert/--tls-key the ", role,
        " only binds loopback (127.0.0.1); give certificates to listen on other addresses"));
  }
  std::fprintf(stderr,
               "%s: plaintext on %s, loopback only (give --tls-cert/--tls-key/--tls-ca for TLS); every call needs a "
               "token: admin.token for the operator, join.token for nodes, a task's token for its clients\n",
               role.c_str(), listen.c_str());
  return absl::OkStatus();
}

}  // namespace mliot::cli
