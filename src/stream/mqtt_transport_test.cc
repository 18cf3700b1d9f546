// MQTT transport against a real Mosquitto broker (/usr/sbin/mosquitto) on a
// free loopback port: bulk QoS-1 delivery, a persistent session that keeps
// messages for a stopped subscriber, and a broker killed (SIGKILL) and
// restarted under a running publisher and subscriber; also shared
// subscriptions, a broker that is down at open, and a refused connection.
// About 25 s; skipped when mosquitto is not installed.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "common/grpc_util.h"
#include "stream/mosquitto_broker.h"
#include "stream/transport.h"

namespace mliot::stream {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kMosquitto[] = "/usr/sbin/mosquitto";
constexpr size_t kPayloadBytes = 784;  // a 28x28 sample

double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int FreePort() { return FreeLoopbackPort(); }

// The shared MosquittoBroker, with gtest results; Kill is a crash (SIGKILL)
// and Start after it restarts on the same port.
class Broker {
 public:
  Broker(std::string dir, int port, bool allow_anonymous = true)
      : dir_(std::move(dir)), port_(port), allow_anonymous_(allow_anonymous) {}

  ::testing::AssertionResult Start() {
    absl::Status s;
    if (broker_) {
      s = broker_->Restart();
    } else {
      absl::StatusOr<std::unique_ptr<MosquittoBroker>> b = MosquittoBroker::Start(dir_, port_, allow_anonymous_);
      if (b.ok()) broker_ = std::move(*b);
      s = b.status();
    }
    if (s.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << s << "; log:\n" << Log();
  }
  void Kill() {
    if (broker_) broker_->Kill();
  }
  std::string Log() const { return broker_ ? broker_->Log() : ""; }

 private:
  std::string dir_;
  int port_;
  bool allow_anonymous_;
  std::unique_ptr<MosquittoBroker> broker_;
};

// 784 bytes: run tag and sequence number (4 bytes each, little endian), then
// bytes derived from both (including zero bytes: the payload is binary).
std::string MakePayload(uint32_t run, uint32_t seq) {
  std::string p(kPayloadBytes, '\0');
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<char>((run >> (8 * i)) & 0xff);
    p[4 + i] = static_cast<char>((seq >> (8 * i)) & 0xff);
  }
  for (size_t i = 8; i < p.size(); ++i) p[i] = static_cast<char>((seq * 131u + i * 7u + run * 17u) & 0xff);
  return p;
}

bool ParsePayload(const std::string& p, uint32_t* run, uint32_t* seq) {
  if (p.size() != kPayloadBytes) return false;
  *run = *seq = 0;
  for (int i = 0; i < 4; ++i) {
    *run |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
    *seq |= static_cast<uint32_t>(static_cast<uint8_t>(p[4 + i])) << (8 * i);
  }
  return true;
}

// Counts distinct (run, seq) messages per run and checks every payload.
class Collector {
 public:
  Collector(std::string topic, std::vector<std::pair<uint32_t, uint32_t>> runs) : topic_(std::move(topic)) {
    for (auto [run, n] : runs) {
      if (run >= seen_.size()) seen_.resize(run + 1);
      seen_[run].assign(n, 0);
    }
    unique_.assign(seen_.size(), 0);
  }

  Subscriber::Handler Handler() {
    return [this](const Message& m) { Add(m); };
  }

  void Add(const Message& m) {
    uint32_t run = 0, seq = 0;
    const bool parsed = ParsePayload(m.payload, &run, &seq);
    std::lock_guard<std::mutex> l(mu_);
    ++total_;
    if (m.topic != topic_ || !m.key.empty() || !parsed || run >= seen_.size() || seq >= seen_[run].size() ||
        m.payload != MakePayload(run, seq)) {
      ++bad_;
      return;
    }
    if (seen_[run][seq]++ == 0) ++unique_[run];
    cv_.notify_all();
  }

  // Waits until `run` has all its messages; returns how many it has.
  size_t WaitAll(uint32_t run, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout, [&] { return unique_[run] == seen_[run].size(); });
    return unique_[run];
  }
  size_t WaitAny(uint32_t run, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout, [&] { return unique_[run] > 0; });
    return unique_[run];
  }
  size_t unique(uint32_t run) {
    std::lock_guard<std::mutex> l(mu_);
    return unique_[run];
  }
  bool seen(uint32_t run, uint32_t seq) {
    std::lock_guard<std::mutex> l(mu_);
    return seen_[run][seq] > 0;
  }
  size_t total() {
    std::lock_guard<std::mutex> l(mu_);
    return total_;
  }
  size_t bad() {
    std::lock_guard<std::mutex> l(mu_);
    return bad_;
  }

 private:
  const std::string topic_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<uint8_t>> seen_;
  std::vector<size_t> unique_;
  size_t total_ = 0, bad_ = 0;
};

class MqttTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kMosquitto, X_OK) != 0) GTEST_SKIP() << kMosquitto << " not installed";
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = absl::StrCat((tmp != nullptr && *tmp != '\0') ? tmp : "/tmp", "/mliot-mqtt-test-XXXXXX");
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    broker_ = std::make_unique<Broker>(dir_, port_);
    ASSERT_TRUE(broker_->Start());
  }
  void TearDown() override {
    broker_.reset();  // SIGKILL
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  BrokerUri Uri(const std::string& topic) {
    auto uri = BrokerUri::Parse(absl::StrCat("mqtt://127.0.0.1:", port_, "/", topic));
    EXPECT_TRUE(uri.ok()) << uri.status();
    return *uri;
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<Broker> broker_;
};

TEST_F(MqttTransportTest, Qos1Delivers20000Messages) {
  constexpr uint32_t kN = 20000;
  const BrokerUri uri = Uri("mliot/test/bulk");
  Collector got(uri.topic, {{1, kN}});
  TransportOptions sub_opt;
  sub_opt.qos = 1;
  auto sub = OpenMqttSubscriber(uri, sub_opt);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());

  TransportOptions pub_opt;
  pub_opt.qos = 1;
  auto pub = OpenMqttPublisher(uri, pub_opt);
  ASSERT_TRUE(pub.ok()) << pub.status();

  std::vector<std::string> payloads;
  payloads.reserve(kN);
  for (uint32_t i = 0; i < kN; ++i) payloads.push_back(MakePayload(1, i));
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < kN; ++i) {
    const absl::Status st = (*pub)->Publish("ignored-key", payloads[i]);
    ASSERT_TRUE(st.ok()) << "message " << i << ": " << st;
  }
  const double publish_s = SecondsSince(t0);
  const absl::Status flushed = (*pub)->Flush(30);
  ASSERT_TRUE(flushed.ok()) << flushed;
  const double acked_s = SecondsSince(t0);
  const size_t received = got.WaitAll(1, std::chrono::seconds(30));
  const double received_s = SecondsSince(t0);

  EXPECT_EQ(received, kN);
  EXPECT_EQ(got.bad(), 0u);
  EXPECT_GE(got.total(), kN);
  for (uint32_t seq : {0u, 1u, kN / 2, kN - 1}) EXPECT_TRUE(got.seen(1, seq)) << seq;
  std::printf("[ mqtt     ] %u x %zu B QoS 1: Publish calls %.3f s (%.0f msg/s), all acked %.3f s (%.0f msg/s), "
              "all received %.3f s (%.0f msg/s, %.1f MB/s); %zu deliveries\n",
              kN, kPayloadBytes, publish_s, kN / publish_s, acked_s, kN / acked_s, received_s, kN / received_s,
              kN * kPayloadBytes / received_s / 1e6, got.total());
  (*sub)->Stop();
}

TEST_F(MqttTransportTest, PersistentSessionKeepsMessagesWhileSubscriberIsAway) {
  constexpr uint32_t kN = 1000;
  const BrokerUri uri = Uri("mliot/test/persistent");
  TransportOptions sub_opt;
  sub_opt.qos = 1;
  sub_opt.clean_session = false;
  sub_opt.client_id = absl::StrCat("mliot-test-persistent-", getpid());

  std::atomic<int> first_got{0};
  {
    auto sub = OpenMqttSubscriber(uri, sub_opt);
    ASSERT_TRUE(sub.ok()) << sub.status();
    ASSERT_TRUE((*sub)->Start([&](const Message&) { ++first_got; }).ok());
    (*sub)->Stop();  // disconnects; the broker keeps the session
  }

  TransportOptions pub_opt;
  pub_opt.qos = 1;
  auto pub = OpenMqttPublisher(uri, pub_opt);
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (uint32_t i = 0; i < kN; ++i) ASSERT_TRUE((*pub)->Publish("", MakePayload(2, i)).ok());
  ASSERT_TRUE((*pub)->Flush(30).ok());

  Collector got(uri.topic, {{2, kN}});
  auto sub = OpenMqttSubscriber(uri, sub_opt);  // same client id: resumes the session
  ASSERT_TRUE(sub.ok()) << sub.status();
  const auto t0 = Clock::now();
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  EXPECT_EQ(got.WaitAll(2, std::chrono::seconds(20)), kN);
  EXPECT_EQ(got.bad(), 0u);
  EXPECT_EQ(first_got.load(), 0);
  std::printf("[ mqtt     ] persistent session: %u queued messages received %.3f s after Start\n", kN,
              SecondsSince(t0));
  (*sub)->Stop();

  // Start after Stop works on the same object (no new messages queued now).
  Collector again(uri.topic, {{2, kN}});
  ASSERT_TRUE((*sub)->Start(again.Handler()).ok());
  (*sub)->Stop();
  EXPECT_EQ(again.bad(), 0u);
}

