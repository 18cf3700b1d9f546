// MQTT transport against a real Mosquitto broker (/usr/sbin/mosquitto) on a
// free loopback port: bulk QoS-1 delivery, a persistent session that keeps
// messages for a stopped subscriber, a broker without persistence killed
// (SIGKILL) and restarted under a running publisher and subscriber, and a
// broker with persistence stopped (SIGTERM) or killed mid-stream with nothing
// lost at QoS 1; also shared subscriptions, a broker that is down at open,
// and a refused connection. About 45 s; skipped when mosquitto is not
// installed.
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

// The shared MosquittoBroker, with gtest results; Kill is a crash (SIGKILL),
// Stop a service stop (SIGTERM), and Start after either restarts on the same
// port, config and (with persistence) database.
class Broker {
 public:
  Broker(std::string dir, int port, bool allow_anonymous = true) : dir_(std::move(dir)) {
    options_.port = port;
    options_.allow_anonymous = allow_anonymous;
  }
  Broker(std::string dir, MosquittoOptions options) : dir_(std::move(dir)), options_(options) {}

  ::testing::AssertionResult Start() {
    absl::Status s;
    if (broker_) {
      s = broker_->Restart();
    } else {
      absl::StatusOr<std::unique_ptr<MosquittoBroker>> b = MosquittoBroker::Start(dir_, options_);
      if (b.ok()) broker_ = std::move(*b);
      s = b.status();
    }
    if (s.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << s << "; log:\n" << Log();
  }
  void Kill() {
    if (broker_) broker_->Kill();
  }
  // SIGTERM: a persistent broker writes its database.
  ::testing::AssertionResult Stop() {
    const absl::Status s = broker_ ? broker_->Stop() : absl::OkStatus();
    if (s.ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << s << "; log:\n" << Log();
  }
  std::string Log() const { return broker_ ? broker_->Log() : ""; }

 private:
  std::string dir_;
  MosquittoOptions options_;
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
      if (bad_++ == 0) {
        first_bad_ = absl::StrCat("topic '", m.topic, "', key '", m.key, "', ", m.payload.size(), " bytes",
                                  parsed ? absl::StrCat(", run ", run, " seq ", seq) : std::string());
        if (parsed && run < seen_.size() && seq < seen_[run].size()) {
          const std::string want = MakePayload(run, seq);
          size_t i = 0;
          while (i < want.size() && i < m.payload.size() && want[i] == m.payload[i]) ++i;
          absl::StrAppend(&first_bad_, ", differs from byte ", i);
        }
        absl::StrAppend(&first_bad_, ", head");
        for (size_t i = 0; i < 32 && i < m.payload.size(); ++i) {
          absl::StrAppend(&first_bad_, " ", static_cast<int>(static_cast<uint8_t>(m.payload[i])));
        }
      }
      return;
    }
    if (seen_[run][seq] < 255 && seen_[run][seq]++ == 0) ++unique_[run];
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
  // Deliveries of `run` beyond the first of each message.
  size_t duplicates(uint32_t run) {
    std::lock_guard<std::mutex> l(mu_);
    size_t d = 0;
    for (uint8_t c : seen_[run]) d += c > 1 ? c - 1 : 0;
    return d;
  }
  // The missing sequence numbers of `run` as ranges, "12-15 40", at most `max` ranges.
  std::string Missing(uint32_t run, int max = 20) {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    int ranges = 0;
    const auto& v = seen_[run];
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] != 0) continue;
      size_t j = i;
      while (j + 1 < v.size() && v[j + 1] == 0) ++j;
      if (ranges++ < max) absl::StrAppend(&out, out.empty() ? "" : " ", i, j > i ? absl::StrCat("-", j) : "");
      i = j;
    }
    if (ranges > max) absl::StrAppend(&out, " ... (", ranges, " ranges)");
    return out;
  }
  size_t bad() {
    std::lock_guard<std::mutex> l(mu_);
    return bad_;
  }
  std::string first_bad() {
    std::lock_guard<std::mutex> l(mu_);
    return first_bad_;
  }

 private:
  const std::string topic_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<uint8_t>> seen_;
  std::vector<size_t> unique_;
  size_t total_ = 0, bad_ = 0;
  std::string first_bad_;
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
    if (!shm_dir_.empty()) std::filesystem::remove_all(shm_dir_);
  }

  // A directory for a broker that saves its database after every change:
  // under /dev/shm when there is one. A killed process loses nothing that
  // it wrote to a file either way; on disk every save also waits for fsync,
  // which made those brokers 2-4 times slower here (and the tests longer).
  std::string DatabaseDir(const std::string& name) {
    if (shm_dir_.empty() && access("/dev/shm", W_OK) == 0) {
      std::string templ = "/dev/shm/mliot-mqtt-test-XXXXXX";
      if (mkdtemp(templ.data()) != nullptr) shm_dir_ = templ;
    }
    return absl::StrCat(shm_dir_.empty() ? dir_ : shm_dir_, "/", name);
  }

  BrokerUri Uri(const std::string& topic) {
    auto uri = BrokerUri::Parse(absl::StrCat("mqtt://127.0.0.1:", port_, "/", topic));
    EXPECT_TRUE(uri.ok()) << uri.status();
    return *uri;
  }

  std::string dir_;
  std::string shm_dir_;  // DatabaseDir's, when used
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

