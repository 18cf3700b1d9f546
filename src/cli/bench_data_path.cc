// The data path's training benchmarks:
//   bench cache          importance-aware caching: hit ratio and accuracy of
//                        a cache policy at a RAM capacity, vs uniform sampling
//   bench stream-train   training while a device streams the data set through
//                        MQTT or Kafka, vs the same training from RAM
//   bench data-parallel  N worker processes with Gloo all-reduce vs one worker
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "cli/bench_broker.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "common/grpc_util.h"
#include "data/source.h"
#include "stream/allreduce.h"
#include "stream/data_parallel.h"
#include "stream/device_simulator.h"
#include "stream/ingest.h"
#include "stream/sgd_model.h"
#include "stream/stream_trainer.h"
#include "stream/tiered_cache.h"

extern char** environ;

namespace mliot::cli {
namespace {

using nlohmann::json;

// Flags every training benchmark shares.
struct ModelFlags {
  std::string model = "mlp";
  std::string test = "fashion-mnist:test";
  int hidden = 256;
  int batch = 64;
  double learning_rate = 1e-3;
  int threads = 1;
  uint64_t seed = 1;

  void Add(CLI::App* app, const std::string& default_model) {
    model = default_model;
    app->add_option("--model", model, "mlp or cnn (the engine's architectures)")
        ->check(CLI::IsMember({"mlp", "cnn"}))->capture_default_str();
    app->add_option("--test", test, "labelled data for the accuracy")->capture_default_str();
    app->add_option("--hidden", hidden, "hidden width")->capture_default_str();
    app->add_option("--batch", batch, "mini-batch rows")->capture_default_str();
    app->add_option("--learning-rate", learning_rate, "Adam learning rate")->capture_default_str();
    app->add_option("--threads", threads, "intra-op threads of the model")->capture_default_str();
    app->add_option("--seed", seed, "random seed")->capture_default_str();
  }

  absl::StatusOr<std::unique_ptr<stream::SgdModel>> Make(const Dataset& data) const {
    stream::SgdOptions o;
    o.kind = model;
    o.features = data.cols;
    if (data.shape.has_value()) {
      o.height = data.shape->height;
      o.width = data.shape->width;
    }
    o.classes = data.num_classes();
    o.hidden = hidden;
    o.learning_rate = learning_rate;
    o.threads = threads;
    o.seed = seed;
    return stream::SgdModel::Create(o);
  }

