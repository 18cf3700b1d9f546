// kafka://HOST:PORT/TOPIC with librdkafka's C++ API.
//
// Publisher: an idempotent RdKafka::Producer (acks=all), messages keyed so a
// key always lands on the same partition. Delivery reports are served by
// poll(0) on every Publish and by flush(); failures are counted and reported
// by the next Flush.
// Subscriber: an RdKafka::KafkaConsumer in group options.group (default
// "mliot-<topic>"), starting at the earliest offset when the group has no
// committed one. A message's offset is stored for the auto-commit only after
// the handler returned (at-least-once). Broker outages are retried by
// librdkafka; error events and consume errors go to stderr at most once a
// second. Positions()/Seek() replay: librdkafka's seek is thread-safe and
// purges what was prefetched, so the loop simply reads from the new offset. Stop() commits and leaves the group when a broker answers, else it
// drops the consumer (bounded by session.timeout.ms, set to 10 s).
// Kafka topic names allow only [A-Za-z0-9._-]: a URI topic with '/' is an
// InvalidArgument error at open.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <librdkafka/rdkafkacpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "stream/transport.h"

namespace mliot::stream {
namespace {

using Clock = std::chrono::steady_clock;

// Kafka topic names: 1..249 of [A-Za-z0-9._-] (MQTT-style '/' is not allowed).
absl::Status ValidateTopic(const BrokerUri& uri) {
  bool ok = !uri.topic.empty() && uri.topic.size() <= 249 && uri.topic != "." && uri.topic != "..";
  for (char c : uri.topic) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-')) {
      ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("broker '", uri.ToString(), "': kafka topic '", uri.topic,
                                                 "': use 1-249 of letters, digits, '.', '_', '-' (e.g. mliot.kitchen.samples)"));
}

std::string GeneratedClientId() {
  static std::atomic<int> counter{0};
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof(host), "host");
  return absl::StrCat("mliot-", host, "-", static_cast<int>(getpid()), "-", counter.fetch_add(1));
}

// librdkafka's logs and error events for one client, to stderr. Error events
// (and consume errors) are printed at most once a second with a count of the
// ones held back; librdkafka itself retries the brokers. Called from
// librdkafka's threads and from poll()/consume() callers.
class KafkaEvents : public RdKafka::EventCb {
 public:
  explicit KafkaEvents(std::string name) : name_(std::move(name)) {}

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_ERROR:
        Error(absl::StrCat(event.fatal() ? "fatal: " : "", event.str().empty() ? RdKafka::err2str(event.err())
                                                                                : event.str()));
        break;
      case RdKafka::Event::EVENT_LOG:
        std::fprintf(stderr, "%s: [%s] %s\n", name_.c_str(), event.fac().c_str(), event.str().c_str());
        break;
      default:  // stats, throttle
        break;
    }
  }

  void Error(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = Clock::now();
    if (logged_ && now - last_ < std::chrono::seconds(1)) {
      ++held_back_;
      return;
    }
    if (held_back_ > 0) {
      std::fprintf(stderr, "%s: %s (and %lld more errors since the last one shown)\n", name_.c_str(), text.c_str(),
                   static_cast<long long>(held_back_));
    } else {
      std::fprintf(stderr, "%s: %s\n", name_.c_str(), text.c_str());
    }
    logged_ = true;
    last_ = now;
    held_back_ = 0;
  }

 private:
  const std::string name_;
  std::mutex mu_;
  bool logged_ = false;
  Clock::time_point last_;
  int64_t held_back_ = 0;
};

