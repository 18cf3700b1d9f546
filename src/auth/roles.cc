#include "auth/roles.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mliot::auth {

std::string Identity::Describe() const {
  switch (role) {
    case kAdmin: return "admin";
    case kJoin: return "join token";
    case kNode: return absl::StrCat("node ", name);
    case kClient: return absl::StrCat("client of task ", name);
    case kCoordinator: return "coordinator";
    default: return "anonymous";
  }
}

const std::vector<MethodRule>& Rules() {
  // The reviewed table. Keep it sorted by service; docs/SECURITY.md prints it.
  static const std::vector<MethodRule> rules = {
      // Coordinator: nodes.
      {"/mliot.v1.Coordinator/RegisterNode", kJoin | kNode, Scope::kNodeField, "info.name"},
      {"/mliot.v1.Coordinator/Heartbeat", kNode, Scope::kNodeField, "node"},
      {"/mliot.v1.Coordinator/UploadBundle", kNode, Scope::kTaskMetadata, ""},
      {"/mliot.v1.Coordinator/DownloadBundle", kNode | kAdmin, Scope::kTaskField, "task"},
      {"/mliot.v1.Coordinator/DownloadData", kNode | kAdmin, Scope::kTaskField, "task"},
      // Coordinator: the operator.
      {"/mliot.v1.Coordinator/Submit", kAdmin, Scope::kNone, "", true},
      {"/mliot.v1.Coordinator/ListNodes", kAdmin},
      {"/mliot.v1.Coordinator/ListTasks", kAdmin},
      {"/mliot.v1.Coordinator/GetTask", kAdmin | kClient, Scope::kTaskField, "task"},
      {"/mliot.v1.Coordinator/Cancel", kAdmin, Scope::kNone, "", true},
      {"/mliot.v1.Coordinator/ListVersions", kAdmin},
      {"/mliot.v1.Coordinator/Rollback", kAdmin, Scope::kNone, "", true},
      {"/mliot.v1.Coordinator/Pin", kAdmin, Scope::kNone, "", true},
      {"/mliot.v1.Coordinator/RotateToken", kAdmin, Scope::kNone, "", true},
      {"/mliot.v1.Coordinator/RevokeNode", kAdmin, Scope::kNone, "", true},
      // Node: called by the coordinator only.
      {"/mliot.v1.Node/Health", kCoordinator},
      {"/mliot.v1.Node/Wake", kCoordinator},
      // Serving worker: the clients of its one task.
      {"/mliot.v1.Serving/Predict", kClient},
      {"/mliot.v1.Serving/PredictStream", kClient},
      {"/mliot.v1.Serving/Feedback", kClient},
      {"/mliot.v1.Serving/Health", kClient},
      // The Open Inference Protocol's gRPC service on a node's or the
      // coordinator's front end: it holds no credential and grants nothing;
      // each call's bearer token travels on to the task's serving worker,
      // whose own authorizer checks it against the Serving rules above.
      {"/inference.GRPCInferenceService/ServerLive", kAnyone},
      {"/inference.GRPCInferenceService/ServerReady", kAnyone},
      {"/inference.GRPCInferenceService/ServerMetadata", kAnyone},
      {"/inference.GRPCInferenceService/ModelReady", kAnyone},
      {"/inference.GRPCInferenceService/ModelMetadata", kAnyone},
      {"/inference.GRPCInferenceService/ModelInfer", kAnyone},
      // gRPC's own health service, for supervisors.
      {"/grpc.health.v1.Health/Check", kAnyone},
      {"/grpc.health.v1.Health/Watch", kAnyone},
  };
  return rules;
}

const MethodRule* FindRule(std::string_view method) {
  // Asked on every call of every server: a hash lookup, built once.
  static const auto* by_method = [] {
    auto* m = new absl::flat_hash_map<absl::string_view, const MethodRule*>();
    for (const MethodRule& rule : Rules()) (*m)[absl::string_view(rule.method.data(), rule.method.size())] = &rule;
    return m;
  }();
  auto it = by_method->find(absl::string_view(method.data(), method.size()));
  return it == by_method->end() ? nullptr : it->second;
}

std::string RoleNames(uint32_t roles) {
  std::vector<std::string> names;
  if (roles & kAdmin) names.push_back("admin");
  if (roles & kJoin) names.push_back("join");
  if (roles & kNode) names.push_back("node");
  if (roles & kClient) names.push_back("client");
  if (roles & kCoordinator) names.push_back("coordinator");
  if (roles & kAnyone) names.push_back("anyone");
  return absl::StrJoin(names, "|");
}

}  // namespace mliot::auth
