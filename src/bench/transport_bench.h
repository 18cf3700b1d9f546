// bench transport: the ingest path's throughput (device simulator -> MQTT
// or Kafka -> Ingestor, samples reassembled and deduplicated) next to a
// bare publish/subscribe loop of the same client library and broker.
#ifndef MLIOT_BENCH_TRANSPORT_BENCH_H_
#define MLIOT_BENCH_TRANSPORT_BENCH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct TransportBenchOptions {
  std::string broker = "mqtt";  // mqtt | kafka
  int64_t count = 50000;        // samples
  int64_t size = 784;           // payload bytes per sample
  int repeat = 1;
};

// `make bench-quick`: 5,000 samples.
void MakeQuick(TransportBenchOptions& options);

// {broker, msgs, lost, msgs_per_s, mb_per_s, malformed, duplicates,
//  fraction_of_peer, peer: {msgs_per_s, msgs, lost}, machine, range,
//  repeats}. Nothing lost means Largest(report, "lost") == 0.
absl::StatusOr<nlohmann::json> RunTransportBench(const TransportBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_TRANSPORT_BENCH_H_
