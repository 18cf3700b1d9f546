// Who may call what: the one table of every RPC mliot serves, and the
// identities a call can carry. `authorizer.h` enforces it for every server;
// no handler checks credentials itself. docs/SECURITY.md explains the model.
//
//   const MethodRule* rule = FindRule("/mliot.v1.Coordinator/Submit");
//   rule->roles & kAdmin;   // non-zero: an admin may call it
#ifndef MLIOT_AUTH_ROLES_H_
#define MLIOT_AUTH_ROLES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mliot::auth {

// The roles, as bits so that a rule can allow several.
enum Role : uint32_t {
  kNoRole = 0,
  kAdmin = 1 << 0,        // the operator: DATA_DIR/admin.token or a certificate `mliot:admin`
  kJoin = 1 << 1,         // a machine that holds the join token: may register a node, nothing else
  kNode = 1 << 2,         // node NAME: its node credential or a certificate `mliot:node:NAME`
  kClient = 1 << 3,       // client of task T: T's bearer token
  kCoordinator = 1 << 4,  // the coordinator calling a node: the node's wake token or `mliot:coordinator`
  kAnyone = 1 << 5,       // no credential needed (health checks)
};

// Who a call comes from, once its credential is checked.
struct Identity {
  Role role = kNoRole;
  std::string name;  // kNode: the node; kClient: the task; otherwise empty
  std::string Describe() const;  // "admin", "node edge-1", "client of task t", "anonymous"
};

// What part of the request a call's right depends on, beyond its role.
enum class Scope {
  kNone,          // the role is enough
  kTaskField,     // the request's `field` names a task: a node must have it placed on it, a client must hold its token
  kNodeField,     // the request's `field` names a node: a node may only name itself
  kTaskMetadata,  // the `mliot-task` request metadata names a task (as kTaskField)
};

struct MethodRule {
  std::string_view method;  // "/package.Service/Method"
  uint32_t roles = 0;       // Role bits allowed to call it
  Scope scope = Scope::kNone;
  std::string_view field;   // kTaskField/kNodeField: dotted path of a string field
  bool audited = false;     // logged on every call (admin actions)
};

// Every RPC of every service mliot serves. A method not listed is refused.
const std::vector<MethodRule>& Rules();
// nullptr when `method` is not in the table.
const MethodRule* FindRule(std::string_view method);
// "admin|node" for the bits set.
std::string RoleNames(uint32_t roles);

}  // namespace mliot::auth

#endif  // MLIOT_AUTH_ROLES_H_