  // Trainer options both training benchmarks share.
  stream::StreamTrainOptions TrainOptions(const Dataset& train, int epochs) const {
    stream::StreamTrainOptions o;
    o.class_names = train.class_names;
    o.epoch_samples = train.rows;
    o.epochs = epochs;
    o.batch = batch;
    o.seed = seed;
    return o;
  }
};

absl::StatusOr<Dataset> LoadTest(const std::string& spec, const Dataset& train) {
  LoadOptions lo;
  lo.for_training = false;
  absl::StatusOr<Dataset> test = LoadDataset(spec, lo);
  if (!test.ok()) return test.status();
  if (test->cols != train.cols) {
    return absl::InvalidArgumentError(absl::StrCat("--test ", spec, ": ", test->cols, " features, training data has ", train.cols));
  }
  RemapLabels(*test, train.class_names);
  return test;
}

std::string TempDir(const std::string& what) {
  return (std::filesystem::temp_directory_path() / absl::StrCat("mliot-bench-", what, "-", getpid())).string();
}

json TierJson(const stream::TierStats& t) {
  return {{"hits", t.hits}, {"misses", t.misses}, {"bytes", t.bytes},
          {"read_us_per_hit", t.hits > 0 ? 1e6 * t.read_s / static_cast<double>(t.hits) : 0.0}};
}

json CacheJson(const stream::CacheStats& s) {
  return {{"requests", s.requests}, {"substituted", s.substituted}, {"ram", TierJson(s.tiers[0])},
          {"disk", TierJson(s.tiers[1])}, {"archive", TierJson(s.tiers[2])}};
}

int64_t SampleBytes(const Dataset& data) {
  stream::SimulateOptions so;
  so.task = "bench";
  return static_cast<int64_t>(stream::RowToSample(data, 0, 0, so).SerializeAsString().size());
}

void Emit(const json& out, bool as_json) {
  if (as_json) PrintJson(out);
  else std::printf("%s\n", out.dump(2).c_str());
}

// ------------------------------------------------------------- bench cache

struct CacheArgs {
  std::string policy = "shade";
  double capacity = 0.1;
  std::string data = "fashion-mnist:train:20000";
  int epochs = 5;
  std::string sampler;  // default: uniform for lru, importance otherwise
  double disk_capacity = 0.3;
  bool json = false;
  ModelFlags model;
};

int RunBenchCache(const CacheArgs& a) {
  if (a.capacity <= 0 || a.capacity > 1) return Fail(absl::InvalidArgumentError("--capacity: a fraction in (0, 1]"));
  if (a.epochs < 1) return Fail(absl::InvalidArgumentError("--epochs must be at least 1"));
  absl::StatusOr<Dataset> train = LoadDataset(a.data);
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<Dataset> test = LoadTest(a.model.test, *train);
  if (!test.ok()) return Fail(test.status());
  const std::string sampler = !a.sampler.empty() ? a.sampler : a.policy == "lru" ? "uniform" : "importance";
  const int64_t bytes = SampleBytes(*train) * train->rows;
  const std::string dir = TempDir("cache");
  stream::CacheOptions co;
  co.dir = dir;
  co.policy = a.policy;
  co.ram_bytes = static_cast<int64_t>(a.capacity * static_cast<double>(bytes));
  co.disk_bytes = static_cast<int64_t>(a.disk_capacity * static_cast<double>(bytes));
  co.seed = a.model.seed;
  absl::StatusOr<std::unique_ptr<stream::TieredCache>> cache = stream::TieredCache::Open(co);
  if (!cache.ok()) return Fail(cache.status());
  Progress(absl::StrCat("cache: ", train->rows, " samples (", bytes / (1 << 20), " MiB) into RAM ", a.capacity,
                        " / disk ", a.disk_capacity, " / archive, policy ", a.policy, ", sampler ", sampler));
  stream::SimulateOptions so;
  so.task = "bench";
  for (int64_t i = 0; i < train->rows; ++i) {
    if (absl::StatusOr<int64_t> k = (*cache)->Put(stream::RowToSample(*train, i, i, so)); !k.ok()) return Fail(k.status());
  }
  stream::StreamTrainOptions o = a.model.TrainOptions(*train, a.epochs);
  o.arrival_order = false;
  o.sampler = sampler;
  o.hits_first = a.policy != "lru";
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> model = a.model.Make(*train);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<stream::StreamTrainReport> r = stream::TrainFromCache(
      **cache, **model, o, [&](int epoch, int64_t, double loss) {
        Progress(absl::StrFormat("epoch %d/%d: loss %.4f, RAM hit ratio so far %.4f", epoch, a.epochs, loss,
                                 (*cache)->stats().hit_ratio()));
      });
  if (!r.ok()) return Fail(r.status());
  const double accuracy = (*model)->Accuracy(*test);
  const stream::CacheStats stats = (*cache)->stats();
  cache->reset();
  std::filesystem::remove_all(dir);

  // The reference: uniform sampling from RAM, same model, same epochs.
  Progress("reference: uniform sampling from RAM");
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> uniform = a.model.Make(*train);
  if (!uniform.ok()) return Fail(uniform.status());
  stream::StreamTrainOptions uo = o;
  uo.sampler = "uniform";
  absl::StatusOr<stream::StreamTrainReport> ur = stream::TrainInRam(*train, **uniform, uo);
  if (!ur.ok()) return Fail(ur.status());
  const double accuracy_uniform = (*uniform)->Accuracy(*test);

  double epoch_s = 0;
  for (double s : r->epoch_s) epoch_s += s;
  epoch_s /= std::max<size_t>(1, r->epoch_s.size());
  Emit({{"policy", a.policy},
        {"capacity", a.capacity},
        {"hit_ratio", stats.hit_ratio()},
        {"accuracy", accuracy},
        {"epoch_s", epoch_s},
        {"sampler", sampler},
        {"accuracy_uniform", accuracy_uniform},
        {"model", a.model.model},
        {"samples", train->rows},
        {"epochs", a.epochs},
        {"cache", CacheJson(stats)}},
       a.json);
  return 0;
}

// ------------------------------------------------------- bench stream-train

struct StreamTrainArgs {
  std::string broker = "mqtt";
  std::string data = "fashion-mnist:train";
  int epochs = 2;
  std::string rate = "max";
  double capacity = 0.25;
  int device_nice = 10;
  int ingest_nice = 5;
  int device_batch = 16;  // a device streaming this fast packs samples (one message each: --device-batch 1)
  bool json = false;
  ModelFlags model;
};

// Starts this binary with `args` under `nice` (when > 0), stdout to `out`.
absl::StatusOr<pid_t> SpawnMliot(const std::vector<std::string>& mliot_args, int nice, const std::string& out) {
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) return absl::InternalError("cannot find this executable (/proc/self/exe)");
  exe[len] = '\0';
  std::vector<std::string> args;
  if (nice > 0) args = {"nice", "-n", std::to_string(nice)};
  args.push_back(exe);
  args.insert(args.end(), mliot_args.begin(), mliot_args.end());
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!out.empty()) posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = nice > 0 ? posix_spawnp(&pid, "nice", &actions, nullptr, argv.data(), environ)
                          : posix_spawn(&pid, exe, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("spawn ", args.front(), ": ", std::strerror(rc)));
  return pid;
}

