#include "serve/serving_service.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "absl/strings/match.h"
#include "common/clock.h"
#include "common/status_util.h"
#include "data/idx.h"
#include "lifecycle/version_catalog.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"

namespace mliot {

ServingService::ServingService(std::string task, std::string bundle_dir, std::string feedback_dir)
    : task_(std::move(task)), bundle_dir_(std::move(bundle_dir)), feedback_dir_(std::move(feedback_dir)) {}

ServingService::~ServingService() { Stop(); }

absl::Status ServingService::Start() {
  absl::StatusOr<LifecycleState> state = ReadLifecycleState(bundle_dir_);
  {
    absl::MutexLock lock(&state_mu_);
    if (state.ok()) {
      state_ = *std::move(state);
      state_.shadow = 0;  // a shadow's evaluation starts again
    } else {
      std::fprintf(stderr, "serving %s: %s; starting a new lifecycle record\n", task_.c_str(),
                   std::string(state.status().message()).c_str());
    }
  }
  if (Reconcile()) {
    absl::MutexLock lock(&state_mu_);
    (void)WriteLifecycleState(bundle_dir_, state_);
    state_dirty_ = false;
  }
  if (!Current()) {
    absl::StatusOr<int64_t> latest = LatestBundleVersion(bundle_dir_);
    if (!latest.ok()) return latest.status();
    return absl::UnavailableError(absl::StrCat(bundle_dir_, ": no version could be loaded"));
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
    if (!metrics_path_.empty() && tick % 10 == 0) {
      (void)WriteFileAtomically(metrics_path_, recorder_.Snapshot().SerializeAsString());
    }
    Reconcile();
    absl::MutexLock lock(&state_mu_);
    if (state_dirty_) {
      if (absl::Status s = WriteLifecycleState(bundle_dir_, state_); !s.ok()) {
        std::fprintf(stderr, "serving %s: %s\n", task_.c_str(), std::string(s.message()).c_str());
      }
      state_dirty_ = false;
    }
  }
}

namespace {

bool HasVersion(const std::string& dir, int64_t v) {
  return v > 0 && std::filesystem::exists(absl::StrCat(dir, "/", v, "/manifest.pb"));
}

void Say(const std::string& task, const std::string& line) {
  std::fprintf(stderr, "serving %s: %s\n", task.c_str(), line.c_str());
  std::fflush(stderr);
}

}  // namespace

const std::string& ServingService::OriginOf(int64_t version) {
  auto [it, inserted] = origins_.try_emplace(version);
  if (inserted) {
    v1::BundleManifest m;
    if (ReadManifest(bundle_dir_, version, &m).ok()) it->second = m.origin();
  }
  return it->second;
}

void ServingService::ChooseTarget(int64_t pin, int64_t* target, int64_t* shadow, std::string* why) {
  *target = 0;
  *shadow = 0;
  if (pin > 0) {
    if (HasVersion(bundle_dir_, pin)) {
      *target = pin;
      *why = "pinned";
      return;
    }
    if (warned_pin_ != pin) {
      warned_pin_ = pin;
      absl::MutexLock lock(&state_mu_);
      state_.AddEvent(absl::StrCat("pinned version ", pin, " has no files (deleted): not serving it"));
      state_dirty_ = true;
    }
  }
  const std::vector<int64_t> versions = VersionNumbers(bundle_dir_);
  int64_t failed;
  {
    absl::MutexLock lock(&mu_);
    failed = failed_version_;
  }
  absl::MutexLock lock(&state_mu_);
  int64_t newest = 0;
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (state_.retired.count(*it) == 0 && *it != failed) {
      newest = *it;
      break;
    }
  }
  const int64_t base = HasVersion(bundle_dir_, state_.serving) ? state_.serving : 0;
  if (base == 0 || newest <= base) {
    *target = base > 0 ? base : newest;
    *why = base > 0 ? "serving" : "newest";
    return;
  }
  const std::string& origin = OriginOf(newest);
  if (guarded_ && absl::StartsWith(origin, "adaptation")) {
    *target = base;
    *why = "serving";
    *shadow = newest;
    return;
  }
  *target = newest;
  *why = absl::StrCat(origin.empty() ? "new version" : origin, ", promoted immediately");
}

