#include "bench/data_parallel_bench.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/broker.h"
#include "bench/kit.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "data/source.h"
#include "stream/allreduce.h"
#include "stream/data_parallel.h"
#include "stream/device_simulator.h"
#include "stream/ingest.h"

namespace mliot::bench {
namespace {

using nlohmann::json;

void Say(const std::string& line) { Progress("data-parallel", line); }

stream::DataParallelOptions DpOptions(const DataParallelBenchOptions& a, const Dataset& train) {
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

// Waits for STORE/ready-RANK of every worker; with Kafka, until their
// partition lists are non-empty and disjoint and have stayed so for 0.5 s
// (a worker that still lists partitions the rebalance moved has not caught up).
absl::Status WaitForWorkersSubscribed(const std::string& store, int workers, bool kafka) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::optional<std::chrono::steady_clock::time_point> settled;
  std::vector<std::string> previous;
  for (;;) {
    std::vector<std::string> lists;
    for (int rank = 0; rank < workers; ++rank) {
      absl::StatusOr<std::string> text = ReadFile(absl::StrCat(store, "/ready-", rank));
      if (text.ok()) lists.push_back(*text);
    }
    bool ready = static_cast<int>(lists.size()) == workers;
    if (ready && kafka) {
      std::set<std::string> owned;
      size_t listed = 0;
      for (const std::string& list : lists) {
        for (absl::string_view id : absl::StrSplit(list, ',', absl::SkipEmpty())) {
          owned.insert(std::string(id));
          ++listed;
        }
        ready = ready && !list.empty();
      }
      ready = ready && owned.size() == listed;
    }
    if (!ready || lists != previous) settled.reset();
    if (ready && !settled.has_value()) settled = std::chrono::steady_clock::now();
    previous = lists;
    if (settled.has_value() &&
        (!kafka || std::chrono::steady_clock::now() - *settled > std::chrono::milliseconds(500))) {
      return absl::OkStatus();
    }
    if (std::chrono::steady_clock::now() > end) {
      return absl::DeadlineExceededError(
          absl::StrCat("the ", workers, " workers did not all subscribe within 120 s",
                       kafka ? " (or the group never settled)" : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
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
absl::StatusOr<BrokerShare> IngestShare(const DataParallelBenchOptions& a,
                                        const DataParallelWorker& w, const Dataset& like) {
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(w.broker_uri);
  if (!uri.ok()) return uri.status();
  stream::TransportOptions t;
  t.qos = 1;
  t.group = kDataParallelGroup;
  t.client_id = absl::StrCat("mliot-dp-", w.rank, "-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> sub = stream::OpenSubscriber(*uri, t);
  if (!sub.ok()) return sub.status();
  stream::Subscriber* subscriber = sub->get();
  std::map<std::string, int32_t> classes;
  for (size_t i = 0; i < like.class_names.size(); ++i)
    classes[like.class_names[i]] = static_cast<int32_t>(i);
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
  const std::string ready = absl::StrCat(w.store, "/ready-", w.rank);
  if (uri->scheme != "kafka") {
    if (absl::Status s = WriteFileAtomically(ready, "subscribed"); !s.ok()) return s;
  } else {
    // Kafka: STORE/ready-RANK lists the partitions this worker owns, kept
    // current until the benchmark publishes; the benchmark waits until the
    // lists are disjoint, i.e. the group's rebalance has finished.
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    std::string written;
    while (!std::filesystem::exists(w.store + "/published")) {
      absl::StatusOr<std::map<int32_t, int64_t>> owned = subscriber->Positions();
      if (owned.ok() && !owned->empty()) {
        std::vector<std::string> ids;
        for (const auto& [partition, offset] : *owned) ids.push_back(std::to_string(partition));
        const std::string text = absl::StrJoin(ids, ",");
        if (text != written) {
          if (absl::Status s = WriteFileAtomically(ready, text); !s.ok()) return s;
          written = text;
        }
      }
      if (std::chrono::steady_clock::now() > end) {
        return absl::DeadlineExceededError(
            absl::StrCat("rank ", w.rank, ": the benchmark never published within 120 s"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!WaitForFile(w.store + "/published", 600)) {
    return absl::DeadlineExceededError(
        absl::StrCat("rank ", w.rank, ": the benchmark never finished publishing"));
  }
  int64_t published = 0;
  if (absl::StatusOr<std::string> text = ReadFile(w.store + "/published"); text.ok()) {
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &published);
  }
  // Done when the workers together hold everything published (each writes
  // its count to STORE/count-RANK) and the stream is quiet; or, if some
  // samples never arrive (a broker drop), after 5 s of quiet.
  const auto published_at = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int64_t mine = 0;
    std::chrono::steady_clock::time_point quiet_since;
    {
      absl::MutexLock lock(&mu);
      mine = out.share.rows + out.skipped;
      quiet_since = std::max(last, published_at);
    }
    if (absl::Status s =
            WriteFileAtomically(absl::StrCat(w.store, "/count-", w.rank), std::to_string(mine));
        !s.ok()) {
      return s;
    }
    int64_t total = 0;
    for (int rank = 0; rank < a.workers; ++rank) {
      int64_t n = 0;
      absl::StatusOr<std::string> text = ReadFile(absl::StrCat(w.store, "/count-", rank));
      if (text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &n)) total += n;
    }
    const auto quiet = std::chrono::steady_clock::now() - quiet_since;
    if (total >= published && quiet > std::chrono::milliseconds(300)) break;
    if (quiet > std::chrono::seconds(5)) break;
  }
  ingest.Stop();
  absl::MutexLock lock(&mu);
  return out;
}

}  // namespace

absl::Status RunDataParallelWorker(const DataParallelBenchOptions& a, const DataParallelWorker& w) {
  absl::StatusOr<Dataset> train = LoadDataset(a.data);
  if (!train.ok()) return train.status();
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> model = a.model.Make(*train);
  if (!model.ok()) return model.status();
  absl::StatusOr<std::unique_ptr<stream::AllReduceGroup>> group =
      stream::AllReduceGroup::Join(w.rank, a.workers, w.store + "/rendezvous");
  if (!group.ok()) return group.status();
  Dataset share;
  int64_t duplicates = 0;
  stream::DataParallelOptions o = DpOptions(a, *train);
  if (w.broker_uri.empty()) {
    share = stream::ShareOf(*train, w.rank, a.workers);
  } else {
    absl::StatusOr<BrokerShare> got = IngestShare(a, w, *train);
    if (!got.ok()) return got.status();
    share = std::move(got->share);
    duplicates = got->duplicates;
    o.total_rows = 0;  // the sum of what the workers received
  }
  if (w.rank == 0) o.checkpoint = w.store + "/model.ckpt";
  absl::StatusOr<stream::DataParallelReport> r =
      stream::TrainDataParallel(share, **model, group->get(), o);
  if (!r.ok()) return r.status();
  json out = {{"rank", w.rank},
              {"rows", share.rows},
              {"steps", r->steps},
              {"train_s", r->train_s},
              {"allreduce_s", r->allreduce_s},
              {"bytes_per_step", r->bytes_per_step},
              {"parameter_sum", r->parameter_sum},
              {"share_rows", r->share_rows},
              {"duplicates", duplicates}};
  if (w.rank == 0) {
    absl::StatusOr<Dataset> test = LoadTestLike(a.model.test, *train);
    if (!test.ok()) return test.status();
    out["accuracy"] = (*model)->Accuracy(*test);
  }
  return WriteFileAtomically(absl::StrCat(w.store, "/result-", w.rank, ".json"), out.dump());
}

namespace {

absl::StatusOr<json> RunOnce(const DataParallelBenchOptions& a, const Dataset& train,
                             const Dataset& test) {
  // The reference: one worker, all rows, the same global batch.
  Say(absl::StrCat("one worker on ", train.rows, " rows, batch ", a.model.batch));
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> single = a.model.Make(train);
  if (!single.ok()) return single.status();
  absl::StatusOr<stream::DataParallelReport> one =
      stream::TrainDataParallel(train, **single, nullptr, DpOptions(a, train));
  if (!one.ok()) return one.status();
  const double accuracy_single = (*single)->Accuracy(test);

  // The workers: this binary again, one process per rank.
  Say(absl::StrCat(a.workers, " worker processes, Gloo ring all-reduce over loopback TCP",
                   a.broker.empty() ? ", shares split locally"
                                    : absl::StrCat(", shares from ", a.broker, " (group ",
                                                   kDataParallelGroup, ")")));
  const std::string store = TempDir("data-parallel");
  std::filesystem::remove_all(store);
  std::filesystem::create_directories(store);
  std::optional<BenchBroker> broker;
  std::string broker_uri;
  if (!a.broker.empty()) {
    absl::StatusOr<BenchBroker> started = StartBroker(a.broker, store + "/broker");
    if (!started.ok()) return started.status();
    broker = std::move(*started);
    broker_uri = broker->base + broker->Topic("mliot/bench/samples");
  }
  std::vector<pid_t> pids;
  const auto start = std::chrono::steady_clock::now();
  for (int rank = 0; rank < a.workers; ++rank) {
    SpawnOptions worker;
    worker.args = {SelfExe(),
                   "bench",
                   "data-parallel",
                   "--workers",
                   std::to_string(a.workers),
                   "--data",
                   a.data,
                   "--epochs",
                   std::to_string(a.epochs),
                   "--batch",
                   std::to_string(a.model.batch),
                   "--model",
                   a.model.model,
                   "--test",
                   a.model.test,
                   "--hidden",
                   std::to_string(a.model.hidden),
                   "--learning-rate",
                   absl::StrCat(a.model.learning_rate),
                   "--threads",
                   std::to_string(a.model.threads),
                   "--seed",
                   std::to_string(a.model.seed + 1 + rank),  // the broadcast aligns them
                   "--rank",
                   std::to_string(rank),
                   "--store",
                   store};
    if (!broker_uri.empty()) worker.args.insert(worker.args.end(), {"--broker-uri", broker_uri});
    absl::StatusOr<pid_t> pid = Spawn(worker);
    if (!pid.ok()) return pid.status();
    pids.push_back(*pid);
  }
  if (broker.has_value()) {
    // The device: publishes the whole set once every worker is subscribed
    // (Kafka: once the group's partitions are split among all of them).
    if (absl::Status s = WaitForWorkersSubscribed(store, a.workers, a.broker == "kafka"); !s.ok()) {
      for (pid_t pid : pids) kill(pid, SIGTERM);
      return s;
    }
    absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(broker_uri);
    stream::TransportOptions t;
    t.qos = 1;
    t.client_id = absl::StrCat("mliot-dp-device-", getpid());
    absl::StatusOr<std::unique_ptr<stream::Publisher>> pub = stream::OpenPublisher(*uri, t);
    if (!pub.ok()) return pub.status();
    stream::SimulateOptions so;
    so.task = "bench";
    so.key_by_label =
        false;  // spread over the Kafka partitions, so each worker gets a mix of labels
    std::atomic<bool> never{false};
    absl::StatusOr<stream::SimulateReport> sent = stream::Simulate(train, **pub, so, never);
    if (!sent.ok()) return sent.status();
    if (absl::Status s = (*pub)->Flush(60); !s.ok()) return s;
    Say(absl::StrCat("published ", sent->samples, " samples to ", broker_uri));
    if (absl::Status s = WriteFileAtomically(store + "/published", std::to_string(sent->samples));
        !s.ok()) {
      return s;
    }
  }
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed > 0)
    return absl::InternalError(absl::StrCat(failed, " of ", a.workers, " workers failed"));
  std::vector<json> results;
  for (int rank = 0; rank < a.workers; ++rank) {
    absl::StatusOr<std::string> text = ReadFile(absl::StrCat(store, "/result-", rank, ".json"));
    if (!text.ok()) return text.status();
    results.push_back(json::parse(*text));
  }
  const bool checkpointed = std::filesystem::exists(store + "/model.ckpt");
  std::filesystem::remove_all(store);
  bool identical = true;
  double allreduce_s = 0;
  for (const json& r : results) {
    identical =
        identical && r["parameter_sum"].get<double>() == results[0]["parameter_sum"].get<double>();
    allreduce_s = std::max(allreduce_s, r["allreduce_s"].get<double>());
  }
  const int64_t steps = results[0]["steps"].get<int64_t>();
  int64_t duplicates = 0;
  for (const json& r : results) duplicates += r["duplicates"].get<int64_t>();
  return json{{"workers", a.workers},
              {"broker", a.broker.empty() ? "none" : a.broker},
              {"share_rows", results[0]["share_rows"]},
              {"duplicates", duplicates},
              {"accuracy_single", accuracy_single},
              {"accuracy_parallel", results[0]["accuracy"]},
              {"allreduce_ms_per_step",
               1e3 * allreduce_s / static_cast<double>(std::max<int64_t>(1, steps))},
              {"bytes_per_step", results[0]["bytes_per_step"]},
              {"steps", steps},
              {"replicas_identical", identical},
              {"checkpointed", checkpointed},
              {"train_s_single", one->train_s},
              {"train_s_parallel", results[0]["train_s"]},
              {"wall_s_parallel", wall_s},
              {"model", a.model.model},
              {"global_batch", a.model.batch}};
}

}  // namespace

void MakeQuick(DataParallelBenchOptions& o) {
  o.data = "fashion-mnist:train:4000";
  o.model.test = "fashion-mnist:test:1000";
  o.epochs = 1;
}

absl::StatusOr<json> RunDataParallelBench(const DataParallelBenchOptions& a) {
  if (a.workers < 1) return absl::InvalidArgumentError("--workers must be at least 1");
  if (a.model.batch % a.workers != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch ", a.model.batch, " is not a multiple of --workers ", a.workers));
  }
  return RunOnTrainAndTest(
      a.data, a.model, a.repeat,
      [&](const Dataset& train, const Dataset& test) { return RunOnce(a, train, test); });
}

}  // namespace mliot::bench
