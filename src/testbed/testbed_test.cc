// The testbed file (every bad file: one line naming the key) and the delay
// proxy (a request through it takes rtt_ms longer, measured on a real echo
// server over loopback).
#include "testbed/testbed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testbed/delay_proxy.h"

namespace mliot {
namespace {

using ::testing::HasSubstr;

TEST(TestbedFileTest, ParsesDevicesWithDefaults) {
  absl::StatusOr<Testbed> t = ParseTestbed(R"(
devices:
  - name: M1
    cores: 0.25
    memory_mb: 512
    rtt_ms: 3
    declared_cores: 4
    labels: {locality: local}
  - name: M3
    cores: 1.5
    memory_mb: 1024
    gpu: true
)");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->devices.size(), 2u);
  EXPECT_EQ(t->devices[0].name, "M1");
  EXPECT_DOUBLE_EQ(t->devices[0].cores, 0.25);
  EXPECT_EQ(t->devices[0].memory_mb, 512);
  EXPECT_DOUBLE_EQ(t->devices[0].rtt_ms, 3);
  EXPECT_EQ(t->devices[0].declared_cores, 4);
  EXPECT_EQ(t->devices[0].labels.at("locality"), "local");
  EXPECT_DOUBLE_EQ(t->devices[1].rtt_ms, 0);
  EXPECT_EQ(t->devices[1].declared_cores, 2);  // ceil(1.5)
  EXPECT_TRUE(t->devices[1].gpu);
}

struct BadFile {
  const char* yaml;
  const char* says;
};

class BadTestbedFileTest : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadTestbedFileTest, IsOneLineNamingTheKey) {
  absl::StatusOr<Testbed> t = ParseTestbed(GetParam().yaml, "tb.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(t.status().message());
  EXPECT_THAT(message, HasSubstr(GetParam().says));
  EXPECT_THAT(message, HasSubstr("tb.yaml"));
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Files, BadTestbedFileTest,
    ::testing::Values(BadFile{"", "devices: expected a list"},
                      BadFile{"devices: []", "devices: expected a list"},
                      BadFile{"nodes: []", "(top level).nodes: unknown key"},
                      BadFile{"devices:\n  - {name: a, cores: 1}", "devices[0].memory_mb: missing"},
                      BadFile{"devices:\n  - {cores: 1, memory_mb: 1}", "devices[0].name: missing"},
                      BadFile{"devices:\n  - {name: a, cores: -1, memory_mb: 5}",
                              "devices[0].cores: must be > 0, got -1"},
                      BadFile{"devices:\n  - {name: a, cores: two, memory_mb: 5}",
                              "devices[0].cores: expected a number, got 'two'"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5.5}",
                              "devices[0].memory_mb: expected a whole number"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5, rtt_ms: -3}",
                              "devices[0].rtt_ms: must be >= 0"},
                      BadFile{"devices:\n  - {name: a/b, cores: 1, memory_mb: 5}",
                              "devices[0].name: letters, digits"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5}\n  - {name: a, "
                              "cores: 1, memory_mb: 5}",
                              "devices[1].name: 'a' is used twice"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5, ram: 3}",
                              "devices[0].ram: unknown key"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5, labels: [x]}",
                              "devices[0].labels: must be"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5, labels: {k: 'a,b'}}",
                              "devices[0].labels.k: names and values cannot hold"},
                      BadFile{"devices:\n  - {name: a, cores: 1, memory_mb: 5, gpu: maybe}",
                              "devices[0].gpu: expected true or false"},
                      BadFile{"devices: [\n", "line "}));

TEST(TestbedFileTest, AMissingFileIsNamed) {
  absl::StatusOr<Testbed> t = LoadTestbed("/nonexistent/testbed.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("/nonexistent/testbed.yaml"));
}

// An echo server on loopback: answers each read with the same bytes.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 8);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      const int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      char buf[4096];
      for (;;) {
        const ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
      }
      close(c);
    });
  }
  ~EchoServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Milliseconds for one request of `bytes` and its full echo.
double RoundTripMs(int fd, size_t bytes) {
  const std::string request(bytes, 'x');
  const auto start = std::chrono::steady_clock::now();
  size_t sent = 0;
  while (sent < bytes)
    sent += static_cast<size_t>(send(fd, request.data() + sent, bytes - sent, MSG_NOSIGNAL));
  size_t got = 0;
  char buf[65536];
  while (got < bytes) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return -1;
    got += static_cast<size_t>(n);
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST(DelayProxyTest, ARequestTakesTheRoundTripTimeLonger) {
  EchoServer echo;
  absl::StatusOr<std::unique_ptr<DelayProxy>> proxy = DelayProxy::Start(echo.address(), 40);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ((*proxy)->address(), "127.0.0.1:" + std::to_string((*proxy)->port()));
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  for (size_t bytes : {size_t{16}, size_t{16}, size_t{200000}}) {
    const double ms = RoundTripMs(fd, bytes);
    std::printf("round trip of %zu bytes through a 40 ms proxy: %.2f ms\n", bytes, ms);
    EXPECT_GE(ms, 40.0) << bytes << " bytes";
    EXPECT_LT(ms, 40.0 + 60.0) << bytes << " bytes";  // the delay, not a multiple of it
  }
  close(fd);
  EXPECT_EQ((*proxy)->connections(), 1);
}

TEST(DelayProxyTest, ZeroDelayPassesThroughAndStopEndsConnections) {
  EchoServer echo;
  absl::StatusOr<std::unique_ptr<DelayProxy>> proxy = DelayProxy::Start(echo.address(), 0);
  ASSERT_TRUE(proxy.ok());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  EXPECT_LT(RoundTripMs(fd, 100), 20.0);
  (*proxy)->Stop();
  char c;
  EXPECT_LE(recv(fd, &c, 1, 0), 0);  // closed by Stop, no hang
  close(fd);
}

TEST(DelayProxyTest, BadTargetsAreRefused) {
  EXPECT_EQ(DelayProxy::Start("no-port", 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DelayProxy::Start("127.0.0.1:1", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DelayProxyTest, ATargetThatIsDownClosesTheClient) {
  int port = 0;
  {
    EchoServer gone;  // its port, then nothing listens there
    port = std::stoi(gone.address().substr(10));
    const int fd = Connect(port);  // let its accept thread finish
    close(fd);
  }
  absl::StatusOr<std::unique_ptr<DelayProxy>> proxy =
      DelayProxy::Start("127.0.0.1:" + std::to_string(port), 5);
  ASSERT_TRUE(proxy.ok());
  const int fd = Connect((*proxy)->port());
  ASSERT_GE(fd, 0);
  char c;
  EXPECT_LE(recv(fd, &c, 1, 0), 0);
  close(fd);
}

}  // namespace
}  // namespace mliot
