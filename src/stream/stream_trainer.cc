#include "stream/stream_trainer.h"

#include <ctime>
#include <deque>
#include <numeric>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/status_util.h"
#include "stream/device_simulator.h"

namespace mliot::stream {
namespace {

double Now() { return RealClock()->NowSeconds(); }

struct Batch {
  std::vector<float> x;
  std::vector<int32_t> y;
  std::vector<int64_t> keys;  // the keys served (for loss reports)
  int epoch = 0;
  bool end_of_epoch = false;  // a marker after an epoch's last batch
  bool end = false;           // no more batches (or an error)
  absl::Status status;
};

class BatchQueue {
 public:
  explicit BatchQueue(size_t capacity) : capacity_(capacity) {}
  // Blocks while full; false once the consumer closed the queue.
  bool Push(Batch b) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](BatchQueue* q) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return q->closed_ || q->queue_.size() < q->capacity_;
    }, this));
    if (closed_) return false;
    queue_.push_back(std::move(b));
    return true;
  }
  Batch Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](BatchQueue* q) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !q->queue_.empty(); }, this));
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    return b;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  absl::Mutex mu_;
  size_t capacity_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
};

// Appends a sample to the batch; false (skipped) for a sample the model
// cannot take: undecodable, the wrong size, or a label outside its classes.
bool AddRow(const Fetched& f, int64_t features, const absl::flat_hash_map<std::string, int32_t>& classes, Batch& b) {
  auto label = classes.find(f.sample.label());
  if (label == classes.end()) return false;
  absl::StatusOr<std::vector<float>> x = SampleFeatures(f.sample);
  if (!x.ok() || static_cast<int64_t>(x->size()) != features) return false;
  b.x.insert(b.x.end(), x->begin(), x->end());
  b.y.push_back(label->second);
  b.keys.push_back(f.key);
  return true;
}

// CPU time of the calling thread.
double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

bool Cancelled(const StreamTrainOptions& o) { return o.cancel != nullptr && o.cancel->load(); }

// Waits for the cache to hold more than `n` samples, in short slices so that
// a cancel is noticed; false when the idle timeout passed or on cancel.
bool WaitForArrival(const TieredCache& cache, int64_t n, const StreamTrainOptions& o) {
  const absl::Time deadline = absl::Now() + absl::Seconds(o.idle_timeout_s);
  while (!Cancelled(o)) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    if (cache.WaitForSize(n + 1, std::min(left, absl::Milliseconds(250))) > n) return true;
  }
  return false;
}