int RunBenchStreamTrain(const StreamTrainArgs& a) {
  if (a.epochs < 1) return Fail(absl::InvalidArgumentError("--epochs must be at least 1"));
  double rate = 0;
  if (a.rate != "max" && (!absl::SimpleAtod(a.rate, &rate) || rate <= 0)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--rate '", a.rate, "': samples per second, or max")));
  }
  absl::StatusOr<Dataset> train = LoadDataset(a.data);
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<Dataset> test = LoadTest(a.model.test, *train);
  if (!test.ok()) return Fail(test.status());
  const std::string dir = TempDir("stream-train");
  absl::StatusOr<BenchBroker> broker = StartBroker(a.broker, dir);
  if (!broker.ok()) return Fail(broker.status());
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(broker->base + broker->Topic("mliot/bench/samples"));
  if (!uri.ok()) return Fail(uri.status());

  const int64_t bytes = SampleBytes(*train) * train->rows;
  stream::CacheOptions co;
  co.dir = dir + "/cache";
  co.policy = "lru";
  co.ram_bytes = static_cast<int64_t>(a.capacity * static_cast<double>(bytes));
  co.disk_bytes = bytes * 2;
  absl::StatusOr<std::unique_ptr<stream::TieredCache>> cache = stream::TieredCache::Open(co);
  if (!cache.ok()) return Fail(cache.status());

  // The node's ingest path into the cache.
  stream::TransportOptions t;
  t.qos = 1;
  t.client_id = absl::StrCat("mliot-ingest-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> sub = stream::OpenSubscriber(*uri, t);
  if (!sub.ok()) return Fail(sub.status());
  std::atomic<int64_t> put_errors{0};
  stream::Ingestor ingest(std::move(*sub), [&](v1::Sample&& s) {
    if (!(*cache)->Put(s).ok()) put_errors.fetch_add(1);
  });
  ingest.set_thread_nice(a.ingest_nice);
  if (absl::Status s = ingest.Start(); !s.ok()) return Fail(s);
  t.client_id = absl::StrCat("mliot-device-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Publisher>> pub = stream::OpenPublisher(*uri, t);
  if (!pub.ok()) return Fail(pub.status());
  if (absl::Status s = WarmUp(**pub, [&] { return ingest.counters().messages; }); !s.ok()) return Fail(s);
  const int64_t warmup_malformed = ingest.counters().malformed;

  absl::StatusOr<std::unique_ptr<stream::SgdModel>> model = a.model.Make(*train);
  if (!model.ok()) return Fail(model.status());
  stream::StreamTrainOptions o = a.model.TrainOptions(*train, a.epochs);
  o.arrival_order = true;
  o.sampler = "uniform";
  o.checkpoint = dir + "/model.ckpt";
  Progress(absl::StrCat("stream-train: ", train->rows, " samples from a device over ", uri->ToString(), ", ",
                        a.model.model, " trained while they arrive"));
  // The device: `mliot device simulate` in its own process, at nice
  // --device-nice: on this one machine it stands for the IoT devices, which
  // in a deployment do not share the edge node's cores.
  const std::string device_out = dir + "/device.json";
  absl::StatusOr<pid_t> device = SpawnMliot(
      {"device", "simulate", "--data", a.data, "--broker", uri->ToString(), "--task", "bench", "--rate", a.rate,
       "--device", "bench-device", "--batch", std::to_string(a.device_batch), "--json"},
      a.device_nice, device_out);
  if (!device.ok()) return Fail(device.status());
  absl::StatusOr<stream::StreamTrainReport> r = stream::TrainFromCache(
      **cache, **model, o, [&](int epoch, int64_t samples, double loss) {
        Progress(absl::StrFormat("epoch %d/%d: %d samples trained, loss %.4f, %d in the cache", epoch, a.epochs,
                                 samples, loss, (*cache)->size()));
      });
  if (!r.ok()) {
    kill(*device, SIGTERM);
    waitpid(*device, nullptr, 0);
    return Fail(r.status());
  }
  int device_status = 0;
  waitpid(*device, &device_status, 0);
  ingest.Stop();
  json sim = json::object();
  if (absl::StatusOr<std::string> text = ReadFile(device_out); text.ok()) {
    // Its stdout is one JSON line (progress goes to stderr).
    sim = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  }
  if (!WIFEXITED(device_status) || WEXITSTATUS(device_status) != 0 || !sim.is_object() || !sim.contains("samples")) {
    return Fail(absl::InternalError("the device simulator failed (see its messages above)"));
  }
  const int64_t published = sim["samples"].get<int64_t>();
  const double accuracy = (*model)->Accuracy(*test);
  const stream::CacheStats stats = (*cache)->stats();
  const stream::IngestCounters counters = ingest.counters();
  const int64_t ingested = (*cache)->size();
  const bool checkpointed = std::filesystem::exists(o.checkpoint);
  cache->reset();
  pub->reset();
  broker->mosquitto.reset();
  broker->kafka.reset();
  std::filesystem::remove_all(dir);

  // The peer: the same training from the data set in RAM.
  Progress("peer: the same training from RAM");
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> peer_model = a.model.Make(*train);
  if (!peer_model.ok()) return Fail(peer_model.status());
  absl::StatusOr<stream::StreamTrainReport> peer = stream::TrainInRam(*train, **peer_model, o);
  if (!peer.ok()) return Fail(peer.status());
  const double peer_accuracy = (*peer_model)->Accuracy(*test);

  Emit({{"accuracy", accuracy},
        {"stall_fraction", r->stall_fraction},
        {"samples_per_s", r->samples_per_s},
        {"epochs", r->epochs},
        {"peer", {{"samples_per_s", peer->samples_per_s}, {"accuracy", peer_accuracy}}},
        {"fraction_of_peer", r->samples_per_s / std::max(1e-9, peer->samples_per_s)},
        {"broker", a.broker},
        {"model", a.model.model},
        {"samples", r->samples},
        {"skipped", r->skipped},
        {"train_s", r->train_s},
        {"wait_s", r->wait_s},
        {"trainer_cpu_s", r->trainer_cpu_s},
        {"peer_trainer_cpu_s", peer->trainer_cpu_s},
        {"epoch_s", r->epoch_s},
        {"peer_epoch_s", peer->epoch_s},
        {"checkpointed", checkpointed},
        {"ingest", {{"published", published}, {"ingested", ingested}, {"lost", published - ingested},
                    {"malformed", counters.malformed - warmup_malformed}, {"duplicates", counters.duplicates},
                    {"msgs_per_s", sim["samples_per_s"]},
                    {"put_errors", put_errors.load()}}},
        {"cache", CacheJson(stats)}},
       a.json);
  return published == ingested ? 0 : 1;
}

// ---------------------------------------------------- bench data-parallel

struct DataParallelArgs {
  int workers = 2;
  std::string data = "fashion-mnist:train:20000";
  int epochs = 2;
  bool json = false;
  ModelFlags model;  // model.batch is the global batch
  std::string broker;  // "": shares split locally; mqtt | kafka: shares from the broker
  // Set on the worker processes the benchmark starts.
  int rank = -1;
  std::string store;
  std::string broker_uri;
};

stream::DataParallelOptions DpOptions(const DataParallelArgs& a, const Dataset& train) {
  stream::DataParallelOptions o;
  o.epochs = a.epochs;
  o.global_batch = a.model.batch;
  o.total_rows = train.rows;
  o.seed = a.model.seed;
  return o;
}

constexpr char kDataParallelGroup[] = "mliot-dp";

bool WaitForFile(const std::string& path, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

struct BrokerShare {
  Dataset share;
  int64_t duplicates = 0;  // redelivered samples, dropped by id
  int64_t skipped = 0;     // unknown label or wrong size
};

// A worker's share from the broker, as an edge node in a group gets it: an
// MQTT shared subscription $share/mliot-dp/TOPIC or a Kafka consumer group
// mliot-dp. Says it is ready (STORE/ready-RANK) once subscribed (Kafka: once
// it owns partitions), then ingests until the benchmark has published
// everything (STORE/published) and the stream has been quiet for 1.5 s.
absl::StatusOr<BrokerShare> IngestShare(const DataParallelArgs& a, const Dataset& like) {
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(a.broker_uri);
  if (!uri.ok()) return uri.status();
  stream::TransportOptions t;
  t.qos = 1;
  t.group = kDataParallelGroup;
  t.client_id = absl::StrCat("mliot-dp-", a.rank, "-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> sub = stream::OpenSubscriber(*uri, t);
  if (!sub.ok()) return sub.status();
  stream::Subscriber* subscriber = sub->get();
  std::map<std::string, int32_t> classes;
  for (size_t i = 0; i < like.class_names.size(); ++i) classes[like.class_names[i]] = static_cast<int32_t>(i);
  absl::Mutex mu;
  BrokerShare out;
  out.share.cols = like.cols;
  out.share.class_names = like.class_names;
  out.share.shape = like.shape;
  std::set<std::string> seen;
  auto last = std::chrono::steady_clock::now();
  stream::Ingestor ingest(std::move(*sub), [&](v1::Sample&& s) {
    absl::StatusOr<std::vector<float>> x = stream::SampleFeatures(s);
    absl::MutexLock lock(&mu);
    last = std::chrono::steady_clock::now();
    if (!seen.insert(s.id()).second) {
      ++out.duplicates;
      return;
    }
    auto label = classes.find(s.label());
    if (!x.ok() || label == classes.end() || static_cast<int64_t>(x->size()) != like.cols) {
      ++out.skipped;
      return;
    }
    out.share.features.insert(out.share.features.end(), x->begin(), x->end());
    out.share.labels.push_back(label->second);
    ++out.share.rows;
  });
  if (absl::Status s = ingest.Start(); !s.ok()) return s;
  if (uri->scheme == "kafka") {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      absl::StatusOr<std::map<int32_t, int64_t>> owned = subscriber->Positions();
      if (owned.ok() && !owned->empty()) break;
      if (std::chrono::steady_clock::now() > end) {
        return absl::DeadlineExceededError(absl::StrCat("rank ", a.rank, ": no partitions assigned within 60 s"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (absl::Status s = WriteFileAtomically(absl::StrCat(a.store, "/ready-", a.rank), "1"); !s.ok()) return s;
  if (!WaitForFile(a.store + "/published", 600)) {
    return absl::DeadlineExceededError(absl::StrCat("rank ", a.rank, ": the benchmark never finished publishing"));
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    absl::MutexLock lock(&mu);
    if (std::chrono::steady_clock::now() - last > std::chrono::milliseconds(1500)) break;
  }
  ingest.Stop();
  absl::MutexLock lock(&mu);
  return out;
}

// One worker process: joins the group, trains on its share, writes its
// report to STORE/result-RANK.json.
int RunDataParallelWorker(const DataParallelArgs& a) {
  absl::StatusOr<Dataset> train = LoadDataset(a.data);
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> model = a.model.Make(*train);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<std::unique_ptr<stream::AllReduceGroup>> group =
      stream::AllReduceGroup::Join(a.rank, a.workers, a.store + "/rendezvous");
  if (!group.ok()) return Fail(group.status());
  Dataset share;
  int64_t duplicates = 0;
  stream::DataParallelOptions o = DpOptions(a, *train);
  if (a.broker_uri.empty()) {
    share = stream::ShareOf(*train, a.rank, a.workers);
  } else {
    absl::StatusOr<BrokerShare> got = IngestShare(a, *train);
    if (!got.ok()) return Fail(got.status());
    share = std::move(got->share);
    duplicates = got->duplicates;
    o.total_rows = 0;  // the sum of what the workers received
  }
  if (a.rank == 0) o.checkpoint = a.store + "/model.ckpt";
  absl::StatusOr<stream::DataParallelReport> r = stream::TrainDataParallel(share, **model, group->get(), o);
  if (!r.ok()) return Fail(r.status());
  json out = {{"rank", a.rank}, {"rows", share.rows}, {"steps", r->steps}, {"train_s", r->train_s},
              {"allreduce_s", r->allreduce_s}, {"bytes_per_step", r->bytes_per_step},
              {"parameter_sum", r->parameter_sum}, {"share_rows", r->share_rows}, {"duplicates", duplicates}};
  if (a.rank == 0) {
    absl::StatusOr<Dataset> test = LoadTest(a.model.test, *train);
    if (!test.ok()) return Fail(test.status());
    out["accuracy"] = (*model)->Accuracy(*test);
  }
  const std::string path = absl::StrCat(a.store, "/result-", a.rank, ".json");
  if (absl::Status s = WriteFileAtomically(path, out.dump()); !s.ok()) return Fail(s);
  return 0;
}

int RunBenchDataParallel(const DataParallelArgs& a) {
  if (a.rank >= 0) return RunDataParallelWorker(a);
  if (a.workers < 1) return Fail(absl::InvalidArgumentError("--workers must be at least 1"));
  if (a.model.batch % a.workers != 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--batch ", a.model.batch, " is not a multiple of --workers ", a.workers)));
  }
  absl::StatusOr<Dataset> train = LoadDataset(a.data);
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<Dataset> test = LoadTest(a.model.test, *train);
  if (!test.ok()) return Fail(test.status());

  // The reference: one worker, all rows, the same global batch.
  Progress(absl::StrCat("data-parallel: one worker on ", train->rows, " rows, batch ", a.model.batch));
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> single = a.model.Make(*train);
  if (!single.ok()) return Fail(single.status());
  absl::StatusOr<stream::DataParallelReport> one = stream::TrainDataParallel(*train, **single, nullptr, DpOptions(a, *train));
  if (!one.ok()) return Fail(one.status());
  const double accuracy_single = (*single)->Accuracy(*test);

  // The workers: this binary again, one process per rank.
  Progress(absl::StrCat("data-parallel: ", a.workers, " worker processes, Gloo ring all-reduce over loopback TCP",
                        a.broker.empty() ? ", shares split locally"
                                         : absl::StrCat(", shares from ", a.broker, " (group ", kDataParallelGroup, ")")));
  const std::string store = TempDir("data-parallel");
  std::filesystem::remove_all(store);
  std::filesystem::create_directories(store);
  std::optional<BenchBroker> broker;
  std::string broker_uri;
  if (!a.broker.empty()) {
    absl::StatusOr<BenchBroker> started = StartBroker(a.broker, store + "/broker");
    if (!started.ok()) return Fail(started.status());
    broker = std::move(*started);
    broker_uri = broker->base + broker->Topic("mliot/bench/samples");
  }
  std::vector<pid_t> pids;
  const auto start = std::chrono::steady_clock::now();
  for (int rank = 0; rank < a.workers; ++rank) {
    std::vector<std::string> args = {"mliot", "bench", "data-parallel", "--workers", std::to_string(a.workers),
                                     "--data", a.data, "--epochs", std::to_string(a.epochs),
                                     "--batch", std::to_string(a.model.batch), "--model", a.model.model,
                                     "--test", a.model.test, "--hidden", std::to_string(a.model.hidden),
                                     "--learning-rate", absl::StrCat(a.model.learning_rate),
                                     "--threads", std::to_string(a.model.threads),
                                     "--seed", std::to_string(a.model.seed + 1 + rank),  // the broadcast aligns them
                                     "--rank", std::to_string(rank), "--store", store};
    if (!broker_uri.empty()) args.insert(args.end(), {"--broker-uri", broker_uri});
    absl::StatusOr<pid_t> pid = SpawnMliot(std::vector<std::string>(args.begin() + 1, args.end()), 0, "");
    if (!pid.ok()) return Fail(pid.status());
    pids.push_back(*pid);
  }
  if (broker.has_value()) {
    // The device: publishes the whole set once every worker is subscribed.
    for (int rank = 0; rank < a.workers; ++rank) {
      if (!WaitForFile(absl::StrCat(store, "/ready-", rank), 120)) {
        for (pid_t pid : pids) kill(pid, SIGTERM);
        return Fail(absl::DeadlineExceededError(absl::StrCat("worker ", rank, " never subscribed")));
      }
    }
    absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(broker_uri);
    stream::TransportOptions t;
    t.qos = 1;
    t.client_id = absl::StrCat("mliot-dp-device-", getpid());
    absl::StatusOr<std::unique_ptr<stream::Publisher>> pub = stream::OpenPublisher(*uri, t);
    if (!pub.ok()) return Fail(pub.status());
    stream::SimulateOptions so;
    so.task = "bench";
    so.key_by_label = false;  // spread over the Kafka partitions, so each worker gets a mix of labels
    std::atomic<bool> never{false};
    absl::StatusOr<stream::SimulateReport> sent = stream::Simulate(*train, **pub, so, never);
    if (!sent.ok()) return Fail(sent.status());
    if (absl::Status s = (*pub)->Flush(60); !s.ok()) return Fail(s);
    Progress(absl::StrCat("data-parallel: published ", sent->samples, " samples to ", broker_uri));
    if (absl::Status s = WriteFileAtomically(store + "/published", std::to_string(sent->samples)); !s.ok()) {
      return Fail(s);
    }
  }
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed > 0) return Fail(absl::InternalError(absl::StrCat(failed, " of ", a.workers, " workers failed")));
  std::vector<json> results;
  for (int rank = 0; rank < a.workers; ++rank) {
    absl::StatusOr<std::string> text = ReadFile(absl::StrCat(store, "/result-", rank, ".json"));
    if (!text.ok()) return Fail(text.status());
    results.push_back(json::parse(*text));
  }
  const bool checkpointed = std::filesystem::exists(store + "/model.ckpt");
  std::filesystem::remove_all(store);
  bool identical = true;
  double allreduce_s = 0;
  for (const json& r : results) {
    identical = identical && r["parameter_sum"].get<double>() == results[0]["parameter_sum"].get<double>();
    allreduce_s = std::max(allreduce_s, r["allreduce_s"].get<double>());
  }
  const int64_t steps = results[0]["steps"].get<int64_t>();
  int64_t duplicates = 0;
  for (const json& r : results) duplicates += r["duplicates"].get<int64_t>();
  Emit({{"workers", a.workers},
        {"broker", a.broker.empty() ? "none" : a.broker},
        {"share_rows", results[0]["share_rows"]},
        {"duplicates", duplicates},
        {"accuracy_single", accuracy_single},
        {"accuracy_parallel", results[0]["accuracy"]},
        {"allreduce_ms_per_step", 1e3 * allreduce_s / static_cast<double>(std::max<int64_t>(1, steps))},
        {"bytes_per_step", results[0]["bytes_per_step"]},
        {"steps", steps},
        {"replicas_identical", identical},
        {"checkpointed", checkpointed},
        {"train_s_single", one->train_s},
        {"train_s_parallel", results[0]["train_s"]},
        {"wall_s_parallel", wall_s},
        {"model", a.model.model},
        {"global_batch", a.model.batch}},
       a.json);
  return identical ? 0 : 1;
}

}  // namespace

Runner AddDataPathBenchCommands(CLI::App* bench) {
  auto ca = std::make_shared<CacheArgs>();
  CLI::App* cache = bench->add_subcommand("cache", "hit ratio and accuracy of a cache policy at a RAM capacity");
  cache->add_option("--policy", ca->policy, "lru | shade | icache")
      ->check(CLI::IsMember({"lru", "shade", "icache"}))->capture_default_str();
  cache->add_option("--capacity", ca->capacity, "RAM tier as a fraction of the data")->capture_default_str();
  cache->add_option("--data", ca->data, "data spec: " + DataSpecForms())->capture_default_str();
  cache->add_option("--epochs", ca->epochs, "training epochs")->capture_default_str();
  cache->add_option("--sampler", ca->sampler, "uniform | importance (default: uniform for lru, else importance)")
      ->check(CLI::IsMember({"uniform", "importance"}));
  cache->add_option("--disk-capacity", ca->disk_capacity, "disk tier as a fraction of the data")->capture_default_str();
  cache->add_flag("--json", ca->json, "print one JSON object as the last stdout line");
  ca->model.Add(cache, "mlp");

  auto sa = std::make_shared<StreamTrainArgs>();
  CLI::App* st = bench->add_subcommand("stream-train", "train while a device streams the data, vs training from RAM");
  st->add_option("--broker", sa->broker, "mqtt | kafka")->check(CLI::IsMember({"mqtt", "kafka"}))->capture_default_str();
  st->add_option("--data", sa->data, "data spec: " + DataSpecForms())->capture_default_str();
  st->add_option("--epochs", sa->epochs, "training epochs")->capture_default_str();
  st->add_option("--rate", sa->rate, "device samples per second, or max")->capture_default_str();
  st->add_option("--capacity", sa->capacity, "RAM tier as a fraction of the data")->capture_default_str();
  st->add_option("--device-batch", sa->device_batch, "samples the device packs into one message")
      ->capture_default_str();
  st->add_option("--ingest-nice", sa->ingest_nice, "niceness added to the ingest threads (0: none)")
      ->capture_default_str();
  st->add_option("--device-nice", sa->device_nice, "nice level of the device simulator process (0: none)")
      ->capture_default_str();
  st->add_flag("--json", sa->json, "print one JSON object as the last stdout line");
  sa->model.Add(st, "cnn");

  auto da = std::make_shared<DataParallelArgs>();
  CLI::App* dp = bench->add_subcommand("data-parallel", "N workers with Gloo all-reduce vs one worker");
  dp->add_option("--workers", da->workers, "worker processes")->capture_default_str();
  dp->add_option("--data", da->data, "data spec: " + DataSpecForms())->capture_default_str();
  dp->add_option("--epochs", da->epochs, "training epochs")->capture_default_str();
  da->model.batch = 128;  // the global batch, split over the workers
  da->model.Add(dp, "mlp");
  dp->add_flag("--json", da->json, "print one JSON object as the last stdout line");
  dp->add_option("--rank", da->rank, "(internal) run as this worker rank")->group("");
  dp->add_option("--store", da->store, "(internal) rendezvous and result directory")->group("");
  dp->add_option("--broker", da->broker,
                 "mqtt | kafka: each worker gets its share from the broker (shared subscription / consumer group)")
      ->check(CLI::IsMember({"mqtt", "kafka"}));
  dp->add_option("--broker-uri", da->broker_uri, "(internal) the workers' topic")->group("");

  return [ca, cache, sa, st, da, dp]() -> int {
    if (cache->parsed()) return RunBenchCache(*ca);
    if (st->parsed()) return RunBenchStreamTrain(*sa);
    if (dp->parsed()) return RunBenchDataParallel(*da);
    return -1;
  };
}

}  // namespace mliot::cli
