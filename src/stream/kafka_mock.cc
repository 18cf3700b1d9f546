#include "stream/kafka_mock.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mliot::stream {

absl::StatusOr<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Start(int brokers, const std::string& topic,
                                                                          int partitions) {
  if (brokers < 1) return absl::InvalidArgumentError(absl::StrCat("kafka mock: brokers ", brokers, ": need >= 1"));
  if (partitions < 1) {
    return absl::InvalidArgumentError(absl::StrCat("kafka mock: partitions ", partitions, ": need >= 1"));
  }
  if (topic.empty()) return absl::InvalidArgumentError("kafka mock: empty topic");

  std::unique_ptr<KafkaMockCluster> cluster(new KafkaMockCluster());
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // log_level 4: no notice that this handle has no bootstrap.servers (it never connects).
  if (rd_kafka_conf_set(conf, "client.id", "mliot-kafka-mock", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("kafka mock: ", errstr));
  }
  // rd_kafka_new takes ownership of conf on success only.
  cluster->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (cluster->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("kafka mock: rd_kafka_new: ", errstr));
  }
  cluster->mcluster_ = rd_kafka_mock_cluster_new(cluster->rk_, brokers);
  if (cluster->mcluster_ == nullptr) {
    return absl::InternalError(absl::StrCat("kafka mock: rd_kafka_mock_cluster_new(", brokers, " brokers) failed"));
  }
  if (absl::Status s = cluster->CreateTopic(topic, partitions); !s.ok()) return s;
  const char* bootstraps = rd_kafka_mock_cluster_bootstraps(cluster->mcluster_);
  if (bootstraps == nullptr || *bootstraps == '\0') return absl::InternalError("kafka mock: no bootstrap servers");
  cluster->bootstraps_ = bootstraps;
  return cluster;
}

absl::Status KafkaMockCluster::CreateTopic(const std::string& topic, int partitions) {
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(mcluster_, topic.c_str(), partitions, /*replication_factor=*/1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(
        absl::StrCat("kafka mock: create topic '", topic, "' (", partitions, " partitions): ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

KafkaMockCluster::~KafkaMockCluster() {
  if (mcluster_ != nullptr) rd_kafka_mock_cluster_destroy(mcluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

}  // namespace mliot::stream