// The loader thread's body: every epoch's batches, then an end marker.
void Load(TieredCache& cache, const StreamTrainOptions& o, int64_t features, BatchQueue& queue,
          int64_t& short_epochs, int64_t& skipped) {
  std::mt19937_64 rng(o.seed);
  absl::flat_hash_map<std::string, int32_t> classes;
  for (size_t i = 0; i < o.class_names.size(); ++i) classes[o.class_names[i]] = static_cast<int32_t>(i);
  const size_t window = static_cast<size_t>(o.batch) * static_cast<size_t>(std::max(1, o.prefetch_batches));
  auto fail = [&](absl::Status s) {
    Batch end;
    end.end = true;
    end.status = std::move(s);
    queue.Push(std::move(end));
  };
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const bool streaming = epoch == 0 && o.arrival_order;
    std::vector<int64_t> order;
    if (!streaming) {
      const int64_t n = std::min(o.epoch_samples, cache.size());
      absl::StatusOr<std::vector<int64_t>> sampled = SampleEpoch(o.sampler, n, cache.Weights(), rng);
      if (!sampled.ok()) return fail(sampled.status());
      order = std::move(*sampled);
    }
    // The streaming epoch draws from a shuffle buffer of arrived samples
    // (a stream arrives grouped: Kafka delivers a partition, i.e. a label,
    // in runs). It takes arrivals without waiting and waits only when the
    // buffer is empty.
    std::vector<int64_t> buffer;
    int64_t next_arrival = 0;
    size_t position = 0;
    auto next_key = [&]() -> std::optional<int64_t> {
      if (!streaming) {
        if (position >= order.size()) return std::nullopt;
        if (o.hits_first && position % window == 0) {
          HitsFirst(std::span<int64_t>(order).subspan(position, std::min(window, order.size() - position)), cache);
        }
        return order[position++];
      }
      while (true) {
        const int64_t arrived = cache.size();
        while (next_arrival < o.epoch_samples && next_arrival < arrived &&
               buffer.size() < static_cast<size_t>(std::max(1, o.shuffle_window))) {
          buffer.push_back(next_arrival++);
        }
        if (!buffer.empty()) break;
        if (next_arrival >= o.epoch_samples) return std::nullopt;
        if (!WaitForArrival(cache, next_arrival, o)) {
          if (!Cancelled(o)) ++short_epochs;  // the stream stopped short of the epoch
          return std::nullopt;
        }
      }
      const size_t i = std::uniform_int_distribution<size_t>(0, buffer.size() - 1)(rng);
      const int64_t key = buffer[i];
      buffer[i] = buffer.back();
      buffer.pop_back();
      return key;
    };
    Batch b;
    b.epoch = epoch;
    for (std::optional<int64_t> key = next_key(); key.has_value(); key = next_key()) {
      if (Cancelled(o)) break;
      absl::StatusOr<Fetched> f = cache.Get(*key);
      if (!f.ok()) return fail(f.status());
      if (!AddRow(*f, features, classes, b)) ++skipped;
      if (static_cast<int>(b.y.size()) == o.batch) {
        if (!queue.Push(std::move(b))) return;
        b = Batch();
        b.epoch = epoch;
      }
    }
    if (Cancelled(o)) return fail(absl::CancelledError("stream trainer: stopped"));
    if (!b.y.empty() && !queue.Push(std::move(b))) return;
    Batch marker;
    marker.epoch = epoch;
    marker.end_of_epoch = true;
    if (!queue.Push(std::move(marker))) return;
  }
  Batch end;
  end.end = true;
  queue.Push(std::move(end));
}

absl::Status ValidateOptions(const StreamTrainOptions& o) {
  if (o.epoch_samples <= 0) return absl::InvalidArgumentError("stream trainer: epoch_samples must be positive");
  if (o.epochs <= 0 || o.batch <= 0) return absl::InvalidArgumentError("stream trainer: epochs and batch must be positive");
  if (o.class_names.size() < 2) return absl::InvalidArgumentError("stream trainer: class_names needs at least two classes");
  return absl::OkStatus();
}

void Finish(StreamTrainReport& r) {
  r.stall_fraction = r.train_s > 0 ? r.wait_s / r.train_s : 0;
  r.samples_per_s = r.train_s > 0 ? static_cast<double>(r.samples) / r.train_s : 0;
}

}  // namespace

