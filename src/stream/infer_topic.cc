#include "stream/infer_topic.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "stream/device_simulator.h"

namespace mliot::stream {

std::string InferTopic(const std::string& scheme, const std::string& task) {
  return scheme == "kafka" ? absl::StrCat("mliot.", task, ".infer") : absl::StrCat("mliot/", task, "/infer");
}

std::string PredTopic(const std::string& scheme, const std::string& task, const std::string& device) {
  return scheme == "kafka" ? absl::StrCat("mliot.", task, ".pred.", device)
                           : absl::StrCat("mliot/", task, "/pred/", device);
}

absl::StatusOr<std::unique_ptr<InferTopicServer>> InferTopicServer::Start(const BrokerUri& broker,
                                                                           const std::string& task,
                                                                           PredictFn predict,
                                                                           std::optional<FeaturizerConfig> featurizer) {
  std::unique_ptr<InferTopicServer> server(new InferTopicServer(broker, task, std::move(predict)));
  if (featurizer) server->windower_ = std::make_unique<RawWindower>(*featurizer);
  BrokerUri in = broker;
  in.topic = InferTopic(broker.scheme, task);
  TransportOptions options;
  options.client_id = absl::StrCat("mliot-", task, "-infer");
  options.qos = 1;
  if (broker.scheme == "kafka") options.group = absl::StrCat("mliot-", task, "-infer");
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Subscriber> subscriber, OpenSubscriber(in, options));
  InferTopicServer* self = server.get();
  server->ingest_ = std::make_unique<Ingestor>(std::move(subscriber), [self](v1::Sample&& request) {
    if (self->windower_) {
      self->AnswerRaw(std::move(request));
    } else {
      self->Answer(std::move(request));
    }
  });
  MLIOT_RETURN_IF_ERROR(server->ingest_->Start());
  return server;
}

InferTopicServer::~InferTopicServer() { Stop(); }

void InferTopicServer::Stop() {
  if (ingest_) ingest_->Stop();
  absl::MutexLock lock(&mu_);
  publishers_.clear();
  recent_.clear();
}

InferCounters InferTopicServer::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

absl::StatusOr<Publisher*> InferTopicServer::PublisherFor(const std::string& device) {
  auto it = publishers_.find(device);
  recent_.remove(device);
  recent_.push_front(device);
  if (it != publishers_.end()) return it->second.get();
  if (publishers_.size() >= kMaxDevices) {
    publishers_.erase(recent_.back());
    recent_.pop_back();
  }
  BrokerUri out = broker_;
  out.topic = PredTopic(broker_.scheme, task_, device);
  TransportOptions options;
  options.client_id = absl::StrCat("mliot-", task_, "-pred-", device);
  options.qos = 1;
  // This runs on the infer subscriber's delivery thread: waiting here for the
  // new client's connection would stall it (Paho's threads are shared) until
  // the connect timeout, delaying a new device's first answers by ~6 s.
  options.wait_for_connect = false;
  absl::StatusOr<std::unique_ptr<Publisher>> p = OpenPublisher(out, options);
  if (!p.ok()) {
    recent_.pop_front();
    return p.status();
  }
  Publisher* raw = p->get();
  publishers_[device] = std::move(*p);
  return raw;
}

void InferTopicServer::Answer(v1::Sample&& request) {
  Reply(request.id(), request.device(), SampleFeatures(request));
}

void InferTopicServer::AnswerRaw(v1::Sample&& chunk) {
  absl::StatusOr<std::vector<FeaturizedWindow>> windows = windower_->Add(chunk);
  if (!windows.ok()) {
    Reply(chunk.id(), chunk.device(), windows.status());
    return;
  }
  for (const FeaturizedWindow& w : *windows) Reply(WindowId(w), chunk.device(), w.row);
}

void InferTopicServer::Reply(const std::string& id, const std::string& request_device,
                             const absl::StatusOr<std::vector<float>>& row) {
  v1::SamplePrediction answer;
  answer.set_id(id);
  answer.set_task(task_);
  answer.set_device(request_device);
  absl::StatusOr<v1::PredictResponse> response =
      row.ok() ? predict_(*row) : absl::StatusOr<v1::PredictResponse>(row.status());
  if (response.ok() && response->predictions_size() == 1) {
    const v1::Prediction& p = response->predictions(0);
    answer.set_label(p.label());
    answer.set_label_index(p.label_index());
    *answer.mutable_certainties() = p.certainties();
    answer.set_stage(p.stage());
    answer.set_version(response->version());
    answer.set_worker_latency_ms(response->worker_latency_ms());
  } else {
    answer.set_error(response.ok() ? "no prediction" : std::string(response.status().message()));
  }
  const std::string device = request_device.empty() ? std::string("unknown") : request_device;
  absl::MutexLock lock(&mu_);
  ++counters_.requests;
  ++(answer.error().empty() ? counters_.answered : counters_.errors);
  absl::StatusOr<Publisher*> publisher = PublisherFor(device);
  absl::Status sent = publisher.ok() ? (*publisher)->Publish(id, answer.SerializeAsString())
                                     : publisher.status();
  if (!sent.ok() && counters_.unsent++ < 5) {
    std::fprintf(stderr, "infer %s: cannot answer %s: %s\n", task_.c_str(), device.c_str(),
                 std::string(sent.message()).c_str());
  }
}

}  // namespace mliot::stream
