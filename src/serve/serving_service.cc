#include "serve/serving_service.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "common/status_util.h"
#include "serve/bundle_reader.h"

namespace mliot {

ServingService::ServingService(std::string task, std::string bundle_dir, std::string feedback_dir,
                               std::string token)
    : task_(std::move(task)),
      bundle_dir_(std::move(bundle_dir)),
      feedback_dir_(std::move(feedback_dir)),
      token_(std::move(token)) {}

ServingService::~ServingService() { Stop(); }

absl::Status ServingService::Start() {
  absl::StatusOr<std::unique_ptr<Servable>> first = Servable::Load(bundle_dir_);
  if (!first.ok()) return first.status();
  {
    absl::MutexLock lock(&mu_);
    current_ = std::move(*first);
  }
  std::filesystem::create_directories(feedback_dir_);
  watcher_ = std::thread([this] { WatchLoop(); });
  return absl::OkStatus();
}

void ServingService::Stop() {
  stop_.store(true);
  if (watcher_.joinable()) watcher_.join();
}

std::shared_ptr<const Servable> ServingService::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

int64_t ServingService::version() const {
  std::shared_ptr<const Servable> s = Current();
  return s ? s->version() : 0;
}

namespace {

double ThreadCpuS() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double ProcessCpuS() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

void ServingService::WatchLoop() {
  int64_t reported = -1;
  for (int tick = 0; !stop_.load(); ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!stats_path_.empty() && tick % 10 == 0 && requests_.load() != reported) {
      reported = requests_.load();
      (void)WriteFileAtomically(stats_path_,
                                absl::StrCat(reported, " ", ProcessCpuS() - load_cpu_s_, "\n"));
    }
    absl::StatusOr<int64_t> latest = LatestBundleVersion(bundle_dir_);
    if (!latest.ok()) continue;
    {
      absl::MutexLock lock(&mu_);
      if (current_ && *latest <= current_->version()) continue;
      if (*latest == failed_version_) continue;
    }
    // Load beside the serving version; swap only when it is complete.
    const double load_started = ThreadCpuS();
    absl::StatusOr<std::unique_ptr<Servable>> next = Servable::Load(bundle_dir_, *latest);
    load_cpu_s_ += ThreadCpuS() - load_started;
    absl::MutexLock lock(&mu_);
    if (!next.ok()) {
      failed_version_ = *latest;
      std::fprintf(stderr, "serving %s: version %lld failed to load, keeping version %lld: %s\n",
                   task_.c_str(), static_cast<long long>(*latest),
                   static_cast<long long>(current_ ? current_->version() : 0),
                   std::string(next.status().message()).c_str());
      continue;
    }
    current_ = std::move(*next);
  }
}

absl::StatusOr<v1::PredictResponse> ServingService::PredictLocal(const v1::PredictRequest& request) const {
  std::shared_ptr<const Servable> s = Current();
  if (!s) return absl::UnavailableError(absl::StrCat(task_, ": no model loaded yet"));
  v1::PredictResponse response;
  MLIOT_RETURN_IF_ERROR(FromGrpc(Respond(*s, request, &response)));
  return response;
}

namespace {

// The request's raw input as a Signal; errors name the field.
absl::StatusOr<Signal> RawSignal(const v1::RawInput& raw) {
  Signal s;
  s.sample_rate = raw.sample_rate();
  s.channels = raw.channels() <= 0 ? 1 : raw.channels();
  if (!(s.sample_rate > 0)) return absl::InvalidArgumentError("raw.sample_rate must be > 0");
  if (!raw.pcm16().empty() && raw.samples_size() > 0) {
    return absl::InvalidArgumentError("raw: give pcm16 or samples, not both");
  }
  if (!raw.pcm16().empty()) {
    if (raw.pcm16().size() % 2 != 0) return absl::InvalidArgumentError("raw.pcm16: odd number of bytes");
    const size_t n = raw.pcm16().size() / 2;
    s.samples.resize(n);
    const auto* bytes = reinterpret_cast<const unsigned char*>(raw.pcm16().data());
    for (size_t i = 0; i < n; ++i) {
      const auto v = static_cast<int16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
      s.samples[i] = static_cast<float>(v) / 32768.0f;
    }
  } else {
    s.samples.assign(raw.samples().begin(), raw.samples().end());
  }
  if (s.samples.empty()) return absl::InvalidArgumentError("raw: no samples");
  if (s.samples.size() % static_cast<size_t>(s.channels) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("raw: ", s.samples.size(), " samples is not a multiple of ",
                                                   s.channels, " channels"));
  }
  s.channel_names.assign(raw.channel_names().begin(), raw.channel_names().end());
  return s;
}

void AddPrediction(const Servable& servable, const Answer& a, const float* cert, v1::PredictResponse* response) {
  v1::Prediction* p = response->add_predictions();
  p->set_label_index(a.label);
  p->set_label(servable.class_names()[a.label]);
  p->set_stage(a.stage);
  p->mutable_certainties()->Add(cert, cert + servable.num_classes());
}

}  // namespace

