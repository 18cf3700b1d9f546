#include "bench/transport_bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/broker.h"
#include "bench/kit.h"
#include "common/status_util.h"
#include "data/dataset.h"
#include "stream/device_simulator.h"
#include "stream/ingest.h"

namespace mliot::bench {
namespace {

void Say(const std::string& line) { Progress("transport", line); }

struct Throughput {
  int64_t received = 0;
  int64_t lost = 0;
  double seconds = 0;
};

// Publishes `count` messages through `publish` while `received` counts what
// arrives; times from the first publish to the last arrival (or a stall).
Throughput Measure(int64_t count, const std::function<absl::Status()>& publish_all,
                   const std::function<int64_t()>& received) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = publish_all();
  if (!s.ok()) Say(absl::StrCat("publish: ", s.message()));
  int64_t last = -1;
  auto last_change = std::chrono::steady_clock::now();
  auto done_at = last_change;
  while (true) {
    const int64_t now_received = received();
    const auto now = std::chrono::steady_clock::now();
    if (now_received != last) {
      last = now_received;
      last_change = now;
      done_at = now;
    }
    if (now_received >= count || now - last_change > std::chrono::seconds(10)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Throughput t;
  t.received = std::min(last, count);
  t.lost = count - t.received;
  t.seconds = std::chrono::duration<double>(done_at - start).count();
  return t;
}

absl::StatusOr<nlohmann::json> RunOnce(const TransportBenchOptions& a) {
  const std::string dir = TempDir("transport");
  std::filesystem::remove_all(dir);
  absl::StatusOr<BenchBroker> broker = StartBroker(a.broker, dir);
  if (!broker.ok()) return broker.status();
  // Synthetic device data: `size` bytes per sample (uint8 pixels, 1 x size).
  Dataset data;
  data.rows = std::min<int64_t>(a.count, 1000);
  data.cols = a.size;
  data.shape = ImageShape{1, static_cast<int>(a.size)};
  for (int c = 0; c < kBenchLabels; ++c) data.class_names.push_back(absl::StrCat("c", c));
  data.source = "synthetic";
  for (int64_t i = 0; i < data.rows; ++i) {
    data.labels.push_back(static_cast<int32_t>(i % kBenchLabels));
    for (int64_t j = 0; j < a.size; ++j)
      data.features.push_back(static_cast<float>((i + j) % 256) / 255.0f);
  }
  stream::TransportOptions t;
  t.qos = 1;

  // 1. The ingest path: device simulator -> broker -> Ingestor (reassembly).
  absl::StatusOr<BrokerUri> uri =
      BrokerUri::Parse(broker->base + broker->Topic("mliot/bench/samples"));
  if (!uri.ok()) return uri.status();
  absl::Mutex mu;
  std::set<std::string> ids;
  int64_t bytes = 0;
  t.client_id = absl::StrCat("mliot-ingest-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> sub = stream::OpenSubscriber(*uri, t);
  if (!sub.ok()) return sub.status();
  stream::Ingestor ingest(std::move(*sub), [&](v1::Sample&& s) {
    absl::MutexLock lock(&mu);
    bytes += static_cast<int64_t>(s.payload().size());
    ids.insert(s.id());
  });
  MLIOT_RETURN_IF_ERROR(ingest.Start());
  t.client_id = absl::StrCat("mliot-device-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Publisher>> pub = stream::OpenPublisher(*uri, t);
  if (!pub.ok()) return pub.status();
  // Wait until the subscription is live (a Kafka group join takes seconds):
  // warm-up messages, which the ingest path counts as malformed.
  if (absl::Status s = WarmUp(**pub, [&] { return ingest.counters().messages; }); !s.ok()) return s;
  const int64_t warmup_malformed = ingest.counters().malformed;
  Say(absl::StrCat("ingest: ", a.count, " samples of ", a.size, " bytes through ",
                   uri->ToString()));
  stream::SimulateOptions so;
  so.task = "bench";
  so.count = a.count;
  std::atomic<bool> stop{false};
  const Throughput ingest_t = Measure(
      a.count, [&] { return stream::Simulate(data, **pub, so, stop).status(); },
      [&] {
        absl::MutexLock lock(&mu);
        return static_cast<int64_t>(ids.size());
      });
  ingest.Stop();
  const stream::IngestCounters counters = ingest.counters();

  // 2. The peer: a bare publish/subscribe loop, same client library and broker.
  absl::StatusOr<BrokerUri> peer_uri =
      BrokerUri::Parse(broker->base + broker->Topic("mliot/bench/peer"));
  std::atomic<int64_t> peer_received{0};
  t.client_id = absl::StrCat("mliot-peer-sub-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> peer_sub =
      stream::OpenSubscriber(*peer_uri, t);
  if (!peer_sub.ok()) return peer_sub.status();
  if (absl::Status s =
          (*peer_sub)->Start([&](const stream::Message&) { peer_received.fetch_add(1); });
      !s.ok()) {
    return s;
  }
  t.client_id = absl::StrCat("mliot-peer-pub-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Publisher>> peer_pub = stream::OpenPublisher(*peer_uri, t);
  if (!peer_pub.ok()) return peer_pub.status();
  if (absl::Status s = WarmUp(**peer_pub, [&] { return peer_received.load(); }); !s.ok()) return s;
  peer_received.store(0);
  const std::string payload(static_cast<size_t>(a.size), 'x');
  Say("peer: bare publish/subscribe loop");
  const Throughput peer_t = Measure(
      a.count,
      [&]() -> absl::Status {
        for (int64_t i = 0; i < a.count; ++i) {
          if (absl::Status s = (*peer_pub)->Publish(
                  data.class_names[static_cast<size_t>(i % kBenchLabels)], payload);
              !s.ok()) {
            return s;
          }
        }
        return (*peer_pub)->Flush(60);
      },
      [&] { return peer_received.load(); });
  (*peer_sub)->Stop();
  std::filesystem::remove_all(dir);

  const double msgs_per_s = ingest_t.received / std::max(1e-9, ingest_t.seconds);
  const double peer_per_s = peer_t.received / std::max(1e-9, peer_t.seconds);
  const nlohmann::json out = {
      {"broker", a.broker},
      {"msgs", ingest_t.received},
      {"lost", ingest_t.lost},
      {"msgs_per_s", msgs_per_s},
      {"mb_per_s", static_cast<double>(bytes) / 1e6 / std::max(1e-9, ingest_t.seconds)},
      {"malformed", counters.malformed - warmup_malformed},
      {"duplicates", counters.duplicates},
      {"fraction_of_peer", msgs_per_s / std::max(1e-9, peer_per_s)},
      {"peer", {{"msgs_per_s", peer_per_s}, {"msgs", peer_t.received}, {"lost", peer_t.lost}}}};
  return out;
}

}  // namespace

void MakeQuick(TransportBenchOptions& o) { o.count = 5000; }

absl::StatusOr<nlohmann::json> RunTransportBench(const TransportBenchOptions& a) {
  if (a.count <= 0 || a.size <= 0)
    return absl::InvalidArgumentError("--count and --size must be positive");
  return RunRepeated(a.repeat, [&] { return RunOnce(a); });
}

}  // namespace mliot::bench
