#include "bench/broker.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace mliot::bench {

std::string BenchBroker::Topic(const std::string& slashed) const {
  return kafka ? absl::StrReplaceAll(slashed, {{"/", "."}}) : slashed;
}

absl::StatusOr<BenchBroker> StartBroker(const std::string& kind, const std::string& dir) {
  BenchBroker b;
  if (kind == "mqtt") {
    absl::StatusOr<std::unique_ptr<stream::MosquittoBroker>> m =
        stream::MosquittoBroker::Start(dir + "/mosquitto");
    if (!m.ok()) return m.status();
    b.mosquitto = std::move(*m);
    b.base = absl::StrCat("mqtt://127.0.0.1:", b.mosquitto->port(), "/");
  } else {
    // The mock keeps ~5 MiB per partition and the label is the key: one
    // partition per label spreads the data, and benchmarks consume while
    // they produce.
    absl::StatusOr<std::unique_ptr<stream::KafkaMockCluster>> k =
        stream::KafkaMockCluster::Start(1, "mliot.bench.samples", kBenchLabels);
    if (!k.ok()) return k.status();
    b.kafka = std::move(*k);
    if (absl::Status s = b.kafka->CreateTopic("mliot.bench.peer", kBenchLabels); !s.ok()) return s;
    b.base = absl::StrCat("kafka://", b.kafka->bootstraps(), "/");
  }
  return b;
}

absl::Status WarmUp(stream::Publisher& pub, const std::function<int64_t()>& received) {
  const int64_t before = received();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (absl::Status s = pub.Publish("warmup", "warmup"); !s.ok()) return s;
    (void)pub.Flush(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (received() > before) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // late warm-ups arrive now
      return absl::OkStatus();
    }
  }
  return absl::DeadlineExceededError("subscriber received nothing within 30 s");
}

}  // namespace mliot::bench
