// The coordinator's server on loopback: connections that carry calls stay
// open, a connection left without calls is closed after
// CoordinatorOptions::connection_idle_ms (the server sends no keep-alive
// pings, so this is what reclaims the connection of a vanished node), and
// its client reconnects on its next call.
#include "coord/coordinator.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "auth/secrets.h"
#include "common/grpc_util.h"
#include "gtest/gtest.h"
#include "mliot/v1/coordinator.grpc.pb.h"

namespace mliot {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class CoordinatorServerTest : public ::testing::Test {
 protected:
  void Start(int connection_idle_ms) {
    std::string tmpl = ::testing::TempDir() + "/coordinator_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.data_dir = dir_;
    o.connection_idle_ms = connection_idle_ms;
    coordinator_ = std::make_unique<Coordinator>(o);
    ASSERT_TRUE(coordinator_->Start().ok());
    absl::StatusOr<std::string> admin = auth::ReadSecretFile(dir_ + "/admin.token");
    ASSERT_TRUE(admin.ok()) << admin.status();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        MakeChannel(coordinator_->address(), TlsOptions{}, CoordinatorChannelArguments(), *admin);
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = *channel;
    stub_ = v1::Coordinator::NewStub(channel_);
  }
  void TearDown() override {
    stub_.reset();
    channel_.reset();
    if (coordinator_) coordinator_->Shutdown();
    coordinator_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  grpc::Status ListNodes() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListNodesRequest request;
    v1::ListNodesResponse response;
    return stub_->ListNodes(&ctx, request, &response);
  }

  // Waits up to `limit` for the channel to leave READY; returns whether it did.
  bool LeavesReadyWithin(milliseconds limit) {
    const auto until = steady_clock::now() + limit;
    while (steady_clock::now() < until) {
      if (channel_->GetState(false) != GRPC_CHANNEL_READY) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  std::string dir_;
  std::unique_ptr<Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

TEST_F(CoordinatorServerTest, ClosesAConnectionWithoutCallsAndTheClientReconnects) {
  Start(/*connection_idle_ms=*/300);
  ASSERT_TRUE(ListNodes().ok());
  ASSERT_EQ(channel_->GetState(false), GRPC_CHANNEL_READY);
  // The server closes the idle connection (GOAWAY); the client's channel
  // goes idle instead of staying connected for ever.
  EXPECT_TRUE(LeavesReadyWithin(milliseconds(5000)));
  grpc::Status again = ListNodes();
  EXPECT_TRUE(again.ok()) << again.error_message();
  EXPECT_EQ(channel_->GetState(false), GRPC_CHANNEL_READY);
}

TEST_F(CoordinatorServerTest, KeepsAConnectionThatHeartBeats) {
  Start(/*connection_idle_ms=*/500);
  // Calls (as a node's heartbeats would) every 100 ms for three idle periods: the connection is never idle
  // for 500 ms, so it is never closed.
  const auto until = steady_clock::now() + milliseconds(1500);
  int calls = 0;
  while (steady_clock::now() < until) {
    ASSERT_TRUE(ListNodes().ok());
    ++calls;
    std::this_thread::sleep_for(milliseconds(100));
    ASSERT_EQ(channel_->GetState(false), GRPC_CHANNEL_READY) << "closed after " << calls << " calls";
  }
  EXPECT_GE(calls, 10);
}

TEST_F(CoordinatorServerTest, DefaultIdleTimeLeavesAQuietConnectionOpen) {
  Start(CoordinatorOptions{}.connection_idle_ms);
  ASSERT_TRUE(ListNodes().ok());
  EXPECT_FALSE(LeavesReadyWithin(milliseconds(1000)));
}

}  // namespace
}  // namespace mliot
