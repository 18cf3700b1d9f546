// Unit tests of src/auth/: digests against published vectors, secret files
// and their modes, the token-hash file, the role table, and the authorizer
// on a real loopback gRPC server (the Node service with a stub handler).
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "auth/authorizer.h"
#include "auth/credentials.h"
#include "auth/roles.h"
#include "auth/secrets.h"
#include "auth/token_set.h"
#include "common/grpc_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "mliot/v1/node.grpc.pb.h"

namespace mliot::auth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "/auth_test_XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

mode_t Mode(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(SecretsTest, DigestsMatchPublishedVectors) {
  // FIPS 180-2 "abc"; RFC 4231 test case 2.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(RandomHex(20).size(), 40u);
  EXPECT_NE(RandomHex(), RandomHex());
}

TEST(SecretsTest, ConstantTimeEqualsComparesContents) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(SecretsTest, SecretFilesAreMadeOnceWithMode0600AndRefusedWhenOpen) {
  TempDir dir;
  const std::string path = dir.path() + "/admin.token";
  absl::StatusOr<std::string> first = ReadOrCreateSecretFile(path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(Mode(path), 0600u);
  absl::StatusOr<std::string> again = ReadOrCreateSecretFile(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  chmod(path.c_str(), 0644);
  absl::StatusOr<std::string> open = ReadSecretFile(path);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(open.status().message(), HasSubstr(path));
  EXPECT_THAT(open.status().message(), HasSubstr("0644"));
  std::ofstream(dir.path() + "/empty") << "\n";
  chmod((dir.path() + "/empty").c_str(), 0600);
  EXPECT_EQ(ReadSecretFile(dir.path() + "/empty").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecretsTest, CoordinatorSecretsDeriveStableDistinctTokens) {
  TempDir dir;
  absl::StatusOr<CoordinatorSecrets> s = CoordinatorSecrets::Load(dir.path() + "/data", dir.path());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Mode(dir.path() + "/admin.token"), 0600u);
  EXPECT_EQ(Mode(dir.path() + "/join.token"), 0600u);
  EXPECT_EQ(Mode(dir.path() + "/data/secret.key"), 0600u);
  EXPECT_EQ(Mode(dir.path() + "/data"), 0700u);
  EXPECT_NE(s->TaskToken("a", 1), s->TaskToken("a", 2));
  EXPECT_NE(s->TaskToken("a", 1), s->TaskToken("b", 1));
  EXPECT_NE(s->WakeToken("x"), s->WakeToken("y"));
  absl::StatusOr<CoordinatorSecrets> reloaded = CoordinatorSecrets::Load(dir.path() + "/data", dir.path());
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(s->TaskToken("a", 1), reloaded->TaskToken("a", 1));
  EXPECT_EQ(s->admin_sha256(), reloaded->admin_sha256());
  EXPECT_NE(s->admin_sha256(), s->join_sha256());
}

TEST(TokenSetTest, ParsesAndNamesTheBadLine) {
  const std::string h(64, 'a');
  absl::StatusOr<std::vector<TokenHash>> ok = ParseTokenHashes(h + " 0\n\n" + h + " 123\n");
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[1].valid_until_unix_ms, 123);
  absl::StatusOr<std::vector<TokenHash>> bad = ParseTokenHashes(h + " 0\nshort 1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("line 2"));
  EXPECT_EQ(FormatTokenHashes(*ok), h + " 0\n" + h + " 123\n");
}

TEST(TokenSetTest, AcceptsListedUnexpiredHashesAndReloadsTheFile) {
  TempDir dir;
  const std::string path = dir.path() + "/tokens";
  TokenSet set(path);
  EXPECT_FALSE(set.Contains(Sha256Hex("t1")));  // no file: nobody
  const int64_t past = 1000;
  ASSERT_TRUE(WritePrivateFile(path, FormatTokenHashes({{Sha256Hex("t1"), 0}, {Sha256Hex("old"), past}})).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // re-read at most once a second
  EXPECT_TRUE(set.Contains(Sha256Hex("t1")));
  EXPECT_FALSE(set.Contains(Sha256Hex("old")));  // expired
  EXPECT_FALSE(set.Contains(Sha256Hex("t2")));
}

TEST(RolesTest, EveryRpcOfEveryServiceIsInTheTable) {
  std::set<std::string> methods;
  for (const char* name : {"mliot.v1.Coordinator", "mliot.v1.Node", "mliot.v1.Serving"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;  // Serving is linked in the integration test
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = "/" + service->full_name() + "/" + service->method(i)->name();
      const MethodRule* rule = FindRule(method);
      ASSERT_NE(rule, nullptr) << method;
      EXPECT_NE(rule->roles, 0u) << method;
    }
  }
  EXPECT_EQ(FindRule("/mliot.v1.Coordinator/Nope"), nullptr);
  EXPECT_EQ(RoleNames(kAdmin | kNode), "admin|node");
}

// The authorizer on a real server: the Node service, whose handlers count
// the calls that reach them.
class CountingNode final : public v1::Node::Service {
 public:
  grpc::Status Health(grpc::ServerContext* ctx, const v1::NodeHealthRequest*, v1::NodeHealthResponse*) override {
    ++health;
    who = Authorizer::CallerOf(*ctx);
    return grpc::Status::OK;
  }
  grpc::Status Wake(grpc::ServerContext*, const v1::WakeRequest*, v1::WakeResponse*) override {
    ++wake;
    return grpc::Status::OK;
  }
  std::atomic<int> health{0}, wake{0};
  Identity who;
};

TEST(AuthorizerTest, RefusesBeforeTheHandlerAndTellsTheHandlerWhoCalled) {
  CountingNode service;
  std::vector<std::string> audit;
  std::mutex audit_mu;
  AuthorizerOptions o;
  o.lookup = [](const std::string& sha) -> std::optional<Identity> {
    if (sha == Sha256Hex("coord")) return Identity{kCoordinator, ""};
    if (sha == Sha256Hex("admin")) return Identity{kAdmin, ""};
    return std::nullopt;
  };
  o.audit = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(audit_mu);
    audit.push_back(line);
  };
  Authorizer authorizer(o);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(TlsOptions{});
  ASSERT_TRUE(creds.ok());
  grpc::ServerBuilder builder;
  authorizer.Install(**creds, builder);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", *creds, &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto call = [&](const std::string& bearer) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> ch = MakeChannel(address, TlsOptions{}, DefaultChannelArguments(), bearer);
    grpc::ClientContext ctx;
    v1::NodeHealthResponse response;
    return v1::Node::NewStub(*ch)->Health(&ctx, v1::NodeHealthRequest(), &response);
  };
  EXPECT_EQ(call("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status admin = call("admin");
  EXPECT_EQ(admin.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(admin.error_message(), HasSubstr("coordinator"));
  EXPECT_EQ(service.health.load(), 0);  // no refused call reached the handler
  EXPECT_TRUE(call("coord").ok());
  EXPECT_EQ(service.health.load(), 1);
  EXPECT_EQ(service.who.role, kCoordinator);
  EXPECT_EQ(authorizer.refused(), 3);
  std::unique_lock<std::mutex> lock(audit_mu);
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_THAT(audit[2], HasSubstr("refused /mliot.v1.Node/Health from admin"));
  audit.clear();
  lock.unlock();
  // The same refusal again and again (a revoked node retrying): counted every
  // time, written once per 10 s.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(call("admin").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(authorizer.refused(), 8);
  lock.lock();
  EXPECT_TRUE(audit.empty()) << audit.front();
  server->Shutdown();
}

}  // namespace
}  // namespace mliot::auth