// A broker without persistence comes back empty: the subscriber's session and
// subscription are gone, so what the broker held, and what was published
// before the subscriber subscribed again, is lost. This checks that both
// clients recover and everything from then on arrives; the tests below
// (broker with persistence) check that nothing is lost.
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

// Broker restart at QoS 1 with nothing lost (the issue's "the broker killed
// and restarted mid-stream loses nothing at QoS 1"): every message for which
// Publish returned OK reaches the handler of a subscriber with a persistent
// session at least once; duplicates are allowed (at-least-once) and counted.
// What is covered:
//  * graceful restart (SIGTERM, persistence on; autosave off, so only the
//    database Mosquitto writes at exit): sessions, subscriptions and queued
//    or in-flight QoS-1 messages survive, and the clients re-send what was
//    unacknowledged;
//  * crash (SIGKILL) with `autosave_on_changes true` + `autosave_interval 1`:
//    Mosquitto saves after every pass of its event loop, and the publisher
//    re-publishes its last acknowledged messages after a lost connection
//    (kReplayAfterLoss in mqtt_transport.cc), which covers the one or two
//    the broker acknowledged but had not saved yet;
//  * not covered: SIGKILL with time-based autosave (`autosave_interval 1` =
//    every second) or none: QoS-1 messages the broker acknowledged since its
//    last save and had not passed on yet are lost (measured: none of 1,000
//    messages queued for an offline subscriber survived a kill 0.5 s after
//    they were acknowledged).
enum class BrokerStop { kGraceful, kKill };

struct RestartCase {
  BrokerStop how = BrokerStop::kGraceful;
  MosquittoOptions broker;  // persistence is turned on
  bool publisher_clean_session = true;
  uint32_t count = 5000;    // messages in the stream
  uint32_t stop_at = 1500;  // the broker goes away once this many were published
  // Paho buffers up to this many while the broker is down; then Publish
  // waits for the reconnect.
  int64_t max_in_flight = 1000;
};