class ConfBuilder {
 public:
  ConfBuilder() : conf_(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL)) {}

  ConfBuilder& Set(const std::string& name, const std::string& value) {
    return Apply(name, value, absl::StatusCode::kInvalidArgument);
  }
  ConfBuilder& SetDeliveryReportCb(RdKafka::DeliveryReportCb* cb) {
    return Apply("dr_cb", cb, absl::StatusCode::kInternal);
  }
  ConfBuilder& SetEventCb(RdKafka::EventCb* cb) { return Apply("event_cb", cb, absl::StatusCode::kInternal); }
  // Connection settings shared by producer and consumer.
  ConfBuilder& Common(const BrokerUri& uri, const TransportOptions& options) {
    Set("bootstrap.servers", uri.HostPort());
    Set("client.id", options.client_id.empty() ? GeneratedClientId() : options.client_id);
    const bool tls = !options.tls_ca.empty();
    const bool sasl = !options.username.empty();
    if (tls) {
      // Either the PEM text itself or a path to a PEM file.
      if (options.tls_ca.find("-----BEGIN") != std::string::npos) {
        Set("ssl.ca.pem", options.tls_ca);
      } else {
        Set("ssl.ca.location", options.tls_ca);
      }
    }
    if (sasl) {
      Set("sasl.mechanisms", "PLAIN");
      Set("sasl.username", options.username);
      Set("sasl.password", options.password);
    }
    Set("security.protocol", sasl ? (tls ? "sasl_ssl" : "sasl_plaintext") : (tls ? "ssl" : "plaintext"));
    return *this;
  }

  const absl::Status& status() const { return status_; }
  RdKafka::Conf* conf() const { return conf_.get(); }

 private:
  // One of Conf::set's overloads (a string, or a callback object).
  template <typename Value>
  ConfBuilder& Apply(const std::string& name, Value value, absl::StatusCode code) {
    if (!status_.ok()) return *this;
    std::string errstr;
    if (conf_->set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
      status_ = absl::Status(code, absl::StrCat("kafka config ", name, ": ", errstr));
    }
    return *this;
  }

  std::unique_ptr<RdKafka::Conf> conf_;
  absl::Status status_;
};

// ---------------------------------------------------------------- publisher

// Counts failed deliveries until the next Flush takes them.
class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_++ == 0) {
      first_error_ = message.errstr();
      first_code_ = message.err();
    }
  }

  // Failures since the last call, with the first one's text and code.
  int64_t TakeFailures(std::string* first_error, RdKafka::ErrorCode* first_code) {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t n = failed_;
    *first_error = first_error_;
    *first_code = first_code_;
    failed_ = 0;
    first_error_.clear();
    first_code_ = RdKafka::ERR_NO_ERROR;
    return n;
  }

 private:
  std::mutex mu_;
  int64_t failed_ = 0;
  std::string first_error_;
  RdKafka::ErrorCode first_code_ = RdKafka::ERR_NO_ERROR;
};

class KafkaPublisher : public Publisher {
 public:
  KafkaPublisher(BrokerUri uri, std::unique_ptr<KafkaEvents> events, std::unique_ptr<DeliveryCounter> dr,
                 std::unique_ptr<RdKafka::Producer> producer)
      : uri_(std::move(uri)), events_(std::move(events)), dr_(std::move(dr)), producer_(std::move(producer)) {}

  ~KafkaPublisher() override {
    // Give outstanding messages a short chance, then drop them: a destructor
    // must not wait out message.timeout.ms for a broker that is gone.
    if (producer_->outq_len() > 0) producer_->flush(2000);
    const int left = producer_->outq_len();
    if (left > 0) {
      producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
      producer_->poll(0);
      std::fprintf(stderr, "kafka publisher %s: closing with %d undelivered messages (dropped; Flush first)\n",
                   uri_.ToString().c_str(), left);
    }
    producer_.reset();  // before the callbacks it calls into
  }

  absl::Status Publish(const std::string& key, const std::string& payload) override {
    for (;;) {
      const RdKafka::ErrorCode err =
          producer_->produce(uri_.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(payload.data()), payload.size(), key.empty() ? nullptr : key.data(),
                             key.size(), /*timestamp=*/0, /*msg_opaque=*/nullptr);
      if (err == RdKafka::ERR_NO_ERROR) {
        producer_->poll(0);  // serve delivery reports and events
        return absl::OkStatus();
      }
      if (err == RdKafka::ERR__QUEUE_FULL) {
        // queue.buffering.max.messages unacknowledged: wait for deliveries
        // (or for message.timeout.ms to fail them).
        producer_->poll(1);
        continue;
      }
      if (err == RdKafka::ERR__FATAL) {
        std::string reason;
        producer_->fatal_error(reason);
        return absl::FailedPreconditionError(
            absl::StrCat("kafka publish to ", uri_.ToString(), ": producer failed for good: ", reason));
      }
      if (err == RdKafka::ERR_MSG_SIZE_TOO_LARGE) {
        return absl::InvalidArgumentError(absl::StrCat("kafka publish to ", uri_.ToString(), ": payload of ",
                                                       payload.size(), " bytes: ", RdKafka::err2str(err)));
      }
      return absl::UnavailableError(absl::StrCat("kafka publish to ", uri_.ToString(), ": ", RdKafka::err2str(err)));
    }
  }

