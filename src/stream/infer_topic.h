// Prediction requests over the broker, for devices that speak MQTT or Kafka
// rather than gRPC. A device publishes a Sample (label empty; chunked like
// any sample when large) on the task's infer topic; the serving worker
// answers each with a SamplePrediction on the device's own topic:
//
//   MQTT    mliot/<task>/infer   ->  mliot/<task>/pred/<device>
//   Kafka   mliot.<task>.infer   ->  mliot.<task>.pred.<device>
//           (Kafka topic names do not allow '/')
//
// Requests that cannot be answered (wrong size, no model yet) are answered
// with `error` set, so a device never waits for nothing; messages that are
// not samples are counted and skipped. One publisher per device topic is
// kept, at most kMaxDevices (least recently used closed first).
#ifndef MLIOT_STREAM_INFER_TOPIC_H_
#define MLIOT_STREAM_INFER_TOPIC_H_

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/broker_uri.h"
#include "mliot/v1/sample.pb.h"
#include "mliot/v1/serving.pb.h"
#include "features/featurizer.h"
#include "stream/ingest.h"
#include "stream/raw_windower.h"
#include "stream/transport.h"

namespace mliot::stream {

std::string InferTopic(const std::string& scheme, const std::string& task);
std::string PredTopic(const std::string& scheme, const std::string& task, const std::string& device);

struct InferCounters {
  int64_t requests = 0;
  int64_t answered = 0;  // with a prediction
  int64_t errors = 0;    // answered with `error`
  int64_t unsent = 0;    // the answer could not be published
};

class InferTopicServer {
 public:
  // One row of the sample's features -> the serving worker's answer.
  using PredictFn = std::function<absl::StatusOr<v1::PredictResponse>(const std::vector<float>& row)>;
  static constexpr size_t kMaxDevices = 64;

  // `broker`: scheme, host and port are used; the topics are the task's.
  // With `featurizer`, requests are chunks of a raw stream (audio, sensor
  // readings): each device's chunks are cut into windows (RawWindower) and
  // every complete window is answered, its id "<device>-f<first>-<end>".
  static absl::StatusOr<std::unique_ptr<InferTopicServer>> Start(
      const BrokerUri& broker, const std::string& task, PredictFn predict,
      std::optional<FeaturizerConfig> featurizer = std::nullopt);
  ~InferTopicServer();
  void Stop();

  InferCounters counters() const;
  IngestCounters ingest_counters() const { return ingest_->counters(); }

 private:
  InferTopicServer(BrokerUri broker, std::string task, PredictFn predict)
      : broker_(std::move(broker)), task_(std::move(task)), predict_(std::move(predict)) {}
  void Answer(v1::Sample&& request);
  void AnswerRaw(v1::Sample&& chunk);
  // Predicts `row` and publishes the answer for `id` to `device`.
  void Reply(const std::string& id, const std::string& device, const absl::StatusOr<std::vector<float>>& row);
  absl::StatusOr<Publisher*> PublisherFor(const std::string& device) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BrokerUri broker_;
  const std::string task_;
  const PredictFn predict_;
  std::unique_ptr<Ingestor> ingest_;
  std::unique_ptr<RawWindower> windower_;  // raw streams; used by the ingest thread only
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Publisher>> publishers_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> recent_ ABSL_GUARDED_BY(mu_);  // devices, most recent first
  InferCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_INFER_TOPIC_H_
