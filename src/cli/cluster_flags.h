// Flags shared by the cluster commands: TLS files and the coordinator
// address, plus the stop signal for long-running roles.
#ifndef MLIOT_CLI_CLUSTER_FLAGS_H_
#define MLIOT_CLI_CLUSTER_FLAGS_H_

#include <atomic>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/grpc_util.h"

namespace CLI {
class App;
}

namespace mliot::cli {

// Adds --tls-cert, --tls-key, --tls-ca (and --require-client-cert when
// `server`) to `cmd`, writing into `tls`.
void AddTlsFlags(CLI::App* cmd, TlsOptions* tls, bool server);

// SIGINT/SIGTERM set the returned flag (installed once).
std::atomic<bool>& StopOnSignal();

// "k=v,k2=v2" -> map; errors name the bad item.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const std::string& text);

// Binding a plaintext server beyond loopback is refused: an error naming
// the flag. Prints what protects a loopback plaintext server (tokens).
absl::Status CheckPlaintextBind(const std::string& listen, const TlsOptions& tls, const std::string& role);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_CLUSTER_FLAGS_H_