// A paced stream of QoS-1 messages from a publisher to a subscriber with a
// persistent session (clean_session false, fixed client id), through a broker
// with persistence that is stopped or killed mid-stream and started again
// 0.5 s later on the same port and database; the stream keeps publishing
// before, while and after the broker is away.
void StreamThroughRestart(const std::string& dir, RestartCase c) {
  constexpr uint32_t kRun = 8;
  c.broker.port = FreePort();
  c.broker.persistence = true;
  Broker broker(dir, c.broker);
  ASSERT_TRUE(broker.Start());
  auto uri = BrokerUri::Parse(absl::StrCat("mqtt://127.0.0.1:", c.broker.port, "/mliot/test/restart-durable"));
  ASSERT_TRUE(uri.ok()) << uri.status();
  Collector got(uri->topic, {{kRun, c.count}});

  TransportOptions sub_opt;
  sub_opt.qos = 1;
  sub_opt.clean_session = false;
  sub_opt.client_id = absl::StrCat("mliot-test-durable-sub-", getpid());
  auto sub = OpenMqttSubscriber(*uri, sub_opt);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());

  TransportOptions pub_opt;
  pub_opt.qos = 1;
  pub_opt.max_in_flight = c.max_in_flight;
  pub_opt.clean_session = c.publisher_clean_session;
  if (!c.publisher_clean_session) pub_opt.client_id = absl::StrCat("mliot-test-durable-pub-", getpid());
  auto pub = OpenMqttPublisher(*uri, pub_opt);
  ASSERT_TRUE(pub.ok()) << pub.status();

  std::atomic<uint32_t> published{0};  // Publish returned (OK or not)
  std::atomic<int> errors{0};
  std::mutex error_mu;
  std::string first_error;
  const auto t_start = Clock::now();
  std::thread stream([&] {
    for (uint32_t i = 0; i < c.count; ++i) {
      const absl::Status st = (*pub)->Publish("", MakePayload(kRun, i));
      if (!st.ok() && errors++ == 0) {
        std::lock_guard<std::mutex> l(error_mu);
        first_error = st.ToString();
      }
      published = i + 1;
      if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  while (published < c.stop_at) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const size_t received_at_stop = got.unique(kRun);
  const auto t_stop = Clock::now();
  if (c.how == BrokerStop::kGraceful) {
    EXPECT_TRUE(broker.Stop());
  } else {
    broker.Kill();
  }
  const uint32_t at_stop = published;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const uint32_t while_down = published - at_stop;
  ASSERT_TRUE(broker.Start());  // same port, config and database
  const double down_s = SecondsSince(t_stop);
  stream.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  const absl::Status flushed = (*pub)->Flush(30);
  EXPECT_TRUE(flushed.ok()) << flushed;
  const size_t received = got.WaitAll(kRun, std::chrono::seconds(30));
  const double all_s = SecondsSince(t_stop);
  const double total_s = SecondsSince(t_start);
  EXPECT_EQ(received, c.count) << "missing: " << got.Missing(kRun) << "\nbroker log:\n" << broker.Log();
  EXPECT_EQ(got.bad(), 0u) << "first: " << got.first_bad();
  std::printf("[ mqtt     ] broker %s (persistence, autosave %s) after %u published (%zu received), away "
              "%.2f s (%u published meanwhile); publisher clean_session %s: %zu of %u received, %zu duplicates, "
              "all %.2f s after the stop (whole stream %.2f s, %.0f msg/s)\n",
              c.how == BrokerStop::kGraceful ? "stopped (SIGTERM)" : "killed (SIGKILL)",
              c.broker.autosave_interval == 0    ? "off"
              : c.broker.autosave_on_changes ? "on every change"
                                             : "timed",
              at_stop, received_at_stop, down_s, while_down, c.publisher_clean_session ? "true" : "false (ignored)",
              received, c.count, got.duplicates(kRun), all_s, total_s, c.count / total_s);
  (*sub)->Stop();
}

TEST_F(MqttTransportTest, GracefulBrokerRestartMidStreamLosesNothingAtQos1) {
  RestartCase c;
  c.how = BrokerStop::kGraceful;  // autosave off: only the database written at exit
  c.publisher_clean_session = true;
  StreamThroughRestart(dir_ + "/graceful", c);
}

TEST_F(MqttTransportTest, BrokerKilledMidStreamLosesNothingAtQos1WithAutosaveOnChanges) {
  RestartCase c;
  c.how = BrokerStop::kKill;
  c.broker.autosave_interval = 1;
  c.broker.autosave_on_changes = true;
  // Asks for a persistent publisher session, which the transport does not
  // use (Paho C 1.3.12 re-sending a persistent session's in-flight messages
  // after a reconnect corrupted payloads here: `bad` was 1 in 6 of about 45
  // runs while it did); the transport re-publishes by itself instead.
  c.publisher_clean_session = false;
  // Saving after every change makes Mosquitto slow (about 450 messages a
  // second here on /dev/shm, 120-630 on disk): a shorter stream, fewer in
  // flight.
  c.count = 2000;
  c.stop_at = 1000;
  c.max_in_flight = 200;
  StreamThroughRestart(DatabaseDir("killed"), c);
}

// The narrowest crash: messages queued for an offline persistent subscriber,
// the broker killed the moment the last of them was acknowledged. Mosquitto
// may not have saved the last one or two yet; the publisher re-publishes its
// last acknowledged messages after the reconnect, so all arrive.
TEST_F(MqttTransportTest, BrokerKilledRightAfterAcknowledgingLosesNothingWithAutosaveOnChanges) {
  constexpr uint32_t kN = 300;
  constexpr uint32_t kRun = 9;
  MosquittoOptions bo;
  bo.port = FreePort();
  bo.persistence = true;
  bo.autosave_interval = 1;
  bo.autosave_on_changes = true;
  Broker broker(DatabaseDir("acked"), bo);
  ASSERT_TRUE(broker.Start());
  auto uri = BrokerUri::Parse(absl::StrCat("mqtt://127.0.0.1:", bo.port, "/mliot/test/acked"));
  ASSERT_TRUE(uri.ok()) << uri.status();
  Collector got(uri->topic, {{kRun, kN}});
  TransportOptions sub_opt;
  sub_opt.qos = 1;
  sub_opt.clean_session = false;
  sub_opt.client_id = absl::StrCat("mliot-test-acked-sub-", getpid());
  auto sub = OpenMqttSubscriber(*uri, sub_opt);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  (*sub)->Stop();  // the session and its subscription stay at the broker

  TransportOptions pub_opt;
  pub_opt.qos = 1;
  auto pub = OpenMqttPublisher(*uri, pub_opt);
  ASSERT_TRUE(pub.ok()) << pub.status();
  for (uint32_t i = 0; i < kN; ++i) ASSERT_TRUE((*pub)->Publish("", MakePayload(kRun, i)).ok());
  ASSERT_TRUE((*pub)->Flush(30).ok());
  const auto t_kill = Clock::now();
  broker.Kill();
  ASSERT_TRUE(broker.Start());
  // The publisher reconnects and re-publishes its last acknowledged messages.
  const absl::Status flushed = (*pub)->Flush(30);
  EXPECT_TRUE(flushed.ok()) << flushed;
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  EXPECT_EQ(got.WaitAll(kRun, std::chrono::seconds(20)), kN) << "missing: " << got.Missing(kRun);
  EXPECT_EQ(got.bad(), 0u);
  std::printf("[ mqtt     ] broker killed right after acknowledging %u messages for an offline subscriber "
              "(autosave on every change): %zu received, %zu duplicates, %.2f s after the kill\n",
              kN, got.unique(kRun), got.duplicates(kRun), SecondsSince(t_kill));
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
