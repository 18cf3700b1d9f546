#include "stream/transport.h"

#include "absl/strings/str_cat.h"

namespace mliot::stream {

absl::StatusOr<std::map<int32_t, int64_t>> Subscriber::Positions() {
  return absl::UnimplementedError("this transport keeps no log to replay (Kafka does)");
}

absl::Status Subscriber::Seek(const std::map<int32_t, int64_t>&) {
  return absl::UnimplementedError("this transport keeps no log to replay (Kafka does)");
}

absl::StatusOr<std::unique_ptr<Publisher>> OpenPublisher(const BrokerUri& uri, const TransportOptions& options) {
  if (uri.scheme == "mqtt") return OpenMqttPublisher(uri, options);
  return OpenKafkaPublisher(uri, options);
}

absl::StatusOr<std::unique_ptr<Subscriber>> OpenSubscriber(const BrokerUri& uri, const TransportOptions& options) {
  if (uri.scheme == "mqtt") return OpenMqttSubscriber(uri, options);
  return OpenKafkaSubscriber(uri, options);
}

}  // namespace mliot::stream