grpc::Status ServingService::Respond(const Servable& servable, const v1::PredictRequest& request,
                                    v1::PredictResponse* response) const {
  const auto start = std::chrono::steady_clock::now();
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (request.has_raw()) {
    absl::StatusOr<Signal> signal = RawSignal(request.raw());
    if (!signal.ok()) return ToGrpc(signal.status());
    std::vector<float> cert;
    absl::StatusOr<std::vector<Answer>> answers = servable.PredictRaw(*signal, &cert);
    if (!answers.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(answers.status().message()));
    }
    response->set_version(servable.version());
    for (size_t i = 0; i < answers->size(); ++i) {
      AddPrediction(servable, (*answers)[i], cert.data() + i * servable.num_classes(), response);
    }
    response->set_worker_latency_ms(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    return grpc::Status::OK;
  }
  if (servable.featurizer() != nullptr && request.features_size() > 0 &&
      request.features_size() != (request.rows() <= 0 ? 1 : request.rows()) * servable.num_features()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("this task featurizes raw input (", servable.featurizer()->config().name,
                                     "): send raw, or rows of ", servable.num_features(), " features"));
  }
  const int64_t cols = servable.num_features();
  const int64_t rows = request.rows() <= 0 ? 1 : request.rows();
  if (static_cast<int64_t>(request.features_size()) != rows * cols) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("features: expected ", rows, " x ", cols, " = ", rows * cols,
                                     " values, got ", request.features_size()));
  }
  const int k = servable.num_classes();
  response->set_version(servable.version());
  if (rows == 1) {
    float cert[256];
    std::vector<float> heap;
    float* c = cert;
    if (k > 256) {
      heap.resize(static_cast<size_t>(k));
      c = heap.data();
    }
    const Answer a = servable.Predict(request.features().data(), c);
    v1::Prediction* p = response->add_predictions();
    p->set_label_index(a.label);
    p->set_label(servable.class_names()[a.label]);
    p->set_stage(a.stage);
    p->mutable_certainties()->Add(c, c + k);
  } else {
    std::vector<Answer> answers(static_cast<size_t>(rows));
    std::vector<float> cert(static_cast<size_t>(rows * k));
    servable.PredictBatch(request.features().data(), rows, answers.data(), cert.data());
    for (int64_t i = 0; i < rows; ++i) {
      v1::Prediction* p = response->add_predictions();
      p->set_label_index(answers[i].label);
      p->set_label(servable.class_names()[answers[i].label]);
      p->set_stage(answers[i].stage);
      p->mutable_certainties()->Add(cert.data() + i * k, cert.data() + (i + 1) * k);
    }
  }
  response->set_worker_latency_ms(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  return grpc::Status::OK;
}

grpc::Status ServingService::Predict(grpc::ServerContext* context, const v1::PredictRequest* request,
                                     v1::PredictResponse* response) {
  if (grpc::Status s = CheckBearer(*context, token_); !s.ok()) return s;
  std::shared_ptr<const Servable> servable = Current();
  if (!servable) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no bundle loaded yet");
  return Respond(*servable, *request, response);
}

grpc::Status ServingService::PredictStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::PredictResponse, v1::PredictRequest>* stream) {
  if (grpc::Status s = CheckBearer(*context, token_); !s.ok()) return s;
  v1::PredictRequest request;
  while (stream->Read(&request)) {
    std::shared_ptr<const Servable> servable = Current();
    if (!servable) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no bundle loaded yet");
    v1::PredictResponse response;
    if (grpc::Status s = Respond(*servable, request, &response); !s.ok()) return s;
    if (!stream->Write(response)) break;
  }
  return grpc::Status::OK;
}

grpc::Status ServingService::Feedback(grpc::ServerContext* context,
                                      const v1::FeedbackRequest* request,
                                      v1::FeedbackResponse* response) {
  if (grpc::Status s = CheckBearer(*context, token_); !s.ok()) return s;
  std::shared_ptr<const Servable> servable = Current();
  if (!servable) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no bundle loaded yet");
  const int64_t cols = servable->num_features();
  const int64_t rows = request->rows();
  if (rows <= 0 || request->features_size() != rows * cols || request->labels_size() != rows) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("feedback: expected ", rows, " rows of ", cols,
                                     " features and one label each"));
  }
  std::string csv;
  for (int64_t j = 0; j < cols; ++j) absl::StrAppend(&csv, "f", j, ",");
  absl::StrAppend(&csv, "label\n");
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) absl::StrAppend(&csv, request->features(i * cols + j), ",");
    // Labels are quoted so any class name survives the CSV round trip.
    std::string label = request->labels(i);
    std::string escaped;
    for (char ch : label) {
      if (ch == '"') escaped += '"';
      escaped += ch;
    }
    absl::StrAppend(&csv, "\"", escaped, "\"\n");
  }
  const std::string path = absl::StrCat(feedback_dir_, "/feedback-", getpid(), "-",
                                        feedback_files_.fetch_add(1), "-",
                                        std::chrono::steady_clock::now().time_since_epoch().count(), ".csv");
  if (absl::Status s = WriteFileAtomically(path, csv); !s.ok()) return ToGrpc(s);
  response->set_accepted_rows(rows);
  return grpc::Status::OK;
}

grpc::Status ServingService::Health(grpc::ServerContext* context, const v1::HealthRequest*,
                                    v1::HealthResponse* response) {
  if (grpc::Status s = CheckBearer(*context, token_); !s.ok()) return s;
  response->set_task(task_);
  std::shared_ptr<const Servable> servable = Current();
  if (servable) {
    response->set_version(servable->version());
    for (const std::string& c : servable->class_names()) response->add_class_names(c);
    response->set_num_features(servable->num_features());
    if (const Featurizer* f = servable->featurizer()) {
      FeaturizerToProto(f->config(), response->mutable_featurizer());
      response->set_window_s(f->window_seconds());
    }
  }
  return grpc::Status::OK;
}

}  // namespace mliot
