// An in-process Kafka cluster for tests: librdkafka's mock cluster
// (rdkafka_mock.h), which speaks the Kafka protocol on 127.0.0.1 ports and
// supports producers (idempotent too), consumer groups and offset commits.
//
//   MLIOT_ASSIGN_OR_RETURN(auto cluster, KafkaMockCluster::Start(1, "samples", 8));
//   BrokerUri uri = *BrokerUri::Parse("kafka://" + cluster->bootstraps() + "/samples");
//
// The mock keeps only about 5 MiB (or 100000 messages) per partition and drops
// the oldest data beyond that: spread large volumes over several partitions
// and consume while producing. Destroy every client before the cluster (or
// destroy the cluster first to simulate a broker that went away).
#ifndef MLIOT_STREAM_KAFKA_MOCK_H_
#define MLIOT_STREAM_KAFKA_MOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace mliot::stream {

class KafkaMockCluster {
 public:
  // `brokers` mock brokers; `topic` created with `partitions` partitions
  // (replication factor 1).
  static absl::StatusOr<std::unique_ptr<KafkaMockCluster>> Start(int brokers, const std::string& topic,
                                                                 int partitions);
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // Another topic (replication factor 1).
  absl::Status CreateTopic(const std::string& topic, int partitions);

  // "127.0.0.1:PORT[,127.0.0.1:PORT...]": the bootstrap.servers for clients.
  std::string bootstraps() const { return bootstraps_; }

 private:
  KafkaMockCluster() = default;

  rd_kafka_s* rk_ = nullptr;                     // dummy handle owning the mock's threads
  rd_kafka_mock_cluster_s* mcluster_ = nullptr;
  std::string bootstraps_;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_KAFKA_MOCK_H_