bool ServingService::Reconcile() {
  const int64_t pin = ReadPin(bundle_dir_);
  int64_t target = 0, shadow = 0;
  std::string why;
  ChooseTarget(pin, &target, &shadow, &why);
  bool failed_before;
  {
    absl::MutexLock lock(&mu_);
    failed_before = target == failed_version_;
  }
  if (target > 0 && target != version() && !failed_before) {
    std::shared_ptr<const Servable> next;
    {
      absl::MutexLock lock(&state_mu_);
      if (shadow_ && shadow_->version() == target) next = shadow_;
    }
    if (!next) {
      const double load_started = ThreadCpuS();
      absl::StatusOr<std::unique_ptr<Servable>> loaded = Servable::Load(bundle_dir_, target);
      load_cpu_s_ += ThreadCpuS() - load_started;
      if (!loaded.ok()) {
        absl::MutexLock lock(&mu_);
        failed_version_ = target;
        Say(task_, absl::StrCat("version ", target, " failed to load, keeping version ",
                                current_ ? current_->version() : 0, ": ", loaded.status().message()));
        return false;
      }
      next = std::move(*loaded);
    }
    {
      absl::MutexLock lock(&mu_);
      current_ = next;
    }
    absl::MutexLock lock(&state_mu_);
    state_.serving = target;
    state_.promoted.insert(target);
    state_.AddEvent(absl::StrCat("version ", target, " serving (", why, ")"));
    Say(task_, state_.events.back());
    state_dirty_ = true;
  }
  // The shadow: only while not pinned.
  bool have_shadow;
  {
    absl::MutexLock lock(&state_mu_);
    if (pin > 0 || (shadow_ && shadow_->version() != shadow)) {
      shadow_.reset();
      shadow_active_.store(false);
      if (state_.shadow != 0) {
        state_.shadow = 0;
        state_dirty_ = true;
      }
    }
    have_shadow = shadow_ != nullptr;
  }
  if (pin == 0 && shadow > 0 && !have_shadow) StartShadow(shadow);
  StepShadow();
  absl::MutexLock lock(&state_mu_);
  return state_dirty_;
}

void ServingService::StartShadow(int64_t version) {
  const double load_started = ThreadCpuS();
  absl::StatusOr<std::unique_ptr<Servable>> loaded = Servable::Load(bundle_dir_, version);
  load_cpu_s_ += ThreadCpuS() - load_started;
  absl::MutexLock lock(&state_mu_);
  if (!loaded.ok()) {
    state_.retired[version] = absl::StrCat("failed to load: ", loaded.status().message());
    state_.AddEvent(absl::StrCat("version ", version, " retired: ", state_.retired[version]));
    Say(task_, state_.events.back());
    state_dirty_ = true;
    return;
  }
  shadow_ = std::move(*loaded);
  state_.shadow = version;
  validation_evidence_ = PairedCounts{};
  feedback_evidence_ = PairedCounts{};
  live_shadowed_ = live_agreed_ = 0;
  shadow_started_s_ = last_evidence_s_ = RealClock()->NowSeconds();
  // Both versions answer the held-back validation rows (at most 5,000).
  std::shared_ptr<const Servable> serving = Current();
  absl::StatusOr<IdxArray> x = ReadIdx(bundle_dir_ + "/data/validation.x.idx", 5000);
  absl::StatusOr<IdxArray> y = ReadIdx(bundle_dir_ + "/data/validation.y.idx", 5000);
  if (serving && x.ok() && y.ok() && x->dims.size() == 2 && x->dims[1] == serving->num_features() &&
      shadow_->num_features() == serving->num_features() && !y->dims.empty() && y->dims[0] == x->dims[0]) {
    const int64_t n = x->dims[0];
    std::vector<Answer> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    std::vector<float> ca(static_cast<size_t>(n * serving->num_classes()));
    std::vector<float> cb(static_cast<size_t>(n * shadow_->num_classes()));
    serving->PredictBatch(x->values.data(), n, a.data(), ca.data());
    shadow_->PredictBatch(x->values.data(), n, b.data(), cb.data());
    for (int64_t i = 0; i < n; ++i) {
      const int label = static_cast<int>(y->values[i]);
      validation_evidence_.Add(a[i].label == label, b[i].label == label);
    }
    // No version of a guarded task is fitted on these rows: honest figures.
    const double rows = static_cast<double>(validation_evidence_.rows);
    state_.validation.try_emplace(serving->version(), validation_evidence_.serving_correct / rows);
    state_.validation[version] = validation_evidence_.shadow_correct / rows;
  }
  state_.AddEvent(absl::StrCat("version ", version, " in shadow (guarded promotion; ", validation_evidence_.rows,
                               " validation rows)"));
  Say(task_, state_.events.back());
  state_dirty_ = true;
  shadow_active_.store(true);
}

