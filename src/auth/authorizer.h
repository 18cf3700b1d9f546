// The one enforcement point of the role table (roles.h) for a gRPC server:
// an AuthMetadataProcessor that turns each call's credential into an
// Identity and checks the method's role (and a scope carried in metadata)
// before any handler runs, and a server interceptor that checks the scopes
// that live in the request message (a task or node named in a field). A
// denied call is answered UNAUTHENTICATED (no or unknown credential) or
// PERMISSION_DENIED, and written to the audit log with identity, method and
// task; so are admin actions.
//
// The credential is a certificate's URI SAN (`mliot:admin`,
// `mliot:coordinator`, `mliot:node:NAME`) under mutual TLS, otherwise an
// `authorization: Bearer TOKEN` header whose SHA-256 the server looks up.
// Without TLS the server takes loopback connections only (gRPC's local
// credentials), which is also what lets call credentials travel in the clear.
//
//   auth::Authorizer authorizer(options);
//   MLIOT_ASSIGN_OR_RETURN(auto creds, ServerCredentials(tls));
//   grpc::ServerBuilder builder;
//   authorizer.Install(*creds, builder);        // before AddListeningPort
//   builder.AddListeningPort(address, creds);
#ifndef MLIOT_AUTH_AUTHORIZER_H_
#define MLIOT_AUTH_AUTHORIZER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/roles.h"

namespace mliot::auth {

struct AuthorizerOptions {
  // The identity a bearer token stands for, given the token's SHA-256 in
  // hex; nullopt when no credential has that hash (or it expired).
  std::function<std::optional<Identity>(const std::string& token_sha256)> lookup;
  // Whether task `task` is placed on node `node` now (the Node-authorizer
  // rule). Unset: no node may act on any task.
  std::function<bool(const std::string& node, const std::string& task)> node_has_task;
  // Whether node `node`'s credentials were revoked. Unset: none is.
  std::function<bool(const std::string& node)> node_revoked;
  // Refused calls and admin actions, one line each. Unset: not written.
  std::function<void(const std::string& line)> audit;
  // Run the checks on gRPC's executor rather than the transport thread
  // (set when `lookup` may wait on a lock held across disk writes).
  bool blocking = false;
};

class Authorizer {
 public:
  explicit Authorizer(AuthorizerOptions options);
  ~Authorizer();

  // Sets the processor on `credentials` and the interceptor on `builder`.
  void Install(grpc::ServerCredentials& credentials, grpc::ServerBuilder& builder);

  // The identity the processor attached to a call (for handlers that act on
  // who called, e.g. RegisterNode issuing a credential). kNoRole if none.
  static Identity CallerOf(const grpc::ServerContextBase& context);

  // Counts since start (tests, logs).
  int64_t refused() const;

  class State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mliot::auth

#endif  // MLIOT_AUTH_AUTHORIZER_H_
