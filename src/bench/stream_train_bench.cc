#include "bench/stream_train_bench.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/broker.h"
#include "bench/kit.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/status_util.h"
#include "data/source.h"
#include "stream/ingest.h"

namespace mliot::bench {
namespace {

using nlohmann::json;

void Say(const std::string& line) { Progress("stream-train", line); }

absl::StatusOr<json> RunOnce(const StreamTrainBenchOptions& a, const Dataset& train,
                             const Dataset& test) {
  const std::string dir = TempDir("stream-train");
  std::filesystem::remove_all(dir);
  absl::StatusOr<BenchBroker> broker = StartBroker(a.broker, dir);
  if (!broker.ok()) return broker.status();
  absl::StatusOr<BrokerUri> uri =
      BrokerUri::Parse(broker->base + broker->Topic("mliot/bench/samples"));
  if (!uri.ok()) return uri.status();

  const int64_t bytes = SampleBytes(train) * train.rows;
  stream::CacheOptions co;
  co.dir = dir + "/cache";
  co.policy = "lru";
  co.ram_bytes = static_cast<int64_t>(a.capacity * static_cast<double>(bytes));
  co.disk_bytes = bytes * 2;
  absl::StatusOr<std::unique_ptr<stream::TieredCache>> cache = stream::TieredCache::Open(co);
  if (!cache.ok()) return cache.status();

  // The node's ingest path into the cache.
  stream::TransportOptions t;
  t.qos = 1;
  t.client_id = absl::StrCat("mliot-ingest-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Subscriber>> sub = stream::OpenSubscriber(*uri, t);
  if (!sub.ok()) return sub.status();
  std::atomic<int64_t> put_errors{0};
  stream::Ingestor ingest(std::move(*sub), [&](v1::Sample&& s) {
    if (!(*cache)->Put(s).ok()) put_errors.fetch_add(1);
  });
  ingest.set_thread_nice(a.ingest_nice);
  MLIOT_RETURN_IF_ERROR(ingest.Start());
  t.client_id = absl::StrCat("mliot-device-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Publisher>> pub = stream::OpenPublisher(*uri, t);
  if (!pub.ok()) return pub.status();
  MLIOT_RETURN_IF_ERROR(WarmUp(**pub, [&] { return ingest.counters().messages; }));
  const int64_t warmup_malformed = ingest.counters().malformed;

  absl::StatusOr<std::unique_ptr<stream::SgdModel>> model = a.model.Make(train);
  if (!model.ok()) return model.status();
  stream::StreamTrainOptions o = a.model.TrainOptions(train, a.epochs);
  o.arrival_order = true;
  o.sampler = "uniform";
  o.checkpoint = dir + "/model.ckpt";
  Say(absl::StrCat(train.rows, " samples from a device over ", uri->ToString(), ", ", a.model.model,
                   " trained while they arrive"));
  // The device: `mliot device simulate` in its own process, at nice
  // --device-nice: on this one machine it stands for the IoT devices, which
  // in a deployment do not share the edge node's cores.
  SpawnOptions device_run;
  device_run.args = {
      SelfExe(),  "device",        "simulate",     "--data",  a.data,
      "--broker", uri->ToString(), "--task",       "bench",   "--rate",
      a.rate,     "--device",      "bench-device", "--batch", std::to_string(a.device_batch),
      "--json"};
  device_run.nice = a.device_nice;
  device_run.stdout_path = dir + "/device.json";
  absl::StatusOr<pid_t> device = Spawn(device_run);
  if (!device.ok()) return device.status();
  absl::StatusOr<stream::StreamTrainReport> r =
      stream::TrainFromCache(**cache, **model, o, [&](int epoch, int64_t samples, double loss) {
        Say(absl::StrFormat("epoch %d/%d: %d samples trained, loss %.4f, %d in the cache", epoch,
                            a.epochs, samples, loss, (*cache)->size()));
      });
  if (!r.ok()) {
    kill(*device, SIGTERM);
    waitpid(*device, nullptr, 0);
    return r.status();
  }
  int device_status = 0;
  waitpid(*device, &device_status, 0);
  ingest.Stop();
  json sim = json::object();
  if (absl::StatusOr<std::string> text = ReadFile(device_run.stdout_path); text.ok()) {
    // Its stdout is one JSON line (progress goes to stderr).
    sim = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  }
  if (!WIFEXITED(device_status) || WEXITSTATUS(device_status) != 0 || !sim.is_object() ||
      !sim.contains("samples")) {
    return absl::InternalError("the device simulator failed (see its messages above)");
  }
  const int64_t published = sim["samples"].get<int64_t>();
  const double accuracy = (*model)->Accuracy(test);
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
  Say("peer: the same training from RAM");
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> peer_model = a.model.Make(train);
  if (!peer_model.ok()) return peer_model.status();
  absl::StatusOr<stream::StreamTrainReport> peer = stream::TrainInRam(train, **peer_model, o);
  if (!peer.ok()) return peer.status();
  const double peer_accuracy = (*peer_model)->Accuracy(test);

  return json{{"accuracy", accuracy},
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
              {"ingest",
               {{"published", published},
                {"ingested", ingested},
                {"lost", published - ingested},
                {"malformed", counters.malformed - warmup_malformed},
                {"duplicates", counters.duplicates},
                {"msgs_per_s", sim["samples_per_s"]},
                {"put_errors", put_errors.load()}}},
              {"cache", CacheJson(stats)}};
}

}  // namespace

void MakeQuick(StreamTrainBenchOptions& o) {
  o.data = "fashion-mnist:train:2000";
  o.model.test = "fashion-mnist:test:1000";
  o.model.model = "mlp";
  o.epochs = 1;
}

absl::StatusOr<json> RunStreamTrainBench(const StreamTrainBenchOptions& a) {
  if (a.epochs < 1) return absl::InvalidArgumentError("--epochs must be at least 1");
  double rate = 0;
  if (a.rate != "max" && (!absl::SimpleAtod(a.rate, &rate) || rate <= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rate '", a.rate, "': samples per second, or max"));
  }
  return RunOnTrainAndTest(
      a.data, a.model, a.repeat,
      [&](const Dataset& train, const Dataset& test) { return RunOnce(a, train, test); });
}

}  // namespace mliot::bench
