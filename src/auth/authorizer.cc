#include "auth/authorizer.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "auth/secrets.h"

namespace mliot::auth {
namespace {

constexpr char kIdentityProperty[] = "mliot-identity";
// What a denied request's scoped field is replaced with before its handler
// runs: no task or node can have this name (names are validated where they
// are made), so the handler finds nothing to act on, and the interceptor
// replaces its answer with PERMISSION_DENIED.
constexpr char kDeniedName[] = "\x01permission-denied";

std::string View(const grpc::string_ref& s) { return std::string(s.data(), s.size()); }

// The string field at dotted `path` in `message` (sub-messages created on
// the way, as a mutable access does); nullopt when the message has no such
// field (a table error: the rule names a field the request lacks).
struct StringField {
  google::protobuf::Message* message;
  const google::protobuf::FieldDescriptor* field;
  std::string Get() const { return message->GetReflection()->GetString(*message, field); }
  void Set(const std::string& value) const { message->GetReflection()->SetString(message, field, value); }
};

std::optional<StringField> FindStringField(google::protobuf::Message* message, std::string_view path) {
  google::protobuf::Message* m = message;
  const std::vector<std::string> parts = absl::StrSplit(std::string(path), '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const google::protobuf::FieldDescriptor* field = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (field == nullptr || field->is_repeated()) return std::nullopt;
    if (i + 1 == parts.size()) {
      if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) return std::nullopt;
      return StringField{m, field};
    }
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) return std::nullopt;
    m = m->GetReflection()->MutableMessage(m, field);
  }
  return std::nullopt;
}

// Whether calls of `rule` need the interceptor: a scope in the message, or an audit line.
bool ChecksMessage(const MethodRule& rule) {
  return rule.scope == Scope::kTaskField || rule.scope == Scope::kNodeField || rule.audited;
}

}  // namespace

class Authorizer::State {
 public:
  explicit State(AuthorizerOptions o) : o_(std::move(o)) {}

  const AuthorizerOptions& options() const { return o_; }

  void Audit(const std::string& line) {
    if (o_.audit) o_.audit(line);
  }
  // Every refusal is counted; the same refusal (caller, method, reason) is
  // written at most once every kRepeatS seconds, with how many were left
  // out since, so a revoked node retrying every second does not flood the log.
  void Refused(const Identity& who, const std::string& method, const std::string& why) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    const std::string line = absl::StrCat("audit: refused ", method, " from ", who.Describe(), ": ", why);
    const auto now = std::chrono::steady_clock::now();
    int64_t left_out = 0;
    {
      absl::MutexLock lock(&repeat_mu_);
      if (repeats_.size() > 10000) repeats_.clear();  // bounded: a flood of distinct refusals forgets the oldest
      Repeat& r = repeats_[line];
      if (r.logged_at != std::chrono::steady_clock::time_point{} && now - r.logged_at < kRepeat) {
        ++r.left_out;
        return;
      }
      left_out = r.left_out;
      r = Repeat{now, 0};
    }
    Audit(left_out == 0 ? line : absl::StrCat(line, " (and ", left_out, " more like it since the last line)"));
  }
  int64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // Whether `who` may act on task `task` (rules with a task scope).
  bool MayUseTask(const Identity& who, const std::string& task) const {
    switch (who.role) {
      case kAdmin: return true;
      case kClient: return task == who.name;
      case kNode: return o_.node_has_task && o_.node_has_task(who.name, task);
      default: return false;
    }
  }
  // Whether `who` may name node `node` (rules with a node scope).
  bool MayUseNode(const Identity& who, const std::string& node) const {
    if (who.role == kAdmin) return true;
    if (who.role == kNode) return node == who.name;
    if (who.role == kJoin) return !node.empty() && !(o_.node_revoked && o_.node_revoked(node));
    return false;
  }

 private:
  static constexpr std::chrono::seconds kRepeat{10};
  struct Repeat {
    std::chrono::steady_clock::time_point logged_at;
    int64_t left_out = 0;
  };

  AuthorizerOptions o_;
  std::atomic<int64_t> refused_{0};
  absl::Mutex repeat_mu_;
  absl::flat_hash_map<std::string, Repeat> repeats_ ABSL_GUARDED_BY(repeat_mu_);
};

namespace {

// Identity from a verified client certificate's URI SANs.
std::optional<Identity> FromCertificate(const grpc::AuthContext& context) {
  for (const grpc::string_ref& value : context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    const std::string uri = View(value);
    if (uri == "mliot:admin") return Identity{kAdmin, ""};
    if (uri == "mliot:coordinator") return Identity{kCoordinator, ""};
    if (absl::StartsWith(uri, "mliot:node:") && uri.size() > 11) return Identity{kNode, uri.substr(11)};
  }
  return std::nullopt;
}

class Processor final : public grpc::AuthMetadataProcessor {
 public:
  explicit Processor(std::shared_ptr<Authorizer::State> state) : state_(std::move(state)) {}