void ServingService::OfferShadow(const float* row, int64_t cols, int label) const {
  if (!shadow_active_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&queue_mu_);
  if (shadow_queue_.size() >= 16) return;
  shadow_queue_.push_back(ShadowRow{std::vector<float>(row, row + cols), label});
}

void ServingService::StepShadow() {
  std::vector<ShadowRow> rows;
  {
    absl::MutexLock lock(&queue_mu_);
    while (!shadow_queue_.empty() && rows.size() < 5) {  // 5 a tick: <= 50 rows a second
      rows.push_back(std::move(shadow_queue_.front()));
      shadow_queue_.pop_front();
    }
  }
  absl::MutexLock lock(&state_mu_);
  if (!shadow_) return;
  std::vector<float> cert(static_cast<size_t>(shadow_->num_classes()));
  for (const ShadowRow& r : rows) {
    if (static_cast<int>(r.row.size()) != shadow_->num_features()) continue;
    const Answer a = shadow_->Predict(r.row.data(), cert.data());
    ++live_shadowed_;
    live_agreed_ += a.label == r.serving_label;
  }
  const double now = RealClock()->NowSeconds();
  const Decision d =
      DecidePromotion(validation_evidence_, feedback_evidence_, now - shadow_started_s_, now - last_evidence_s_);
  if (d.verdict == Verdict::kWait) return;
  const int64_t v = shadow_->version();
  const std::string live = live_shadowed_ > 0
                               ? absl::StrCat("; agreed with the serving version on ", live_agreed_, " of ",
                                              live_shadowed_, " live requests")
                               : "";
  if (d.verdict == Verdict::kPromote) {
    {
      absl::MutexLock serving_lock(&mu_);
      current_ = shadow_;
    }
    state_.serving = v;
    state_.promoted.insert(v);
    state_.AddEvent(absl::StrCat("version ", v, " promoted: ", d.why, live));
  } else {
    state_.retired[v] = d.why;
    state_.AddEvent(absl::StrCat("version ", v, " retired: ", d.why, live));
  }
  Say(task_, state_.events.back());
  shadow_.reset();
  shadow_active_.store(false);
  state_.shadow = 0;
  state_dirty_ = true;
}

grpc::Status ServingService::CheckTask(const std::string& task) const {
  // A request naming another task is never answered by this task's model.
  if (task.empty() || task == task_) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("task '", task, "' is not served here (this worker serves '", task_, "')"));
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
  if (grpc::Status s = CheckTask(request.task()); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  requests_.fetch_add(1, std::memory_order_relaxed);
  double featurize_s = 0;
  grpc::Status status = Compute(servable, request, response, &featurize_s);
  metrics::ServingRecorder::Counters& c = recorder_.For(servable.version());
  if (!status.ok()) {
    c.failures.fetch_add(1, std::memory_order_relaxed);
    return status;
  }
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  response->set_worker_latency_ms(total_s * 1000);
  c.requests.fetch_add(1, std::memory_order_relaxed);
  c.rows.fetch_add(response->predictions_size(), std::memory_order_relaxed);
  if (request.has_raw()) c.featurize.Observe(featurize_s);
  c.compute.Observe(total_s - featurize_s);
  c.end_to_end.Observe(total_s);
  return status;
}

