// Kafka transport against librdkafka's in-process mock cluster.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "stream/kafka_mock.h"
#include "stream/transport.h"

namespace mliot::stream {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%06d", i);
  return buf;
}

// 784 bytes (a 28x28 image) whose content depends on i.
std::string Payload(int i) {
  std::string p(784, '\0');
  for (size_t j = 0; j < p.size(); ++j) p[j] = static_cast<char>((i * 31 + j) & 0xff);
  return p;
}

// Collects what a Subscriber delivers; thread-safe.
class Collector {
 public:
  Subscriber::Handler Handler() {
    return [this](const Message& m) {
      std::lock_guard<std::mutex> lock(mu_);
      ++total_;
      if (m.key != "warmup" && m.payload != Payload(KeyIndex(m.key))) ++bad_payloads_;
      if (m.topic != topic_) ++bad_topics_;
      keys_.insert(m.key);
      cv_.notify_all();
    };
  }
  explicit Collector(std::string topic) : topic_(std::move(topic)) {}

  // Waits until `key` was received; false on timeout.
  bool WaitForKey(const std::string& key, double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return keys_.count(key) > 0; });
  }
  // Waits until `n` distinct keys were received; false on timeout.
  bool WaitForUniqueKeys(size_t n, double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return keys_.size() >= n; });
  }
  size_t unique_keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_.size();
  }
  int64_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  int64_t bad_payloads() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_payloads_;
  }
  int64_t bad_topics() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_topics_;
  }

 private:
  static int KeyIndex(const std::string& key) { return key.size() == 7 ? std::stoi(key.substr(1)) : -1; }

  const std::string topic_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<std::string> keys_;
  int64_t total_ = 0;
  int64_t bad_payloads_ = 0;
  int64_t bad_topics_ = 0;
};

BrokerUri UriFor(const KafkaMockCluster& cluster, const std::string& topic) {
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(absl::StrCat("kafka://", cluster.bootstraps(), "/", topic));
  EXPECT_TRUE(uri.ok()) << uri.status();
  return *uri;
}

TEST(KafkaTransportTest, SubscriberReceivesEveryPublishedMessage) {
  auto cluster = KafkaMockCluster::Start(1, "samples", 8);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const BrokerUri uri = UriFor(**cluster, "samples");

  TransportOptions sub_options;
  sub_options.client_id = "test-sub";
  auto sub = OpenKafkaSubscriber(uri, sub_options);
  ASSERT_TRUE(sub.ok()) << sub.status();
  Collector got("samples");
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  EXPECT_EQ((*sub)->Start(got.Handler()).code(), absl::StatusCode::kFailedPrecondition);

  TransportOptions pub_options;
  pub_options.client_id = "test-pub";
  auto pub = OpenKafkaPublisher(uri, pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status();

  // Once the warm-up message arrives the consumer owns its partitions, so the
  // burst below is consumed while it is produced (the mock keeps ~5 MiB per
  // partition).
  const Clock::time_point t_join = Clock::now();
  ASSERT_TRUE((*pub)->Publish("warmup", "hello").ok());
  ASSERT_TRUE((*pub)->Flush(10).ok());
  ASSERT_TRUE(got.WaitForKey("warmup", 20)) << "subscriber got nothing within 20 s";
  std::printf("[ KAFKA    ] group join + first message: %.2f s\n", SecondsSince(t_join));

  constexpr int kMessages = 50000;
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE((*pub)->Publish(Key(i), Payload(i)).ok()) << i;
  }
  const double t_publish = SecondsSince(t0);
  const absl::Status flushed = (*pub)->Flush(30);
  ASSERT_TRUE(flushed.ok()) << flushed;
  const double t_flush = SecondsSince(t0);
  const bool all = got.WaitForUniqueKeys(kMessages + 1, 60 - SecondsSince(t_join));
  const double t_all = SecondsSince(t0);
  (*sub)->Stop();
  (*sub)->Stop();  // idempotent

  EXPECT_TRUE(all) << "received " << got.unique_keys() - 1 << " of " << kMessages << " distinct keys";
  EXPECT_EQ(got.unique_keys(), static_cast<size_t>(kMessages + 1));
  EXPECT_EQ(got.bad_payloads(), 0);
  EXPECT_EQ(got.bad_topics(), 0);
  std::printf("[ KAFKA    ] %d x 784 B: publish %.2f s (%.0f msg/s), acked after %.2f s (%.0f msg/s), "
              "all received after %.2f s (%.0f msg/s end to end, %lld deliveries incl. duplicates)\n",
              kMessages, t_publish, kMessages / t_publish, t_flush, kMessages / t_flush, t_all, kMessages / t_all,
              static_cast<long long>(got.total() - 1));
}