  bool IsBlocking() const override { return state_->options().blocking; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context, OutputMetadata*,
                       OutputMetadata*) override {
    std::string method;
    if (auto it = metadata.find(":path"); it != metadata.end()) method = View(it->second);
    const MethodRule* rule = FindRule(method);
    Identity who;
    bool presented = false;
    if (std::optional<Identity> cert = FromCertificate(*context)) {
      who = *cert;
      presented = true;
      if (who.role == kNode && state_->options().node_revoked && state_->options().node_revoked(who.name)) {
        state_->Refused(who, method, "its credentials are revoked");
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            absl::StrCat("node ", who.name, "'s credentials are revoked"));
      }
    } else if (auto it = metadata.find("authorization"); it != metadata.end()) {
      presented = true;
      const std::string value = View(it->second);
      if (!absl::StartsWith(value, "Bearer ")) {
        state_->Refused(who, method, "an authorization header that is not 'Bearer TOKEN'");
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the authorization header must be 'Bearer TOKEN'");
      }
      std::optional<Identity> found =
          state_->options().lookup ? state_->options().lookup(Sha256Hex(value.substr(7))) : std::nullopt;
      if (found) who = *found;
    }
    if (rule == nullptr) {
      state_->Refused(who, method, "the method is not in the role table");
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, absl::StrCat(method, " is not in the role table"));
    }
    if (rule->roles & kAnyone) return grpc::Status::OK;
    if (who.role == kNoRole) {
      const std::string why = presented ? "an unknown, expired or revoked token" : "no credential";
      state_->Refused(who, method, why);
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          absl::StrCat(method, ": ", why,
                                       presented ? "" : " (send 'authorization: Bearer TOKEN'; the mliot command "
                                                        "reads --admin-token-file or MLIOT_ADMIN_TOKEN_FILE)"));
    }
    if ((rule->roles & who.role) == 0) {
      const std::string why = absl::StrCat("it needs ", RoleNames(rule->roles));
      state_->Refused(who, method, why);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat(method, " is not allowed to ", who.Describe(), ": ", why));
    }
    if (rule->scope == Scope::kTaskMetadata) {
      auto it = metadata.find("mliot-task");
      const std::string task = it == metadata.end() ? "" : View(it->second);
      if (!state_->MayUseTask(who, task)) {
        const std::string why = absl::StrCat("task '", task, "' is not placed on it");
        state_->Refused(who, method, why);
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            absl::StrCat(method, " is not allowed to ", who.Describe(), ": ", why));
      }
    }
    // One property, "ROLE NAME": the identity the interceptor and handlers read.
    context->AddProperty(kIdentityProperty, absl::StrCat(static_cast<uint32_t>(who.role), " ", who.name));
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<Authorizer::State> state_;
};

// Checks the scopes that live in the request message, and audits admin
// actions. One per call.
class ScopeInterceptor final : public grpc::experimental::Interceptor {
 public:
  ScopeInterceptor(grpc::experimental::ServerRpcInfo* info, Authorizer::State* state, const MethodRule* rule)
      : info_(info), state_(state), rule_(rule) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      CheckMessage(static_cast<google::protobuf::Message*>(methods->GetRecvMessage()));
    }
    if (!denied_.empty() && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      methods->ModifySendStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, denied_));
    }
    methods->Proceed();
  }

 private:
  void CheckMessage(google::protobuf::Message* message) {
    if (message == nullptr) return;
    const Identity who = Authorizer::CallerOf(*info_->server_context());
    if (rule_->scope == Scope::kTaskField || rule_->scope == Scope::kNodeField) {
      const std::optional<StringField> field = FindStringField(message, rule_->field);
      const std::string value = field ? field->Get() : "";
      const bool ok = field && (rule_->scope == Scope::kTaskField ? state_->MayUseTask(who, value)
                                                                   : state_->MayUseNode(who, value));
      if (!ok && denied_.empty()) {
        const std::string why = rule_->scope == Scope::kTaskField
                                    ? absl::StrCat("task '", value, "' is not ", who.role == kNode ? "placed on it" : "its own")
                                    : absl::StrCat("it may not act as node '", value, "'");
        denied_ = absl::StrCat(info_->method(), " is not allowed to ", who.Describe(), ": ", why);
        state_->Refused(who, info_->method(), why);
      }
      if (!denied_.empty() && field) field->Set(kDeniedName);
    }
    if (rule_->audited && denied_.empty() && !audited_) {
      audited_ = true;
      const std::optional<StringField> task = FindStringField(message, "task");
      const std::string name = task ? task->Get() : "";
      state_->Audit(absl::StrCat("audit: ", who.Describe(), " called ", info_->method(),
                                 name.empty() ? "" : absl::StrCat(" on task ", name)));
    }
  }

  grpc::experimental::ServerRpcInfo* info_;
  Authorizer::State* state_;
  const MethodRule* rule_;
  std::string denied_;
  bool audited_ = false;
};

class ScopeInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ScopeInterceptorFactory(std::shared_ptr<Authorizer::State> state) : state_(std::move(state)) {}
  // None for calls with nothing in their message to check (Predict, the
  // hot path, among them): gRPC then runs them without an interceptor.
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    const MethodRule* rule = FindRule(info->method());
    if (rule == nullptr || !ChecksMessage(*rule)) return nullptr;
    return new ScopeInterceptor(info, state_.get(), rule);
  }

 private:
  std::shared_ptr<Authorizer::State> state_;
};

}  // namespace

Authorizer::Authorizer(AuthorizerOptions options) : state_(std::make_shared<State>(std::move(options))) {}
Authorizer::~Authorizer() = default;

void Authorizer::Install(grpc::ServerCredentials& credentials, grpc::ServerBuilder& builder) {
  credentials.SetAuthMetadataProcessor(std::make_shared<Processor>(state_));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<ScopeInterceptorFactory>(state_));
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

Identity Authorizer::CallerOf(const grpc::ServerContextBase& context) {
  Identity who;
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth) return who;
  std::vector<grpc::string_ref> values = auth->FindPropertyValues(kIdentityProperty);
  if (values.empty()) return who;
  const std::string value = View(values.back());
  const size_t space = value.find(' ');
  uint32_t role = 0;
  if (space == std::string::npos || !absl::SimpleAtoi(value.substr(0, space), &role)) return who;
  who.role = static_cast<Role>(role);
  who.name = value.substr(space + 1);
  return who;
}

int64_t Authorizer::refused() const { return state_->refused(); }

}  // namespace mliot::auth
