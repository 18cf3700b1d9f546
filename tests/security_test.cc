// Least privilege (src/auth/, docs/SECURITY.md), with real processes: every
// RPC of every service called with each identity, the answer checked
// against the role table written out again here (an independent copy, so a
// wrong entry in src/auth/roles.cc fails the test), over plaintext loopback
// and over mutual TLS; token rotation with its grace period; revocation;
// file modes under the data directories; a private key others can read.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"
#include "common/grpc_util.h"
#include "gtest/gtest.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "mliot/v1/node.grpc.pb.h"
#include "mliot/v1/serving.grpc.pb.h"

namespace mliot::testing {
namespace {

// Who calls: a bearer token and/or a client certificate (NAME.pem in the
// certificates directory).
struct Caller {
  std::string name;
  std::string bearer;
  std::string cert;
};

struct Endpoints {
  std::string coordinator, node_x, serving_a;
  TlsOptions tls_base;  // the CA, for TLS runs
};

std::string FirstLine(const std::string& path, int line = 0) {
  std::ifstream in(path);
  std::string s;
  for (int i = 0; i <= line; ++i) std::getline(in, s);
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One RPC, with the request it sends for a caller.
struct Call {
  std::string method;  // as in the role table
  std::function<grpc::Status(const Endpoints&, const Caller&, const std::string& certs)> run;
};

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address, const Endpoints& e, const Caller& c,
                                         const std::string& certs) {
  TlsOptions tls = e.tls_base;
  if (!c.cert.empty()) {
    tls.cert = certs + "/" + c.cert + ".pem";
    tls.key = certs + "/" + c.cert + ".key";
  }
  grpc::ChannelArguments args = DefaultChannelArguments();
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // each caller its own connection (its own certificate)
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address, tls, args);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

void Prepare(grpc::ClientContext& ctx, const Caller& c) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!c.bearer.empty()) ctx.AddMetadata(kAuthorization, BearerValue(c.bearer));
}