grpc::Status ServingService::Compute(const Servable& servable, const v1::PredictRequest& request,
                                   v1::PredictResponse* response, double* featurize_s) const {
  if (request.has_raw()) {
    absl::StatusOr<Signal> signal = RawSignal(request.raw());
    if (!signal.ok()) return ToGrpc(signal.status());
    std::vector<float> cert;
    absl::StatusOr<std::vector<Answer>> answers = servable.PredictRaw(*signal, &cert, featurize_s);
    if (!answers.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(answers.status().message()));
    }
    response->set_version(servable.version());
    for (size_t i = 0; i < answers->size(); ++i) {
      AddPrediction(servable, (*answers)[i], cert.data() + i * servable.num_classes(), response);
    }
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
    OfferShadow(request.features().data(), cols, a.label);
    v1::Prediction* p = response->add_predictions();
    p->set_label_index(a.label);
    p->set_label(servable.class_names()[a.label]);
    p->set_stage(a.stage);
    p->mutable_certainties()->Add(c, c + k);
  } else {
    std::vector<Answer> answers(static_cast<size_t>(rows));
    std::vector<float> cert(static_cast<size_t>(rows * k));
    servable.PredictBatch(request.features().data(), rows, answers.data(), cert.data());
    OfferShadow(request.features().data(), cols, answers[0].label);
    for (int64_t i = 0; i < rows; ++i) {
      v1::Prediction* p = response->add_predictions();
      p->set_label_index(answers[i].label);
      p->set_label(servable.class_names()[answers[i].label]);
      p->set_stage(answers[i].stage);
      p->mutable_certainties()->Add(cert.data() + i * k, cert.data() + (i + 1) * k);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ServingService::Predict(grpc::ServerContext*, const v1::PredictRequest* request,
                                     v1::PredictResponse* response) {
  std::shared_ptr<const Servable> servable = Current();
  if (!servable) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no bundle loaded yet");
  return Respond(*servable, *request, response);
}

grpc::Status ServingService::PredictStream(
    grpc::ServerContext*,
    grpc::ServerReaderWriter<v1::PredictResponse, v1::PredictRequest>* stream) {
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

void ServingService::ScoreFeedback(const Servable& serving, const v1::FeedbackRequest& request) {
  const int64_t rows = request.rows();
  const int64_t cols = serving.num_features();
  std::vector<Answer> a(static_cast<size_t>(rows));
  std::vector<float> cert(static_cast<size_t>(rows * serving.num_classes()));
  serving.PredictBatch(request.features().data(), rows, a.data(), cert.data());
  auto index_of = [](const Servable& s, const std::string& label) {
    const auto& names = s.class_names();
    auto it = std::find(names.begin(), names.end(), label);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  };
  std::shared_ptr<const Servable> shadow;
  {
    absl::MutexLock lock(&state_mu_);
    shadow = shadow_;
  }
  std::vector<Answer> b;
  if (shadow && shadow->num_features() == cols) {  // predicted outside the lock the watcher takes
    b.resize(static_cast<size_t>(rows));
    std::vector<float> cb(static_cast<size_t>(rows * shadow->num_classes()));
    shadow->PredictBatch(request.features().data(), rows, b.data(), cb.data());
  }
  absl::MutexLock lock(&state_mu_);
  if (shadow_ != shadow) b.clear();  // decided meanwhile: not evidence for a newer shadow
  FeedbackScore& score = state_.feedback[serving.version()];
  for (int64_t i = 0; i < rows; ++i) {
    const bool right = a[i].label == index_of(serving, request.labels(i));
    score.correct += right;
    ++score.rows;
    if (!b.empty()) feedback_evidence_.Add(right, b[i].label == index_of(*shadow, request.labels(i)));
  }
  if (!b.empty()) last_evidence_s_ = RealClock()->NowSeconds();
  state_dirty_ = true;
}

grpc::Status ServingService::Feedback(grpc::ServerContext*,
                                      const v1::FeedbackRequest* request,
                                      v1::FeedbackResponse* response) {
  if (grpc::Status s = CheckTask(request->task()); !s.ok()) return s;
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
  ScoreFeedback(*servable, *request);
  const std::string path = absl::StrCat(feedback_dir_, "/feedback-", getpid(), "-",
                                        feedback_files_.fetch_add(1), "-",
                                        std::chrono::steady_clock::now().time_since_epoch().count(), ".csv");
  if (absl::Status s = WriteFileAtomically(path, csv); !s.ok()) return ToGrpc(s);
  recorder_.Feedback(rows);
  response->set_accepted_rows(rows);
  return grpc::Status::OK;
}

grpc::Status ServingService::Health(grpc::ServerContext*, const v1::HealthRequest*,
                                    v1::HealthResponse* response) {
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