  absl::Status Flush(double timeout_s) override {
    const int timeout_ms = timeout_s <= 0 ? 0 : static_cast<int>(std::min(timeout_s * 1000.0, 2.0e9));
    const RdKafka::ErrorCode err = producer_->flush(timeout_ms);
    std::string first_error;
    RdKafka::ErrorCode first_code = RdKafka::ERR_NO_ERROR;
    const int64_t failed = dr_->TakeFailures(&first_error, &first_code);
    if (failed > 0) {
      const std::string msg = absl::StrCat("kafka publish to ", uri_.ToString(), ": ", failed,
                                           " messages not delivered (", first_error, ")");
      if (first_code == RdKafka::ERR__MSG_TIMED_OUT) return absl::DeadlineExceededError(msg);
      return absl::UnavailableError(msg);
    }
    if (err == RdKafka::ERR__TIMED_OUT) {
      return absl::DeadlineExceededError(absl::StrCat("kafka flush to ", uri_.ToString(), ": ",
                                                      producer_->outq_len(), " messages still unacknowledged after ",
                                                      timeout_s, " s"));
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("kafka flush to ", uri_.ToString(), ": ", RdKafka::err2str(err)));
    }
    return absl::OkStatus();
  }

 private:
  const BrokerUri uri_;
  std::unique_ptr<KafkaEvents> events_;
  std::unique_ptr<DeliveryCounter> dr_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

// --------------------------------------------------------------- subscriber

// Stop() first asks a broker for metadata for this long. Without a reachable
// cluster close() would wait out session.timeout.ms for the group coordinator,
// so the consumer is then dropped without leaving its group. (Destroying it
// still waits up to session.timeout.ms when an auto-commit is queued for the
// missing coordinator; an asynchronous close(Queue*) abandoned after a
// deadline makes the destruction wait just as long.)
constexpr int kCloseProbeMs = 2000;

class KafkaSubscriber : public Subscriber {
 public:
  KafkaSubscriber(BrokerUri uri, std::unique_ptr<KafkaEvents> events, std::unique_ptr<RdKafka::KafkaConsumer> consumer)
      : uri_(std::move(uri)), events_(std::move(events)), consumer_(std::move(consumer)) {}

  ~KafkaSubscriber() override {
    Stop();
    consumer_.reset();  // before events_
  }