TEST(KafkaTransportTest, SeekReplaysAnEpochFromTheLog) {
  auto cluster = KafkaMockCluster::Start(1, "epochs", 4);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const BrokerUri uri = UriFor(**cluster, "epochs");
  auto sub = OpenKafkaSubscriber(uri, {});
  ASSERT_TRUE(sub.ok()) << sub.status();
  Collector got("epochs");
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  auto pub = OpenKafkaPublisher(uri, {});
  ASSERT_TRUE(pub.ok()) << pub.status();
  ASSERT_TRUE((*pub)->Publish("warmup", "hello").ok());
  ASSERT_TRUE((*pub)->Flush(10).ok());
  ASSERT_TRUE(got.WaitForKey("warmup", 20));

  // The epoch starts here: record where each partition is.
  absl::StatusOr<std::map<int32_t, int64_t>> start = (*sub)->Positions();
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(start->size(), 4u) << "one position per assigned partition";
  constexpr int kEpoch = 2000;
  for (int i = 0; i < kEpoch; ++i) ASSERT_TRUE((*pub)->Publish(Key(i), Payload(i)).ok());
  ASSERT_TRUE((*pub)->Flush(30).ok());
  ASSERT_TRUE(got.WaitForUniqueKeys(kEpoch + 1, 30));
  const int64_t first_pass = got.total();
  absl::StatusOr<std::map<int32_t, int64_t>> end = (*sub)->Positions();
  ASSERT_TRUE(end.ok());
  int64_t advanced = 0;
  for (const auto& [p, offset] : *end) advanced += offset - std::max<int64_t>(0, start->at(p));
  EXPECT_EQ(advanced, kEpoch) << "positions moved by the epoch's messages";

  // Replay: the same messages again, from the log.
  ASSERT_TRUE((*sub)->Seek(*start).ok());
  const Clock::time_point t0 = Clock::now();
  while (got.total() < first_pass + kEpoch && SecondsSince(t0) < 30) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got.total(), first_pass + kEpoch) << "every message of the epoch delivered once more";
  EXPECT_EQ(got.bad_payloads(), 0);
  (*sub)->Stop();
}

TEST(KafkaTransportTest, MqttHasNoLogToReplay) {
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse("mqtt://127.0.0.1:1/x");
  ASSERT_TRUE(uri.ok());
  auto sub = OpenSubscriber(*uri, {});
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ((*sub)->Positions().status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ((*sub)->Seek({{0, 0}}).code(), absl::StatusCode::kUnimplemented);
}

TEST(KafkaTransportTest, FailsInBoundedTimeWhenTheClusterIsGone) {
  auto cluster = KafkaMockCluster::Start(1, "samples", 2);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const BrokerUri uri = UriFor(**cluster, "samples");
  auto sub = OpenKafkaSubscriber(uri, TransportOptions{});
  ASSERT_TRUE(sub.ok()) << sub.status();
  Collector got("samples");
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  auto pub = OpenKafkaPublisher(uri, TransportOptions{});
  ASSERT_TRUE(pub.ok()) << pub.status();
  ASSERT_TRUE((*pub)->Publish("warmup", "before").ok());
  ASSERT_TRUE((*pub)->Flush(10).ok());
  ASSERT_TRUE(got.WaitForKey("warmup", 20));

  cluster->reset();  // every broker goes away

  Clock::time_point t0 = Clock::now();
  const absl::Status published = (*pub)->Publish("b", "after");
  const absl::Status flushed = published.ok() ? (*pub)->Flush(2) : published;
  const double t_fail = SecondsSince(t0);
  EXPECT_FALSE(flushed.ok());
  EXPECT_LT(t_fail, 6.0);
  std::printf("[ KAFKA    ] cluster gone: Publish=%s, Flush(2 s) after %.2f s: %s\n",
              published.ToString().c_str(), t_fail, flushed.ToString().c_str());

  t0 = Clock::now();
  pub->reset();  // must not wait out message.timeout.ms either
  EXPECT_LT(SecondsSince(t0), 10.0);
  std::printf("[ KAFKA    ] publisher with an undelivered message closed in %.2f s\n", SecondsSince(t0));

  // The consume loop keeps retrying (errors logged at most once a second).
  // By now an auto-commit (every 5 s) waits for the missing coordinator:
  // Stop() and the destructor still end within the 2 s broker probe plus
  // session.timeout.ms (10 s).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  t0 = Clock::now();
  (*sub)->Stop();
  const double t_stop = SecondsSince(t0);
  sub->reset();
  EXPECT_LT(SecondsSince(t0), 16.0);
  std::printf("[ KAFKA    ] subscriber without a cluster: Stop() %.2f s, destroyed after %.2f s\n", t_stop,
              SecondsSince(t0));
}

TEST(KafkaTransportTest, RejectsTopicsKafkaCannotName) {
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse("kafka://127.0.0.1:9092/mliot/kitchen/samples");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(OpenKafkaPublisher(*uri, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenKafkaSubscriber(*uri, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KafkaTransportTest, OpensThroughBrokerUri) {
  auto cluster = KafkaMockCluster::Start(1, "samples", 8);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse("kafka://" + (*cluster)->bootstraps() + "/samples");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(uri->scheme, "kafka");
  EXPECT_EQ(uri->topic, "samples");

  auto sub = OpenSubscriber(*uri, TransportOptions{});  // group mliot-samples, generated client id
  ASSERT_TRUE(sub.ok()) << sub.status();
  Collector got("samples");
  ASSERT_TRUE((*sub)->Start(got.Handler()).ok());
  auto pub = OpenPublisher(*uri, TransportOptions{});
  ASSERT_TRUE(pub.ok()) << pub.status();

  // Published before the group join completes: auto.offset.reset=earliest
  // still delivers them.
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE((*pub)->Publish(Key(i), Payload(i)).ok());
  ASSERT_TRUE((*pub)->Flush(10).ok());
  EXPECT_TRUE(got.WaitForUniqueKeys(kMessages, 20)) << got.unique_keys();
  (*sub)->Stop();
  EXPECT_EQ(got.unique_keys(), static_cast<size_t>(kMessages));
  EXPECT_EQ(got.bad_payloads(), 0);
}

}  // namespace
}  // namespace mliot::stream