std::vector<Call> AllCalls(const v1::NodeInfo& x_info) {
  using CoordStub = v1::Coordinator::Stub;
  std::vector<Call> calls;
  calls.push_back({"/mliot.v1.Coordinator/RegisterNode", [x_info](const Endpoints& e, const Caller& c,
                                                                   const std::string& certs) {
                     v1::RegisterNodeRequest r;
                     *r.mutable_info() = x_info;
                     // The join token registers a newcomer (not X, whose credential it would replace).
                     if (c.name == "join") r.mutable_info()->set_name("newcomer");
                     auto channel = ChannelTo(e.coordinator, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     v1::RegisterNodeResponse p;
                     return v1::Coordinator::NewStub(channel)->RegisterNode(&ctx, r, &p);
                   }});
  auto simple = [&](const std::string& name, auto invoke, auto request) {
    calls.push_back({"/mliot.v1.Coordinator/" + name, [invoke, request](const Endpoints& e, const Caller& c,
                                                                       const std::string& certs) {
                       auto channel = ChannelTo(e.coordinator, e, c, certs);
                       grpc::ClientContext ctx;
                       Prepare(ctx, c);
                       return invoke(*v1::Coordinator::NewStub(channel), &ctx, request);
                     }});
  };
  {
    v1::HeartbeatRequest r;
    r.set_node("X");
    simple("Heartbeat", [](CoordStub& s, grpc::ClientContext* ctx, const v1::HeartbeatRequest& q) {
      v1::HeartbeatResponse p;
      return s.Heartbeat(ctx, q, &p);
    }, r);
  }
  calls.push_back({"/mliot.v1.Coordinator/UploadBundle", [](const Endpoints& e, const Caller& c,
                                                              const std::string& certs) {
                     auto channel = ChannelTo(e.coordinator, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     ctx.AddMetadata("mliot-task", "a");  // no version and no chunks: nothing is stored
                     v1::UploadBundleResponse p;
                     auto writer = v1::Coordinator::NewStub(channel)->UploadBundle(&ctx, &p);
                     writer->WritesDone();
                     return writer->Finish();
                   }});
  for (const std::string name : {"DownloadBundle", "DownloadData"}) {
    calls.push_back({"/mliot.v1.Coordinator/" + name, [name](const Endpoints& e, const Caller& c,
                                                              const std::string& certs) {
                       auto channel = ChannelTo(e.coordinator, e, c, certs);
                       grpc::ClientContext ctx;
                       Prepare(ctx, c);
                       v1::DownloadRequest r;
                       r.set_task("a");
                       r.set_name("train.csv");
                       r.set_version(1);
                       auto stub = v1::Coordinator::NewStub(channel);
                       auto reader = name == "DownloadBundle" ? stub->DownloadBundle(&ctx, r) : stub->DownloadData(&ctx, r);
                       v1::FileChunk chunk;
                       while (reader->Read(&chunk)) {
                       }
                       return reader->Finish();
                     }});
  }
  {
    v1::SubmitRequest r;
    r.set_spec_yaml("name: x\n");  // invalid: refused after the permission check
    simple("Submit", [](CoordStub& s, grpc::ClientContext* ctx, const v1::SubmitRequest& q) {
      v1::SubmitResponse p;
      return s.Submit(ctx, q, &p);
    }, r);
  }
  simple("ListNodes", [](CoordStub& s, grpc::ClientContext* ctx, const v1::ListNodesRequest& q) {
    v1::ListNodesResponse p;
    return s.ListNodes(ctx, q, &p);
  }, v1::ListNodesRequest());
  simple("ListTasks", [](CoordStub& s, grpc::ClientContext* ctx, const v1::ListTasksRequest& q) {
    v1::ListTasksResponse p;
    return s.ListTasks(ctx, q, &p);
  }, v1::ListTasksRequest());
  {
    v1::GetTaskRequest r;
    r.set_task("a");
    simple("GetTask", [](CoordStub& s, grpc::ClientContext* ctx, const v1::GetTaskRequest& q) {
      v1::TaskInfo p;
      return s.GetTask(ctx, q, &p);
    }, r);
  }
  // The operator's actions name tasks and nodes that do not exist: allowed
  // means NOT_FOUND, and nothing changes.
  {
    v1::CancelRequest r;
    r.set_task("nope");
    simple("Cancel", [](CoordStub& s, grpc::ClientContext* ctx, const v1::CancelRequest& q) {
      v1::CancelResponse p;
      return s.Cancel(ctx, q, &p);
    }, r);
  }
  {
    v1::ListVersionsRequest r;
    r.set_task("a");
    simple("ListVersions", [](CoordStub& s, grpc::ClientContext* ctx, const v1::ListVersionsRequest& q) {
      v1::ListVersionsResponse p;
      return s.ListVersions(ctx, q, &p);
    }, r);
  }
  {
    v1::RollbackRequest r;
    r.set_task("nope");
    r.set_to(1);
    simple("Rollback", [](CoordStub& s, grpc::ClientContext* ctx, const v1::RollbackRequest& q) {
      v1::RollbackResponse p;
      return s.Rollback(ctx, q, &p);
    }, r);
  }
  {
    v1::PinRequest r;
    r.set_task("nope");
    r.set_version(1);
    simple("Pin", [](CoordStub& s, grpc::ClientContext* ctx, const v1::PinRequest& q) {
      v1::PinResponse p;
      return s.Pin(ctx, q, &p);
    }, r);
  }
  {
    v1::RotateTokenRequest r;
    r.set_task("nope");
    simple("RotateToken", [](CoordStub& s, grpc::ClientContext* ctx, const v1::RotateTokenRequest& q) {
      v1::RotateTokenResponse p;
      return s.RotateToken(ctx, q, &p);
    }, r);
  }
  {
    v1::RevokeNodeRequest r;
    r.set_name("ghost");
    simple("RevokeNode", [](CoordStub& s, grpc::ClientContext* ctx, const v1::RevokeNodeRequest& q) {
      v1::RevokeNodeResponse p;
      return s.RevokeNode(ctx, q, &p);
    }, r);
  }
  // Node X's endpoint.
  calls.push_back({"/mliot.v1.Node/Health", [](const Endpoints& e, const Caller& c, const std::string& certs) {
                     auto channel = ChannelTo(e.node_x, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     v1::NodeHealthResponse p;
                     return v1::Node::NewStub(channel)->Health(&ctx, v1::NodeHealthRequest(), &p);
                   }});
  calls.push_back({"/mliot.v1.Node/Wake", [](const Endpoints& e, const Caller& c, const std::string& certs) {
                     auto channel = ChannelTo(e.node_x, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     v1::WakeResponse p;
                     return v1::Node::NewStub(channel)->Wake(&ctx, v1::WakeRequest(), &p);
                   }});
  // Task a's serving worker.
  calls.push_back({"/mliot.v1.Serving/Predict", [](const Endpoints& e, const Caller& c, const std::string& certs) {
                     auto channel = ChannelTo(e.serving_a, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     v1::PredictRequest r;
                     r.set_task("a");
                     r.set_rows(1);
                     for (int i = 0; i < 4; ++i) r.add_features(0.5f);
                     v1::PredictResponse p;
                     return v1::Serving::NewStub(channel)->Predict(&ctx, r, &p);
                   }});
  calls.push_back({"/mliot.v1.Serving/PredictStream", [](const Endpoints& e, const Caller& c,
                                                          const std::string& certs) {
                     auto channel = ChannelTo(e.serving_a, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     auto stream = v1::Serving::NewStub(channel)->PredictStream(&ctx);
                     v1::PredictRequest r;
                     r.set_task("a");
                     r.set_rows(1);
                     for (int i = 0; i < 4; ++i) r.add_features(0.5f);
                     stream->Write(r);
                     stream->WritesDone();
                     v1::PredictResponse p;
                     while (stream->Read(&p)) {
                     }
                     return stream->Finish();
                   }});
  calls.push_back({"/mliot.v1.Serving/Feedback", [](const Endpoints& e, const Caller& c, const std::string& certs) {
                     auto channel = ChannelTo(e.serving_a, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     v1::FeedbackRequest r;  // no rows: accepted, nothing stored
                     r.set_task("a");
                     v1::FeedbackResponse p;
                     return v1::Serving::NewStub(channel)->Feedback(&ctx, r, &p);
                   }});
  calls.push_back({"/mliot.v1.Serving/Health", [](const Endpoints& e, const Caller& c, const std::string& certs) {
                     auto channel = ChannelTo(e.serving_a, e, c, certs);
                     grpc::ClientContext ctx;
                     Prepare(ctx, c);
                     v1::HealthResponse p;
                     return v1::Serving::NewStub(channel)->Health(&ctx, v1::HealthRequest(), &p);
                   }});
  return calls;
}

// The role table, written out again: which callers each method allows.
// (Callers: none, client_a, client_b, node_x [task a placed on it],
// node_y [not], revoked, join, admin, coordinator.)
const std::map<std::string, std::set<std::string>>& Allowed() {
  static const std::map<std::string, std::set<std::string>> allowed = {
      {"/mliot.v1.Coordinator/RegisterNode", {"node_x", "join"}},
      {"/mliot.v1.Coordinator/Heartbeat", {"node_x"}},
      {"/mliot.v1.Coordinator/UploadBundle", {"node_x"}},
      {"/mliot.v1.Coordinator/DownloadBundle", {"node_x", "admin"}},
      {"/mliot.v1.Coordinator/DownloadData", {"node_x", "admin"}},
      {"/mliot.v1.Coordinator/Submit", {"admin"}},
      {"/mliot.v1.Coordinator/ListNodes", {"admin"}},
      {"/mliot.v1.Coordinator/ListTasks", {"admin"}},
      {"/mliot.v1.Coordinator/GetTask", {"admin", "client_a"}},
      {"/mliot.v1.Coordinator/Cancel", {"admin"}},
      {"/mliot.v1.Coordinator/ListVersions", {"admin"}},
      {"/mliot.v1.Coordinator/Rollback", {"admin"}},
      {"/mliot.v1.Coordinator/Pin", {"admin"}},
      {"/mliot.v1.Coordinator/RotateToken", {"admin"}},
      {"/mliot.v1.Coordinator/RevokeNode", {"admin"}},
      {"/mliot.v1.Node/Health", {"coordinator"}},
      {"/mliot.v1.Node/Wake", {"coordinator"}},
      {"/mliot.v1.Serving/Predict", {"client_a"}},
      {"/mliot.v1.Serving/PredictStream", {"client_a"}},
      {"/mliot.v1.Serving/Feedback", {"client_a"}},
      {"/mliot.v1.Serving/Health", {"client_a"}},
  };
  return allowed;
}

bool IsDenial(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::PERMISSION_DENIED || s.error_code() == grpc::StatusCode::UNAUTHENTICATED;
}

// Every method of every service mliot serves has a row above, and a call below.
TEST(SecurityTest, TheMatrixCoversEveryRpc) {
  std::set<std::string> methods;
  for (const char* name : {"mliot.v1.Coordinator", "mliot.v1.Node", "mliot.v1.Serving"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(service, nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      methods.insert("/" + service->full_name() + "/" + service->method(i)->name());
    }
  }
  std::set<std::string> listed, called;
  for (const auto& [m, who] : Allowed()) listed.insert(m);
  for (const Call& c : AllCalls(v1::NodeInfo())) called.insert(c.method);
  EXPECT_EQ(methods, listed);
  EXPECT_EQ(methods, called);
}

class SecurityMatrix : public ::testing::TestWithParam<bool> {};

// Plaintext (tokens) and mutual TLS (certificates with mliot: URIs, tokens for clients).
TEST_P(SecurityMatrix, EveryRpcWithEveryIdentityAgreesWithTheRoleTable) {
  const bool mtls = GetParam();
  Cluster c(mtls ? "security-mtls" : "security");
  const std::string certs = c.dir() + "/certs";
  std::vector<std::string> coord_tls, node_tls_x, node_tls_y, node_tls_z;
  if (mtls) {
    const std::string script = std::string(MLIOT_SOURCE_DIR) + "/scripts/make-certs";
    ASSERT_EQ(std::system((script + " " + certs +
                           " coordinator=coordinator admin=admin X=node:X Y=node:Y Z=node:Z app >/dev/null 2>&1")
                              .c_str()),
              0);
    auto flags = [&](const std::string& name) {
      return std::vector<std::string>{"--tls-cert", certs + "/" + name + ".pem", "--tls-key", certs + "/" + name + ".key",
                                      "--tls-ca", certs + "/ca.pem", "--require-client-cert"};
    };
    coord_tls = flags("coordinator");
    node_tls_x = flags("X");
    node_tls_y = flags("Y");
    node_tls_z = flags("Z");
    c.set_client_tls({"--tls-cert", certs + "/admin.pem", "--tls-key", certs + "/admin.key", "--tls-ca",
                      certs + "/ca.pem"});
  }
  c.StartCoordinator(coord_tls);
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  c.StartNode("X", with({"--labels", "role=x"}, node_tls_x));
  c.StartNode("Y", with({"--labels", "role=y"}, node_tls_y));
  c.StartNode("Z", with({"--labels", "role=z"}, node_tls_z));
  ASSERT_TRUE(c.WaitNodes(3)) << c.Logs();
  // Z is revoked (and stopped, so that its retries do not fill the log).
  c.node("Z") = Process();
  const std::string z_token = FirstLine(c.dir() + "/Z/node.token");
  ASSERT_EQ(c.Mliot({"nodes", "revoke", "Z", "--json"}).exit_code, 0);

  const RunResult a = c.Mliot({"submit", c.WriteSpec("a", "  require: \"role == 'x'\"\n"), "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const RunResult b = c.Mliot({"submit", c.WriteSpec("b", "  require: \"role == 'y'\"\n"), "--json"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const std::string token_a = ParseLast(a).value("token", "");
  const std::string token_b = ParseLast(b).value("token", "");
  ASSERT_FALSE(token_a.empty()) << a.out;
  ASSERT_TRUE(c.WaitServing("a")) << c.Logs();
  ASSERT_TRUE(c.WaitServing("b")) << c.Logs();

  Endpoints e;
  e.coordinator = c.address();
  if (mtls) e.tls_base.ca = certs + "/ca.pem";
  const json nodes = ParseLast(c.Mliot({"nodes", "--json"}));
  v1::NodeInfo x_info;
  for (const json& n : nodes) {
    if (n.value("name", "") == "X") e.node_x = n.value("address", "");
  }
  ASSERT_FALSE(e.node_x.empty()) << nodes.dump();
  for (const json& t : ParseLast(c.Mliot({"tasks", "--json"}))) {
    if (t.value("name", "") == "a") e.serving_a = t.value("serving_address", "");
  }
  ASSERT_FALSE(e.serving_a.empty());
  // X's registration as it is (so re-registering changes nothing).
  x_info.set_name("X");
  x_info.set_address(e.node_x);
  x_info.set_cores(2);
  (*x_info.mutable_labels())["role"] = "x";

  const std::string admin = FirstLine(c.dir() + "/coord/admin.token");
  const std::string join = FirstLine(c.dir() + "/coord/join.token");
  const std::string x_token = FirstLine(c.dir() + "/X/node.token");
  const std::string y_token = FirstLine(c.dir() + "/Y/node.token");
  const std::string wake_x = FirstLine(c.dir() + "/X/node.token", 1);
  std::vector<Caller> callers;
  if (mtls) {
    callers = {{"none", "", "app"},          {"client_a", token_a, "app"}, {"client_b", token_b, "app"},
               {"node_x", "", "X"},          {"node_y", "", "Y"},          {"revoked", "", "Z"},
               {"join", join, "app"},        {"admin", "", "admin"},       {"coordinator", "", "coordinator"}};
  } else {
    callers = {{"none", "", ""},          {"client_a", token_a, ""}, {"client_b", token_b, ""},
               {"node_x", x_token, ""},   {"node_y", y_token, ""},   {"revoked", z_token, ""},
               {"join", join, ""},        {"admin", admin, ""},      {"coordinator", wake_x, ""}};
  }
  int checked = 0, wrongly_allowed = 0;
  for (const Call& call : AllCalls(x_info)) {
    const std::set<std::string>& allowed = Allowed().at(call.method);
    for (const Caller& who : callers) {
      const grpc::Status s = call.run(e, who, certs);
      ++checked;
      if (allowed.count(who.name)) {
        EXPECT_FALSE(IsDenial(s)) << call.method << " by " << who.name << ": " << s.error_code() << " "
                                  << s.error_message();
      } else {
        wrongly_allowed += !IsDenial(s);
        EXPECT_TRUE(IsDenial(s)) << call.method << " by " << who.name << " was not refused: " << s.error_code()
                                 << " " << s.error_message();
        if (who.name == "none") {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << call.method << ": " << s.error_message();
        }
      }
    }
  }
  EXPECT_EQ(wrongly_allowed, 0);
  // A's worker, asked by A's client about another task, answers NOT_FOUND,
  // never with A's model.
  {
    auto channel = ChannelTo(e.serving_a, e, callers[1], certs);
    grpc::ClientContext ctx;
    Prepare(ctx, callers[1]);
    v1::PredictRequest r;
    r.set_task("b");
    r.set_rows(1);
    for (int i = 0; i < 4; ++i) r.add_features(0.5f);
    v1::PredictResponse p;
    const grpc::Status s = v1::Serving::NewStub(channel)->Predict(&ctx, r, &p);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    EXPECT_EQ(p.predictions_size(), 0);
  }
  EXPECT_EQ(checked, static_cast<int>(Allowed().size() * callers.size()));
  // Every refusal is in the audit log, with who and what.
  const std::string log = c.coordinator().Log();
  EXPECT_NE(log.find("audit: refused /mliot.v1.Coordinator/Submit from client of task a"), std::string::npos);
  EXPECT_NE(log.find("audit: admin called /mliot.v1.Coordinator/Cancel on task nope"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(PlaintextAndMutualTls, SecurityMatrix, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "mtls" : "plaintext"; });

TEST(SecurityTest, RotatedTokenWorksDuringItsGraceThenIsRefused) {
  Cluster c("rotate");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  const RunResult submitted = c.Mliot({"submit", c.WriteSpec("fan", ""), "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string old_token = ParseLast(submitted).value("token", "");
  ASSERT_TRUE(c.WaitServing("fan")) << c.Logs();
  ASSERT_FALSE(c.Predict("fan", "test.csv", {"--token", old_token}).is_null()) << c.last_err();

  const RunResult rotated =
      RunMliot({"token", "rotate", "--coordinator", c.address(), "--task", "fan", "--grace-s", "4", "--json"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  const std::string new_token = ParseLast(rotated).value("token", "");
  ASSERT_FALSE(new_token.empty());
  EXPECT_NE(new_token, old_token);
  EXPECT_EQ(ParseLast(rotated).value("generation", 0), 2);
  // Both work during the grace period (the node hears of the new one at once).
  const auto start = Clock::now();
  json with_new;
  while (Since(start) < 3 && (with_new = c.Predict("fan", "test.csv", {"--token", new_token})).is_null()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(with_new.is_null()) << c.last_err();
  EXPECT_FALSE(c.Predict("fan", "test.csv", {"--token", old_token}).is_null()) << c.last_err();
  // After it, the old one is refused by the serving worker and the coordinator.
  std::this_thread::sleep_for(std::chrono::milliseconds(5500) - (Clock::now() - start));
  EXPECT_TRUE(c.Predict("fan", "test.csv", {"--token", old_token}).is_null());
  EXPECT_NE(c.last_err().find("expired or revoked token"), std::string::npos) << c.last_err();
  EXPECT_FALSE(c.Predict("fan", "test.csv", {"--token", new_token}).is_null()) << c.last_err();
  // The admin gets the current token from the coordinator; nobody else does.
  const RunResult tasks = c.Mliot({"tasks", "--json"});
  EXPECT_EQ(tasks.out.find(old_token), std::string::npos);
}

TEST(SecurityTest, NoFileUnderTheDataDirectoriesIsOpenToOthers) {
  Cluster c("modes");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  ASSERT_EQ(c.Submit("fan", "").exit_code, 0);
  ASSERT_TRUE(c.WaitServing("fan")) << c.Logs();
  ASSERT_FALSE(c.Predict("fan", "test.csv").is_null()) << c.last_err();
  int files = 0;
  for (const std::string dir : {c.dir() + "/coord", c.dir() + "/A"}) {
    struct stat root {};
    ASSERT_EQ(stat(dir.c_str(), &root), 0);
    EXPECT_EQ(root.st_mode & 077, 0u) << dir;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      struct stat st {};
      if (lstat(entry.path().c_str(), &st) != 0 || S_ISLNK(st.st_mode)) continue;
      ++files;
      EXPECT_EQ(st.st_mode & 077, 0u) << entry.path() << " has mode " << std::oct << (st.st_mode & 07777);
    }
  }
  EXPECT_GT(files, 20);
  for (const std::string name : {"admin.token", "join.token", "secret.key", "coordinator.db"}) {
    EXPECT_TRUE(fs::exists(c.dir() + "/coord/" + name)) << name;
  }
  // The database keeps hashes, never a task's token.
  const RunResult submitted = c.Mliot({"submit", c.WriteSpec("lamp", ""), "--json"});
  const std::string token = ParseLast(submitted).value("token", "");
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(ReadAll(c.dir() + "/coord/coordinator.db").find(token), std::string::npos);
}

TEST(SecurityTest, APrivateKeyOthersCanReadIsRefusedNamingTheFile) {
  Cluster c("keymode");
  const std::string certs = c.dir() + "/certs";
  ASSERT_EQ(std::system((std::string(MLIOT_SOURCE_DIR) + "/scripts/make-certs " + certs +
                         " coordinator=coordinator >/dev/null 2>&1")
                            .c_str()),
            0);
  chmod((certs + "/coordinator.key").c_str(), 0644);
  const RunResult r = RunMliot({"coordinator", "--listen", c.address(), "--data-dir", c.dir() + "/coord", "--tls-cert",
                                certs + "/coordinator.pem", "--tls-key", certs + "/coordinator.key", "--tls-ca",
                                certs + "/ca.pem"},
                               std::chrono::seconds(20));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(certs + "/coordinator.key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0644"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mliot::testing
