// gRPC at the edges: absl::Status <-> grpc::Status (1:1 codes), channel and
// server credentials from TLS flags, and the bearer-token check.
#ifndef MLIOT_COMMON_GRPC_UTIL_H_
#define MLIOT_COMMON_GRPC_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mliot {

grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// TLS configuration shared by every server and client. With no files set,
// channels are plaintext (the embedded default, loopback only). A private
// key readable by group or others is refused, naming the file.
struct TlsOptions {
  std::string cert;  // PEM certificate chain of this process
  std::string key;   // PEM private key
  std::string ca;    // PEM CA bundle that signs the peers
  bool require_client_cert = false;  // servers: mutual TLS
  // Clients: the file holding the admin token (auth/roles.h); see
  // cli::AdminToken for where it is looked for when empty.
  std::string admin_token_file;
  bool enabled() const { return !cert.empty() || !ca.empty(); }
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsOptions& tls);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsOptions& tls);

// The arguments every mliot channel uses: keep-alive on, so a dead peer is
// noticed, bounded reconnect back-off, 64 MiB messages.
grpc::ChannelArguments DefaultChannelArguments();
// A node's channel to the coordinator: the default arguments without BDP
// probing, whose pings would otherwise follow most of the 1 Hz heartbeats
// of a fresh connection (measured: docs/BENCHMARKS.md, Scheduler).
// Downloads from the coordinator keep HTTP/2's default 64 KiB window.
grpc::ChannelArguments CoordinatorChannelArguments();

// A channel to `address` with the given TLS options and `args`; with a
// `bearer` token, every call on it carries `authorization: Bearer TOKEN`
// (the caller's credential, auth/roles.h). Plaintext channels reach
// loopback servers only (gRPC's local credentials). Channels
// with equal arguments to one address share one connection (gRPC's global
// subchannel pool); set GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL for a channel's
// own connection.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address, const TlsOptions& tls,
                                                           const grpc::ChannelArguments& args = DefaultChannelArguments(),
                                                           const std::string& bearer = "");

// The metadata key of a caller's credential (checked by auth/authorizer.h).
inline constexpr char kAuthorization[] = "authorization";
std::string BearerValue(const std::string& token);

// Reads a whole file; NotFound naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes `path` atomically (temporary file + rename).
absl::Status WriteFileAtomically(const std::string& path, const std::string& content);

// A loopback TCP port that was free a moment ago (tests and benchmarks).
int FreeLoopbackPort();
// Whether something accepts TCP connections on 127.0.0.1:port now.
bool LoopbackAccepts(int port);

}  // namespace mliot

#endif  // MLIOT_COMMON_GRPC_UTIL_H_
