#include "common/grpc_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "auth/secrets.h"
#include "common/status_util.h"

namespace mliot {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = absl::StrCat(path, ".tmp-", getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return absl::UnavailableError(absl::StrCat(tmp, ": cannot write"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(path, ": rename failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsOptions& tls) {
  // Plaintext: loopback peers only (gRPC's local credentials), which also
  // lets the auth processor (auth/authorizer.h) run on every call.
  if (!tls.enabled()) return grpc::experimental::LocalServerCredentials(LOCAL_TCP);
  if (tls.cert.empty() || tls.key.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls-cert and --tls-key");
  }
  MLIOT_RETURN_IF_ERROR(auth::CheckPrivateFile(tls.key));
  grpc::SslServerCredentialsOptions options(
      tls.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  MLIOT_ASSIGN_OR_RETURN(std::string cert, ReadFile(tls.cert));
  MLIOT_ASSIGN_OR_RETURN(std::string key, ReadFile(tls.key));
  options.pem_key_cert_pairs.push_back({key, cert});
  if (!tls.ca.empty()) {
    MLIOT_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls.ca));
  } else if (tls.require_client_cert) {
    return absl::InvalidArgumentError("--require-client-cert needs --tls-ca to verify clients");
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsOptions& tls) {
  if (!tls.enabled()) return grpc::experimental::LocalCredentials(LOCAL_TCP);
  grpc::SslCredentialsOptions options;
  if (!tls.ca.empty()) {
    MLIOT_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls.ca));
  }
  if (!tls.cert.empty()) {
    MLIOT_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadFile(tls.cert));
    if (tls.key.empty()) return absl::InvalidArgumentError("--tls-cert needs --tls-key");
    MLIOT_RETURN_IF_ERROR(auth::CheckPrivateFile(tls.key));
    MLIOT_ASSIGN_OR_RETURN(options.pem_private_key, ReadFile(tls.key));
  }
  return grpc::SslCredentials(options);
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetMaxReceiveMessageSize(64 << 20);
  return args;
}

grpc::ChannelArguments CoordinatorChannelArguments() {
  grpc::ChannelArguments args = DefaultChannelArguments();
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return args;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address, const TlsOptions& tls,
                                                           const grpc::ChannelArguments& args,
                                                           const std::string& bearer) {
  MLIOT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds, ChannelCredentials(tls));
  if (!bearer.empty()) creds = grpc::CompositeChannelCredentials(creds, grpc::AccessTokenCredentials(bearer));
  return grpc::CreateCustomChannel(address, creds, args);
}

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool LoopbackAccepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string BearerValue(const std::string& token) { return absl::StrCat("Bearer ", token); }


}  // namespace mliot