  absl::Status Start(Handler handler) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return absl::FailedPreconditionError(absl::StrCat("kafka subscriber ", uri_.ToString(), ": already started"));
    if (closed_) return absl::FailedPreconditionError(absl::StrCat("kafka subscriber ", uri_.ToString(), ": stopped"));
    const RdKafka::ErrorCode err = consumer_->subscribe({uri_.topic});
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("kafka subscribe to ", uri_.ToString(), ": ", RdKafka::err2str(err)));
    }
    started_ = true;
    thread_ = std::thread([this, handler = std::move(handler)] { Loop(handler); });
    return absl::OkStatus();
  }

  void Stop() override {
    stop_.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable()) {
      // Called from the handler: the loop ends after it returns; the
      // destructor (on another thread) joins and closes.
      if (thread_.get_id() == std::this_thread::get_id()) return;
      thread_.join();
    }
    if (closed_) return;
    closed_ = true;
    Close();
  }

  absl::StatusOr<std::map<int32_t, int64_t>> Positions() override {
    std::vector<RdKafka::TopicPartition*> partitions;
    RdKafka::ErrorCode err = consumer_->assignment(partitions);
    if (err == RdKafka::ERR_NO_ERROR) err = consumer_->position(partitions);
    std::map<int32_t, int64_t> out;
    for (RdKafka::TopicPartition* p : partitions) {
      // No message read yet in this partition: it starts at the beginning
      // (auto.offset.reset=earliest) unless the group committed an offset.
      out[p->partition()] = p->offset() >= 0 ? p->offset() : kOffsetBeginning;
    }
    RdKafka::TopicPartition::destroy(partitions);
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("kafka subscriber ", uri_.ToString(), ": positions: ", RdKafka::err2str(err)));
    }
    return out;
  }

  absl::Status Seek(const std::map<int32_t, int64_t>& offsets) override {
    for (const auto& [partition, offset] : offsets) {
      std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(uri_.topic, partition, offset));
      const RdKafka::ErrorCode err = consumer_->seek(*tp, 5000);
      if (err != RdKafka::ERR_NO_ERROR) {
        return absl::FailedPreconditionError(absl::StrCat("kafka subscriber ", uri_.ToString(), ": seek partition ",
                                                          partition, " to ", offset, ": ", RdKafka::err2str(err)));
      }
    }
    return absl::OkStatus();
  }

 private:
  void Loop(const Handler& handler) {
    while (!stop_.load(std::memory_order_relaxed)) {
      std::unique_ptr<RdKafka::Message> msg(consumer_->consume(100));
      if (!msg) continue;
      switch (msg->err()) {
        case RdKafka::ERR_NO_ERROR: {
          Message m;
          m.topic = msg->topic_name();
          if (msg->key_pointer() != nullptr) {
            m.key.assign(static_cast<const char*>(msg->key_pointer()), msg->key_len());
          }
          if (msg->payload() != nullptr) m.payload.assign(static_cast<const char*>(msg->payload()), msg->len());
          handler(m);
          StoreOffset(*msg);
          break;
        }
        case RdKafka::ERR__TIMED_OUT:
        case RdKafka::ERR__PARTITION_EOF:
          break;
        default:
          events_->Error(msg->errstr());
          break;
      }
    }
  }

  // The next offset to read in this partition, committed by the auto-commit.
  void StoreOffset(const RdKafka::Message& msg) {
    std::vector<RdKafka::TopicPartition*> offsets = {
        RdKafka::TopicPartition::create(msg.topic_name(), msg.partition(), msg.offset() + 1)};
    consumer_->offsets_store(offsets);  // fails only when the partition was revoked meanwhile
    RdKafka::TopicPartition::destroy(offsets);
  }

  // Commits stored offsets and leaves the group when a broker answers;
  // otherwise the group reassigns our partitions after session.timeout.ms and
  // the uncommitted messages are delivered again (at-least-once).
  void Close() {
    RdKafka::Metadata* metadata = nullptr;
    const RdKafka::ErrorCode probe = consumer_->metadata(/*all_topics=*/false, nullptr, &metadata, kCloseProbeMs);
    delete metadata;
    if (probe != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka subscriber %s: no broker answers (%s): leaving without committing or leaving the group\n",
                   uri_.ToString().c_str(), RdKafka::err2str(probe).c_str());
      return;  // the destructor drops the handle without a consumer close
    }
    const RdKafka::ErrorCode err = consumer_->close();
    if (err != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka subscriber %s: close: %s\n", uri_.ToString().c_str(), RdKafka::err2str(err).c_str());
    }
  }

  const BrokerUri uri_;
  std::unique_ptr<KafkaEvents> events_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // started_, closed_, thread_
  bool started_ = false;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Publisher>> OpenKafkaPublisher(const BrokerUri& uri, const TransportOptions& options) {
  if (absl::Status s = ValidateTopic(uri); !s.ok()) return s;
  auto events = std::make_unique<KafkaEvents>(absl::StrCat("kafka publisher ", uri.ToString()));
  auto dr = std::make_unique<DeliveryCounter>();
  ConfBuilder conf;
  conf.Common(uri, options)
      .Set("acks", "all")
      .Set("enable.idempotence", "true")
      .Set("linger.ms", "5")
      .Set("batch.num.messages", "10000")
      .Set("queue.buffering.max.messages", "1000000")
      .SetEventCb(events.get())
      .SetDeliveryReportCb(dr.get());
  if (!conf.status().ok()) return conf.status();
  std::string errstr;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.conf(), errstr));
  if (!producer) return absl::InvalidArgumentError(absl::StrCat("kafka producer for ", uri.ToString(), ": ", errstr));
  return std::unique_ptr<Publisher>(new KafkaPublisher(uri, std::move(events), std::move(dr), std::move(producer)));
}

absl::StatusOr<std::unique_ptr<Subscriber>> OpenKafkaSubscriber(const BrokerUri& uri, const TransportOptions& options) {
  if (absl::Status s = ValidateTopic(uri); !s.ok()) return s;
  auto events = std::make_unique<KafkaEvents>(absl::StrCat("kafka subscriber ", uri.ToString()));
  ConfBuilder conf;
  conf.Common(uri, options)
      .Set("group.id", options.group.empty() ? absl::StrCat("mliot-", uri.topic) : options.group)
      .Set("enable.auto.commit", "true")
      .Set("enable.auto.offset.store", "false")  // stored after the handler returns
      .Set("auto.offset.reset", "earliest")
      // librdkafka 2.x defaults to 45 s. Besides how long a vanished consumer
      // holds its partitions, this bounds how long destroying the consumer
      // waits for an offset commit queued while no broker is reachable.
      .Set("session.timeout.ms", "10000")
      .SetEventCb(events.get());
  if (!conf.status().ok()) return conf.status();
  std::string errstr;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.conf(), errstr));
  if (!consumer) return absl::InvalidArgumentError(absl::StrCat("kafka consumer for ", uri.ToString(), ": ", errstr));
  return std::unique_ptr<Subscriber>(new KafkaSubscriber(uri, std::move(events), std::move(consumer)));
}

}  // namespace mliot::stream
