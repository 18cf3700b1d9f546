// Message transports for the data path, chosen by URI:
//   mqtt://HOST:PORT/TOPIC   Eclipse Paho C++ (QoS 0/1, persistent sessions,
//                            shared subscriptions $share/GROUP/TOPIC)
//   kafka://HOST:PORT/TOPIC  librdkafka (consumer groups, committed offsets)
// A Publisher sends (key, payload) pairs; a Subscriber calls a handler for
// each message it receives, on the transport's own thread. A broker that is
// down or goes away is retried with back-off by both.
#ifndef MLIOT_STREAM_TRANSPORT_H_
#define MLIOT_STREAM_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/broker_uri.h"

namespace mliot::stream {

struct TransportOptions {
  std::string client_id;      // MQTT client id / Kafka client.id; generated when empty
  int qos = 1;                // MQTT: 0 or 1
  // MQTT subscribers: false keeps the session (and its QoS-1 queue) across
  // reconnects. Publishers always use a clean session and re-publish what
  // was in flight themselves (mqtt_transport.cc explains why).
  bool clean_session = true;
  std::string group;          // MQTT shared subscription / Kafka consumer group
  std::string username, password;
  std::string tls_ca;         // PEM CA: TLS to the broker when set
  // MQTT: outstanding QoS-1 publishes before Publish waits. Paho scans its
  // pending list per acknowledgement: a few hundred is faster than thousands.
  int64_t max_in_flight = 256;
  // MQTT publishers: wait for the first connection (up to 6 s) before
  // returning. False returns at once and buffers publishes until connected:
  // required when opening a publisher on another client's delivery thread
  // (Paho's threads are shared: waiting there stalls the connection).
  bool wait_for_connect = true;
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Queues one message; blocks while too many are in flight. Returns an
  // error only when the transport is closed or the broker refused it for good.
  virtual absl::Status Publish(const std::string& key, const std::string& payload) = 0;
  // Waits until everything published so far is acknowledged (QoS 1 / acks).
  virtual absl::Status Flush(double timeout_s) = 0;
};

struct Message {
  std::string topic;
  std::string key;
  std::string payload;
};

class Subscriber {
 public:
  using Handler = std::function<void(const Message&)>;
  virtual ~Subscriber() = default;
  // Subscribes and starts delivering to `handler` (on the transport's thread).
  virtual absl::Status Start(Handler handler) = 0;
  virtual void Stop() = 0;

  // Replay (Kafka): the next offset this subscriber will read in each
  // partition it is assigned (kOffsetBeginning before it read any), and a
  // seek back to such offsets, so an epoch can be read again from the log
  // (record Positions() when the epoch starts, Seek() to them to replay it).
  // Messages after the offsets are delivered again. MQTT keeps no log:
  // Unimplemented there.
  static constexpr int64_t kOffsetBeginning = -2;  // librdkafka's OFFSET_BEGINNING
  virtual absl::StatusOr<std::map<int32_t, int64_t>> Positions();
  virtual absl::Status Seek(const std::map<int32_t, int64_t>& offsets);
};

absl::StatusOr<std::unique_ptr<Publisher>> OpenPublisher(const BrokerUri& uri, const TransportOptions& options);
absl::StatusOr<std::unique_ptr<Subscriber>> OpenSubscriber(const BrokerUri& uri, const TransportOptions& options);

// Per-scheme factories (mqtt_transport.cc, kafka_transport.cc).
absl::StatusOr<std::unique_ptr<Publisher>> OpenMqttPublisher(const BrokerUri& uri, const TransportOptions& options);
absl::StatusOr<std::unique_ptr<Subscriber>> OpenMqttSubscriber(const BrokerUri& uri, const TransportOptions& options);
absl::StatusOr<std::unique_ptr<Publisher>> OpenKafkaPublisher(const BrokerUri& uri, const TransportOptions& options);
absl::StatusOr<std::unique_ptr<Subscriber>> OpenKafkaSubscriber(const BrokerUri& uri, const TransportOptions& options);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_TRANSPORT_H_
