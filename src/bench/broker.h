// A broker owned by a benchmark for its duration (a Mosquitto process on a
// free loopback port, or librdkafka's mock cluster), shared by `bench
// transport`, `bench stream-train` and `bench data-parallel`.
#ifndef MLIOT_BENCH_BROKER_H_
#define MLIOT_BENCH_BROKER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "stream/kafka_mock.h"
#include "stream/mosquitto_broker.h"
#include "stream/transport.h"

namespace mliot::bench {

constexpr int kBenchLabels = 64;  // distinct keys (labels) of the synthetic samples

struct BenchBroker {
  std::unique_ptr<stream::MosquittoBroker> mosquitto;
  std::unique_ptr<stream::KafkaMockCluster> kafka;
  std::string base;  // scheme://host:port/
  // The topic `a/b/c` in this broker's spelling (Kafka: `a.b.c`).
  std::string Topic(const std::string& slashed) const;
};

// kind: mqtt | kafka. The Kafka mock gets the topics mliot.bench.samples and
// mliot.bench.peer with kBenchLabels partitions each.
absl::StatusOr<BenchBroker> StartBroker(const std::string& kind, const std::string& dir);

// Publishes a warm-up message every 100 ms until `received` moves (at most
// 30 s): a Kafka group join takes seconds.
absl::Status WarmUp(stream::Publisher& pub, const std::function<int64_t()>& received);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_BROKER_H_