absl::StatusOr<StreamTrainReport> TrainFromCache(TieredCache& cache, SgdModel& model, const StreamTrainOptions& o,
                                                 const TrainProgress& progress) {
  MLIOT_RETURN_IF_ERROR(ValidateOptions(o));
  // The input width comes from the first sample.
  if (cache.WaitForSize(1, absl::Seconds(o.idle_timeout_s)) < 1) {
    return absl::DeadlineExceededError(absl::StrCat("stream trainer: no sample arrived within ", o.idle_timeout_s, " s"));
  }
  MLIOT_ASSIGN_OR_RETURN(Fetched first, cache.Get(0, false));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> first_x, SampleFeatures(first.sample));
  const int64_t features = static_cast<int64_t>(first_x.size());

  StreamTrainReport r;
  BatchQueue queue(static_cast<size_t>(std::max(1, o.prefetch_batches)));
  int64_t short_epochs = 0, skipped = 0;
  const double start = Now();
  const double cpu_start = ThreadCpuSeconds();
  std::thread loader([&] { Load(cache, o, features, queue, short_epochs, skipped); });
  const int64_t refresh_every = std::max<int64_t>(o.batch, o.epoch_samples / std::max(1, o.refresh_per_epoch));
  int64_t since_refresh = 0;
  const int64_t total_samples = o.epoch_samples * o.epochs;
  double epoch_start = start, loss_sum = 0;
  int64_t loss_n = 0;
  std::vector<float> losses;
  absl::Status status;
  while (true) {
    const double t0 = Now();
    Batch b = queue.Pop();
    r.wait_s += Now() - t0;
    if (b.end) {
      status = b.status;
      break;
    }
    if (b.end_of_epoch) {
      r.epoch_s.push_back(Now() - epoch_start);
      r.epoch_loss.push_back(loss_n > 0 ? loss_sum / static_cast<double>(loss_n) : 0);
      ++r.epochs;
      if (!o.checkpoint.empty()) {
        if (status = model.SaveCheckpoint(o.checkpoint); !status.ok()) break;
      }
      if (progress) progress(b.epoch + 1, r.samples, r.epoch_loss.back());
      epoch_start = Now();
      loss_sum = 0;
      loss_n = 0;
      continue;
    }
    const int64_t n = static_cast<int64_t>(b.y.size());
    losses.resize(static_cast<size_t>(n));
    model.SetLearningRateScale(CosineScale(r.samples, total_samples));
    const float loss = model.Step(b.x.data(), b.y.data(), n, losses.data());
    cache.ReportLosses(b.keys, losses);
    loss_sum += static_cast<double>(loss) * static_cast<double>(n);
    loss_n += n;
    r.samples += n;
    since_refresh += n;
    if (since_refresh >= refresh_every) {
      cache.RefreshImportance();
      since_refresh = 0;
    }
  }
  r.trainer_cpu_s = ThreadCpuSeconds() - cpu_start;
  queue.Close();
  loader.join();
  r.train_s = Now() - start;
  r.short_epochs = short_epochs;
  r.skipped = skipped;
  Finish(r);
  if (!status.ok()) return status;
  return r;
}

absl::StatusOr<StreamTrainReport> TrainInRam(const Dataset& data, SgdModel& model, const StreamTrainOptions& o) {
  MLIOT_RETURN_IF_ERROR(ValidateOptions(o));
  const int64_t n = std::min(o.epoch_samples, data.rows);
  std::mt19937_64 rng(o.seed);
  StreamTrainReport r;
  std::vector<float> x;
  std::vector<int32_t> y;
  const double start = Now();
  const double cpu_start = ThreadCpuSeconds();
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    const double epoch_start = Now();
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    if (epoch > 0 || !o.arrival_order) std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    for (int64_t b = 0; b < n; b += o.batch) {
      const int64_t m = std::min<int64_t>(o.batch, n - b);
      x.resize(static_cast<size_t>(m * data.cols));
      y.resize(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) {
        const int64_t row = order[static_cast<size_t>(b + i)];
        std::copy_n(data.row(row), data.cols, x.data() + i * data.cols);
        y[static_cast<size_t>(i)] = data.labels[static_cast<size_t>(row)];
      }
      model.SetLearningRateScale(CosineScale(r.samples, n * o.epochs));
      loss_sum += static_cast<double>(model.Step(x.data(), y.data(), m, nullptr)) * static_cast<double>(m);
      r.samples += m;
    }
    r.epoch_s.push_back(Now() - epoch_start);
    r.epoch_loss.push_back(loss_sum / static_cast<double>(std::max<int64_t>(1, n)));
    ++r.epochs;
  }
  r.trainer_cpu_s = ThreadCpuSeconds() - cpu_start;
  r.train_s = Now() - start;
  Finish(r);
  return r;
}

}  // namespace mliot::stream
