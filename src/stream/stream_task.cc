#include "stream/stream_task.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/broker_uri.h"
#include "common/grpc_util.h"
#include "common/status_util.h"
#include "data/csv.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"
#include "stream/device_simulator.h"
#include "stream/ingest.h"
#include "stream/raw_windower.h"
#include "stream/sgd_model.h"
#include "stream/stream_bundle.h"
#include "stream/stream_trainer.h"
#include "stream/tiered_cache.h"
#include "stream/transport.h"
#include "train/train_worker.h"

namespace mliot::stream {
namespace fs = std::filesystem;
namespace {

constexpr char kTrainedMarker[] = "stream.trained";

void Log(const std::string& task, const std::string& line) {
  std::fprintf(stderr, "stream %s: %s\n", task.c_str(), line.c_str());
  std::fflush(stderr);
}

// The model options for samples of this shape.
absl::StatusOr<SgdOptions> ModelOptions(const StreamSpec& s, const v1::Sample& first, int threads) {
  SgdOptions o;
  o.kind = s.model;
  o.classes = static_cast<int>(s.classes.size());
  o.threads = std::max(1, threads);
  o.features = 1;
  for (int32_t d : first.shape()) o.features *= d;
  if (first.shape_size() == 2) {
    o.height = first.shape(0);
    o.width = first.shape(1);
  } else if (o.kind == "cnn") {
    return absl::InvalidArgumentError(absl::StrCat("stream.model: cnn needs 2-D samples; sample ", first.id(),
                                                   " has ", first.shape_size(), " dimensions"));
  }
  return o;
}

// The options of the model a published version was made from.
absl::StatusOr<SgdOptions> OptionsFromBundle(const std::string& bundle_dir, int64_t version, int threads) {
  v1::BundleManifest m;
  MLIOT_RETURN_IF_ERROR(ReadManifest(bundle_dir, version, &m));
  if (m.members_size() != 1) {
    return absl::FailedPreconditionError(absl::StrCat(bundle_dir, "/", version, ": not a streaming bundle"));
  }
  SgdOptions o;
  o.kind = m.members(0).kind();
  o.features = m.num_features();
  o.height = m.image_height();
  o.width = m.image_width();
  o.classes = m.class_names_size();
  o.threads = std::max(1, threads);
  if (o.kind == "cnn") {
    auto it = m.members(0).params().find("hidden");
    if (it != m.members(0).params().end()) o.hidden = static_cast<int>(it->second.int_value());
  }
  return o;
}

// Feedback rows, labels mapped to the task's classes (unknown ones dropped).
struct Feedback {
  std::vector<float> x;
  std::vector<int32_t> y;
  std::vector<fs::path> files;
  int64_t dropped = 0;
};

Feedback ReadFeedback(const std::string& dir, const std::vector<std::string>& classes, int64_t features,
                      const std::string& task) {
  Feedback f;
  f.files = PendingFeedback(dir);
  for (const fs::path& file : f.files) {
    CsvOptions csv;
    csv.require_two_classes = false;
    absl::StatusOr<Dataset> d = LoadCsv(file.string(), csv);
    if (!d.ok() || d->cols != features) {
      Log(task, absl::StrCat("skipping bad feedback file ", file.filename().string(), ": ",
                             d.ok() ? absl::StrCat(d->cols, " columns, the model takes ", features)
                                    : std::string(d.status().message())));
      f.dropped += d.ok() ? d->rows : 0;
      continue;
    }
    for (int64_t r = 0; r < d->rows; ++r) {
      const int32_t l = d->labels[static_cast<size_t>(r)];
      const std::string& label = l >= 0 ? d->class_names[static_cast<size_t>(l)] : std::string();
      auto it = std::find(classes.begin(), classes.end(), label);
      if (it == classes.end()) {
        ++f.dropped;
        continue;
      }
      f.x.insert(f.x.end(), d->row(r), d->row(r) + features);
      f.y.push_back(static_cast<int32_t>(it - classes.begin()));
    }
  }
  return f;
}

// A few passes over the feedback rows at a tenth of the learning rate, each
// batch topped up with as many samples replayed from the cache.
absl::Status FineTune(SgdModel& model, TieredCache& cache, const Feedback& f, int batch,
                      const std::vector<std::string>& classes, std::mt19937_64& rng) {
  constexpr int kPasses = 5;
  const int64_t features = model.options().features;
  const int64_t n = static_cast<int64_t>(f.y.size());
  absl::flat_hash_map<std::string, int32_t> index;
  for (size_t i = 0; i < classes.size(); ++i) index[classes[i]] = static_cast<int32_t>(i);
  model.SetLearningRateScale(0.1);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::vector<float> x;
  std::vector<int32_t> y;
  const int64_t half = std::max(1, batch / 2);
  for (int pass = 0; pass < kPasses; ++pass) {
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t b = 0; b < n; b += half) {
      const int64_t m = std::min(half, n - b);
      x.clear();
      y.clear();
      for (int64_t i = 0; i < m; ++i) {
        const int64_t r = order[static_cast<size_t>(b + i)];
        x.insert(x.end(), f.x.begin() + r * features, f.x.begin() + (r + 1) * features);
        y.push_back(f.y[static_cast<size_t>(r)]);
      }
      const int64_t cached = cache.size();
      for (int64_t i = 0; i < m && cached > 0; ++i) {
        absl::StatusOr<Fetched> s = cache.Get(std::uniform_int_distribution<int64_t>(0, cached - 1)(rng), false);
        if (!s.ok()) continue;
        auto label = index.find(s->sample.label());
        absl::StatusOr<std::vector<float>> sx = SampleFeatures(s->sample);
        if (label == index.end() || !sx.ok() || static_cast<int64_t>(sx->size()) != features) continue;
        x.insert(x.end(), sx->begin(), sx->end());
        y.push_back(label->second);
      }
      model.Step(x.data(), y.data(), static_cast<int64_t>(y.size()), nullptr);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunStreamTrainWorker(const StreamTaskOptions& o, const std::atomic<bool>& stop) {
  const std::string& task = o.spec.name;
  const StreamSpec& s = *o.spec.stream;
  auto status = [&](const std::string& line) {
    if (!o.status_path.empty()) (void)WriteFileAtomically(o.status_path, line);
  };
  MLIOT_ASSIGN_OR_RETURN(BrokerUri uri, BrokerUri::Parse(o.spec.data));
  CacheOptions cache_options;
  cache_options.dir = o.task_dir + "/cache";
  cache_options.policy = s.policy;
  cache_options.ram_bytes = static_cast<int64_t>(s.cache_mb * (1 << 20));
  cache_options.disk_bytes = static_cast<int64_t>(s.disk_mb * (1 << 20));
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<TieredCache> cache, TieredCache::Open(cache_options));
  const int64_t already = cache->size();

  // 1. Ingest, for the whole life of the worker.
  TransportOptions transport;
  transport.client_id = absl::StrCat("mliot-", task, "-ingest");
  transport.qos = 1;
  transport.clean_session = false;  // the broker queues what arrives while the worker restarts
  if (uri.scheme == "kafka") transport.group = absl::StrCat("mliot-", task);
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Subscriber> subscriber, OpenSubscriber(uri, transport));
  std::atomic<int64_t> put_errors{0};
  // A raw stream (features:) is windowed and featurized on ingest; the cache
  // holds the windows' rows.
  std::unique_ptr<RawWindower> windower;
  if (o.spec.features) windower = std::make_unique<RawWindower>(*o.spec.features);
  Ingestor ingest(std::move(subscriber), [&](v1::Sample&& sample) {
    if (windower) {
      absl::StatusOr<std::vector<FeaturizedWindow>> windows = windower->Add(sample);
      if (!windows.ok()) {
        if (put_errors.fetch_add(1) < 5) Log(task, absl::StrCat("raw stream: ", windows.status().message()));
        return;
      }
      for (const FeaturizedWindow& w : *windows) {
        absl::StatusOr<int64_t> key = cache->Put(windower->ToSample(w, task));
        if (!key.ok() && put_errors.fetch_add(1) < 5) Log(task, absl::StrCat("cache: ", key.status().message()));
      }
      return;
    }
    absl::StatusOr<int64_t> key = cache->Put(sample);
    if (!key.ok() && put_errors.fetch_add(1) < 5) Log(task, absl::StrCat("cache: ", key.status().message()));
  });
  ingest.set_thread_nice(5);  // ingest yields the cores to training; the broker buffers
  MLIOT_RETURN_IF_ERROR(ingest.Start());
  Log(task, absl::StrCat("ingesting ", uri.ToString(), " into ", cache_options.dir, " (", already,
                         " samples already cached, policy ", s.policy, ")"));

  // 2. Train, unless a version can be resumed.
  std::unique_ptr<SgdModel> model;
  const absl::StatusOr<int64_t> present = LatestBundleVersion(o.bundle_dir);
  const bool trained_here = fs::exists(o.task_dir + "/" + kTrainedMarker);
  StreamBundleInfo info{s.classes, o.spec.data, o.task_dir + "/stream-scratch"};
  if (present.ok() && (trained_here || already == 0)) {
    MLIOT_ASSIGN_OR_RETURN(SgdOptions mo, OptionsFromBundle(o.bundle_dir, *present, o.threads));
    MLIOT_ASSIGN_OR_RETURN(model, SgdModel::Create(mo));
    MLIOT_RETURN_IF_ERROR(model->LoadCheckpoint(absl::StrCat(o.bundle_dir, "/", *present, "/", kStreamCheckpointFile)));
    Log(task, absl::StrCat("resumed version ", *present, " without re-training"));
    status(absl::StrCat("serving stored version ", *present, " without re-training; ingesting"));
  } else {
    status("waiting for the first sample");
    while (!stop.load() && cache->WaitForSize(1, absl::Milliseconds(250)) < 1) {
    }
    if (stop.load()) return absl::OkStatus();
    MLIOT_ASSIGN_OR_RETURN(Fetched first, cache->Get(0, false));
    MLIOT_ASSIGN_OR_RETURN(SgdOptions mo, ModelOptions(s, first.sample, o.threads));
    MLIOT_ASSIGN_OR_RETURN(model, SgdModel::Create(mo));
    StreamTrainOptions train;
    train.class_names = s.classes;
    train.epoch_samples = s.epoch_samples;
    train.epochs = s.epochs;
    train.batch = s.batch;
    train.sampler = s.sampler;
    train.hits_first = s.policy == "shade";
    train.idle_timeout_s = o.idle_timeout_s;
    train.cancel = &stop;
    status(absl::StrCat("training epoch 1 of ", s.epochs, " while samples arrive"));
    absl::StatusOr<StreamTrainReport> report =
        TrainFromCache(*cache, *model, train, [&](int epoch, int64_t samples, double loss) {
          // The bundle carries the featurizer, so serving takes raw input too.
          if (windower && windower->featurizer()) info.featurizer = windower->featurizer()->config();
          absl::StatusOr<int64_t> v = PublishStreamBundle(o.bundle_dir, *model, info);
          const std::string line =
              v.ok() ? absl::StrFormat("epoch %d of %d: %d samples, loss %.4f: version %d", epoch, s.epochs, samples,
                                       loss, *v)
                     : absl::StrCat("epoch ", epoch, ": publishing failed: ", v.status().message());
          Log(task, line);
          status(line);
        });
    if (!report.ok()) {
      if (stop.load()) return absl::OkStatus();
      return report.status();
    }
    MLIOT_RETURN_IF_ERROR(WriteFileAtomically(o.task_dir + "/" + kTrainedMarker, "1"));
    const IngestCounters c = ingest.counters();
    const CacheStats cs = cache->stats();
    Log(task, absl::StrFormat("trained %d epochs: %.0f samples/s, stall %.3f, %d skipped, %d short epochs; "
                              "ingest %d samples, %d malformed, %d duplicates; RAM hit ratio %.3f",
                              report->epochs, report->samples_per_s, report->stall_fraction, report->skipped,
                              report->short_epochs, c.samples, c.malformed, c.duplicates, cs.hit_ratio()));
    absl::StatusOr<int64_t> v = LatestBundleVersion(o.bundle_dir);
    status(absl::StrCat("trained: version ", v.ok() ? *v : 0, "; ingesting"));
  }

  // 3. Re-fit on feedback.
  fs::create_directories(o.feedback_dir);
  std::mt19937_64 rng(1);
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Feedback f = ReadFeedback(o.feedback_dir, s.classes, model->options().features, task);
    if (f.files.empty()) continue;
    if (!f.y.empty()) {
      status(absl::StrCat("adapting with ", f.y.size(), " feedback rows"));
      MLIOT_RETURN_IF_ERROR(FineTune(*model, *cache, f, s.batch, s.classes, rng));
      absl::StatusOr<int64_t> v = PublishStreamBundle(o.bundle_dir, *model, info);
      if (!v.ok()) {
        Log(task, absl::StrCat("publishing the adapted model failed, feedback kept: ", v.status().message()));
        std::this_thread::sleep_for(std::chrono::seconds(2));
        continue;
      }
      const std::string line = absl::StrCat("adapted with ", f.y.size(), " feedback rows: version ", *v);
      Log(task, line);
      status(line);
    }
    if (f.dropped > 0) Log(task, absl::StrCat(f.dropped, " feedback rows with an unknown label dropped"));
    for (const fs::path& file : f.files) fs::remove(file);
  }
  ingest.Stop();
  return absl::OkStatus();
}

}  // namespace mliot::stream