TEST_F(MqttTransportTest, SurvivesBrokerKilledAndRestarted) {
  constexpr uint32_t kStream = 5000, kAfter = 2000, kProbes = 1000;
  constexpr uint32_t kRunStream = 3, kRunProbe = 4, kRunAfter = 5;
  const BrokerUri uri = Uri("mliot/test/restart");
  Collector got(uri.topic, {{kRunStream, kStream}, {kRunProbe, kProbes}, {kRunAfter, kAfter}});

  TransportOptions sub_opt;
  sub_opt.qos = 1;
  sub_opt.clean_session = false;
  sub_opt.client_id = absl::StrCat("mliot-test-restart-", getpid());
  auto sub = OpenMqttSubscriber(uri, sub_opt);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());

  TransportOptions pub_opt;
  pub_opt.qos = 1;
  pub_opt.max_in_flight = 200;
  auto pub = OpenMqttPublisher(uri, pub_opt);
  ASSERT_TRUE(pub.ok()) << pub.status();

  // A paced stream of kStream messages; the broker dies when 1500 are out.
  std::atomic<uint32_t> published{0};
  std::atomic<int> errors{0};
  std::string first_error;
  std::thread stream([&] {
    for (uint32_t i = 0; i < kStream; ++i) {
      const absl::Status st = (*pub)->Publish("", MakePayload(kRunStream, i));
      if (!st.ok() && errors++ == 0) first_error = st.ToString();
      published = i + 1;
      if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  while (published < 1500) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto t_kill = Clock::now();
  broker_->Kill();
  const uint32_t at_kill = published;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(broker_->Start());  // same port, empty broker (persistence false)

  // The subscriber has re-subscribed once a probe published now comes through.
  uint32_t probes = 0;
  while (got.unique(kRunProbe) == 0 && probes < kProbes && SecondsSince(t_kill) < 40) {
    ASSERT_TRUE((*pub)->Publish("", MakePayload(kRunProbe, probes++)).ok());
    got.WaitAny(kRunProbe, std::chrono::milliseconds(100));
  }
  ASSERT_GT(got.unique(kRunProbe), 0u) << "subscriber did not come back; broker log:\n" << broker_->Log();
  const double recovered_s = SecondsSince(t_kill);
  stream.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  const absl::Status stream_flush = (*pub)->Flush(30);
  // DataLoss would name messages Paho gave up on; a timeout would be a hang.
  EXPECT_FALSE(absl::IsDeadlineExceeded(stream_flush)) << stream_flush;

  // Everything published from now on must arrive.
  const auto t_after = Clock::now();
  for (uint32_t i = 0; i < kAfter; ++i) {
    const absl::Status st = (*pub)->Publish("", MakePayload(kRunAfter, i));
    ASSERT_TRUE(st.ok()) << st;
  }
  const absl::Status flushed = (*pub)->Flush(30);
  ASSERT_TRUE(flushed.ok()) << flushed;
  EXPECT_EQ(got.WaitAll(kRunAfter, std::chrono::seconds(30)), kAfter);
  const double after_s = SecondsSince(t_after);
  got.WaitAll(kRunStream, std::chrono::seconds(1));
  EXPECT_EQ(got.bad(), 0u);
  std::printf("[ mqtt     ] broker killed after %u published, back and re-subscribed %.2f s after the kill "
              "(%u probes); stream: %zu of %u received (flush: %s); %u after restart: %zu received in %.3f s\n",
              at_kill, recovered_s, probes, got.unique(kRunStream), kStream, stream_flush.ToString().c_str(), kAfter,
              got.unique(kRunAfter), after_s);
  (*sub)->Stop();
}

TEST_F(MqttTransportTest, BrokerDownAtOpenIsRetriedInTheBackground) {
  constexpr uint32_t kN = 100;
  broker_->Kill();
  const BrokerUri uri = Uri("mliot/test/late");
  Collector got(uri.topic, {{6, kN}});
  TransportOptions opt;
  opt.qos = 1;
  auto sub = OpenMqttSubscriber(uri, opt);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());  // not failing: retried
  auto pub = OpenMqttPublisher(uri, opt);
  ASSERT_TRUE(pub.ok()) << pub.status();
  // Buffered while the broker is down: accepted, but not acknowledged yet.
  ASSERT_TRUE((*pub)->Publish("", MakePayload(6, kN - 1)).ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded((*pub)->Flush(0.2)));
  ASSERT_TRUE(broker_->Start());
  // Once the subscriber is subscribed, publish; retry probes until then.
  uint32_t i = 0;
  const auto t0 = Clock::now();
  while (got.unique(6) == 0 && i < kN && SecondsSince(t0) < 40) {
    ASSERT_TRUE((*pub)->Publish("", MakePayload(6, i++)).ok());
    got.WaitAny(6, std::chrono::milliseconds(200));
  }
  EXPECT_GT(got.unique(6), 0u);
  EXPECT_TRUE((*pub)->Flush(30).ok());
  (*sub)->Stop();
}

TEST_F(MqttTransportTest, SharedSubscriptionSplitsMessagesInTheGroup) {
  constexpr uint32_t kN = 1000;
  const BrokerUri uri = Uri("mliot/test/shared");
  Collector a(uri.topic, {{7, kN}}), b(uri.topic, {{7, kN}});
  TransportOptions opt;
  opt.qos = 1;
  opt.group = "workers";
  auto sub_a = OpenMqttSubscriber(uri, opt);
  auto sub_b = OpenMqttSubscriber(uri, opt);
  ASSERT_TRUE(sub_a.ok() && sub_b.ok());
  ASSERT_TRUE((*sub_a)->Start(a.Handler()).ok());
  ASSERT_TRUE((*sub_b)->Start(b.Handler()).ok());
  opt.group.clear();
  auto pub = OpenMqttPublisher(uri, opt);
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (uint32_t i = 0; i < kN; ++i) ASSERT_TRUE((*pub)->Publish("", MakePayload(7, i)).ok());
  ASSERT_TRUE((*pub)->Flush(30).ok());
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (a.unique(7) + b.unique(7) < kN && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  size_t both = 0, either = 0;
  for (uint32_t i = 0; i < kN; ++i) {
    both += a.seen(7, i) && b.seen(7, i);
    either += a.seen(7, i) || b.seen(7, i);
  }
  EXPECT_EQ(either, kN);
  EXPECT_EQ(both, 0u);  // each message went to one member of the group
  EXPECT_GT(a.unique(7), 0u);
  EXPECT_GT(b.unique(7), 0u);
  EXPECT_EQ(a.bad() + b.bad(), 0u);
  (*sub_a)->Stop();
  (*sub_b)->Stop();
}

TEST_F(MqttTransportTest, RefusedConnectionFailsOpen) {
  const std::string dir = dir_ + "/closed";
  std::filesystem::create_directories(dir);
  const int port = FreePort();
  Broker closed(dir, port, /*allow_anonymous=*/false);
  ASSERT_TRUE(closed.Start());
  auto uri = BrokerUri::Parse(absl::StrCat("mqtt://127.0.0.1:", port, "/mliot/test/closed"));
  ASSERT_TRUE(uri.ok());
  TransportOptions opt;
  auto pub = OpenMqttPublisher(*uri, opt);
  ASSERT_FALSE(pub.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(pub.status())) << pub.status();
  EXPECT_NE(pub.status().message().find(uri->ToString()), std::string::npos) << pub.status();
  auto sub = OpenMqttSubscriber(*uri, opt);
  ASSERT_TRUE(sub.ok()) << sub.status();
  const absl::Status st = (*sub)->Start([](const Message&) {});
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
}

TEST_F(MqttTransportTest, RejectsBadOptions) {
  const BrokerUri uri = Uri("mliot/test/bad");
  TransportOptions opt;
  opt.qos = 2;
  auto pub = OpenMqttPublisher(uri, opt);
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.status().message().find(uri.ToString()), std::string::npos) << pub.status();
  opt.qos = 1;
  opt.tls_ca = "/nonexistent/ca.pem";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenMqttSubscriber(uri, opt).status()));
  opt.tls_ca.clear();
  auto wild = OpenMqttPublisher(Uri("mliot/+/bad"), opt);
  EXPECT_TRUE(absl::IsInvalidArgument(wild.status()));
}

}  // namespace
}  // namespace mliot::stream
