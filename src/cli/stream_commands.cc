// The data path's commands: `mliot device simulate` and `mliot monitor`.
#include <atomic>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <memory>
#include <unistd.h>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/cluster_flags.h"
#include "cli/commands.h"
#include "cli/raw_data_flags.h"
#include "common/status_util.h"
#include "data/source.h"
#include "features/raw_source.h"
#include "node/process_monitor.h"
#include "stream/device_simulator.h"
#include "stream/raw_stream.h"
#include "stream/transport.h"

namespace mliot::cli {
namespace {

using ::mliot::BrokerUri;

struct SimulateArgs {
  std::string data;
  std::string label = "label";
  std::string broker;
  std::string task;
  std::string rate = "max";
  std::string device = "device-1";
  int64_t count = 0;
  int qos = 1;
  int batch = 1;
  bool json = false;
  // Raw data (audio:, sensor:)
  RawDataFlags raw;
  std::string background = "noise:0.01";
  double gap_s = 1.0;
  std::string background_class = "background";
  double chunk_s = 0.02;
  double stream_rate = 16000;
};

// --rate for raw data: realtime, Nx (N times real time) or max.
absl::StatusOr<double> ParseSpeed(const std::string& rate) {
  if (rate == "realtime") return 1.0;
  if (rate == "max") return 0.0;
  double r = 0;
  if (absl::EndsWith(rate, "x") && absl::SimpleAtod(rate.substr(0, rate.size() - 1), &r) && r > 0) return r;
  return absl::InvalidArgumentError(absl::StrCat("--rate '", rate, "': realtime, Nx (e.g. 10x) or max for raw data"));
}

int RunSimulateRaw(const SimulateArgs& a, const BrokerUri& uri) {
  absl::StatusOr<double> speed = ParseSpeed(a.rate);
  if (!speed.ok()) return Fail(speed.status());
  absl::StatusOr<FeaturizerConfig> f = FeaturizerFromFlags(a.raw, a.data);
  if (!f.ok()) return Fail(f.status());
  stream::RawSourceSpec source;
  source.spec = a.data;
  source.featurizer = *f;
  source.time_column = a.raw.time_column;
  source.label_column = a.label;
  source.background = a.background;
  source.gap_s = a.gap_s;
  source.background_class = a.background_class;
  source.stream_rate = a.stream_rate;
  absl::StatusOr<std::vector<stream::RawSegment>> segments = stream::LoadRawSegments(source);
  if (!segments.ok()) return Fail(segments.status());
  if (segments->empty()) return Fail(absl::InvalidArgumentError(absl::StrCat(a.data, ": nothing to stream")));
  if (f->name != "logmel") f->channels = segments->front().signal.channel_names;
  absl::StatusOr<std::unique_ptr<Featurizer>> featurizer = MakeFeaturizer(*f);
  if (!featurizer.ok()) return Fail(featurizer.status());
  stream::RawStreamOptions o;
  o.task = a.task;
  o.device = a.device;
  o.speed = *speed;
  o.chunk_s = a.chunk_s;
  o.pcm16 = absl::StartsWith(a.data, "audio:");
  absl::StatusOr<stream::RawDeviceReport> r =
      stream::SimulateRawDevice(*segments, uri, o, featurizer->get(), StopOnSignal());
  if (!r.ok()) return Fail(r.status());
  nlohmann::json out = {{"chunks", r->stream.chunks},       {"frames", r->stream.frames},
                        {"stream_s", r->stream.stream_s},   {"elapsed_s", r->stream.elapsed_s},
                        {"bytes", r->stream.bytes}};
  if (r->predictions) {
    const stream::RawPredictionStats& p = *r->predictions;
    out["predictions"] = {{"windows", p.windows},
                          {"answered", p.answered},
                          {"errors", p.errors},
                          {"lost", p.lost},
                          {"accuracy", p.accuracy},
                          {"latency_ms", {{"p50", p.latency_p50_ms}, {"p99", p.latency_p99_ms}}},
                          {"from_window_end_ms", {{"p50", p.from_window_end_p50_ms}, {"p99", p.from_window_end_p99_ms}}},
                          {"stage1_answers", p.stage1},
                          {"worker_ms", {{"stage1", p.stage1_worker_ms}, {"stage2", p.stage2_worker_ms}}}};
  }
  if (a.json) PrintJson(out);
  else std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

absl::StatusOr<double> ParseRate(const std::string& rate) {
  if (rate == "max") return 0.0;
  double r = 0;
  if (!absl::SimpleAtod(rate, &r) || r <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("--rate '", rate, "': a positive number of samples per second, or max"));
  }
  return r;
}

int RunSimulate(const SimulateArgs& a) {
  absl::StatusOr<BrokerUri> uri = BrokerUri::Parse(a.broker);
  if (!uri.ok()) return Fail(uri.status());
  if (a.task.empty()) return Fail(absl::InvalidArgumentError("--task is required"));
  if (IsRawDataSpec(a.data)) return RunSimulateRaw(a, *uri);
  absl::StatusOr<double> rate = ParseRate(a.rate);
  if (!rate.ok()) return Fail(rate.status());
  LoadOptions load;
  load.label_column = a.label;
  absl::StatusOr<Dataset> data = LoadDataset(a.data, load);
  if (!data.ok()) return Fail(data.status());
  stream::TransportOptions t;
  t.qos = a.qos;
  t.client_id = absl::StrCat("mliot-device-", a.device, "-", getpid());
  absl::StatusOr<std::unique_ptr<stream::Publisher>> pub = stream::OpenPublisher(*uri, t);
  if (!pub.ok()) return Fail(pub.status());
  stream::SimulateOptions o;
  o.task = a.task;
  o.device = a.device;
  o.rate = *rate;
  o.count = a.count;
  o.batch = a.batch;
  const std::atomic<bool>& stop = StopOnSignal();
  absl::StatusOr<stream::SimulateReport> r =
      stream::Simulate(*data, **pub, o, stop, [](const stream::SimulateReport& p) {
        Progress(absl::StrFormat("device: %d samples in %.1fs (%.0f/s)", p.samples, p.elapsed_s,
                                 p.samples / std::max(1e-9, p.elapsed_s)));
      });
  if (!r.ok()) return Fail(r.status());
  const nlohmann::json out = {{"samples", r->samples},
                              {"messages", r->messages},
                              {"bytes", r->bytes},
                              {"elapsed_s", r->elapsed_s},
                              {"samples_per_s", r->samples / std::max(1e-9, r->elapsed_s)}};
  if (a.json) PrintJson(out);
  else std::printf("sent %lld samples to %s in %.1f s\n", static_cast<long long>(r->samples), uri->ToString().c_str(), r->elapsed_s);
  return 0;
}

struct MonitorArgs {
  int pid = 0;
  std::string task;
  std::string coordinator;
  TlsOptions tls;
  std::string csv;
  std::string png;
  double interval_s = 1;
  double duration_s = 0;
};

// The pids of `task`'s workers, as its node last reported them; nullopt once
// the coordinator no longer knows the task. An unreachable coordinator keeps
// the last answer (the workers keep running without it).
class TaskPids {
 public:
  TaskPids(Client client, std::string task) : client_(std::move(client)), task_(std::move(task)) {}

  std::optional<std::vector<pid_t>> operator()() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::ListNodesResponse nodes;
    if (!client_.coordinator().ListNodes(&ctx, v1::ListNodesRequest(), &nodes).ok()) return last_;
    if (!client_.GetTask(task_, /*allow_cache=*/false).ok()) return std::nullopt;
    std::vector<pid_t> pids;
    for (const v1::NodeSummary& n : nodes.nodes()) {
      for (const v1::WorkerMetrics& w : n.metrics().workers()) {
        if (w.task() == task_ && w.pid() > 0) pids.push_back(w.pid());
      }
    }
    last_ = pids;
    return pids;
  }

 private:
  Client client_;
  std::string task_;
  std::vector<pid_t> last_;
};

int RunMonitor(const MonitorArgs& a) {
  if ((a.pid > 0) == !a.task.empty()) {
    return Fail(absl::InvalidArgumentError("monitor: give exactly one of --pid PID or --task T (with --coordinator)"));
  }
  PidSource pids;
  std::string what;
  if (a.pid > 0) {
    if (!ReadProcessCounters(a.pid).has_value()) {
      return Fail(absl::NotFoundError(absl::StrCat("--pid ", a.pid, ": no such process")));
    }
    what = absl::StrCat("pid ", a.pid);
    pids = SingleProcess(a.pid);
  } else {
    if (a.coordinator.empty()) return Fail(absl::InvalidArgumentError("monitor --task: --coordinator is required"));
    absl::StatusOr<Client> client = Client::Connect(a.coordinator, a.tls);
    if (!client.ok()) return Fail(client.status());
    absl::StatusOr<v1::TaskInfo> info = client->GetTask(a.task, /*allow_cache=*/false);
    if (!info.ok()) return Fail(info.status());
    auto source = std::make_shared<TaskPids>(std::move(*client), a.task);
    const std::optional<std::vector<pid_t>> now = (*source)();
    if (!now.has_value() || now->empty()) {
      return Fail(absl::FailedPreconditionError(absl::StrCat("--task ", a.task, ": no worker running yet")));
    }
    for (pid_t pid : *now) {
      if (!ReadProcessCounters(pid).has_value()) {
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "--task ", a.task, ": its worker pid ", pid, " is not on this machine; run monitor on node ", info->node())));
      }
    }
    what = absl::StrCat("task ", a.task, " (", now->size(), " workers on node ", info->node(), ")");
    pids = [source] { return (*source)(); };
  }
  std::FILE* out = std::fopen(a.csv.c_str(), "w");
  if (out == nullptr) return Fail(absl::InvalidArgumentError(absl::StrCat("--csv ", a.csv, ": cannot write")));
  std::fprintf(out, "%s\n", ResourceCsvHeader().c_str());
  int64_t rows = 0;
  Progress(absl::StrCat("monitoring ", what, " every ", a.interval_s, " s into ", a.csv, " (Ctrl-C stops)"));
  absl::Status s = MonitorProcesses(pids, a.interval_s, a.duration_s, StopOnSignal(), [&](const ResourceRow& r) {
    std::fprintf(out, "%s\n", ResourceCsvRow(r).c_str());
    std::fflush(out);
    ++rows;
  });
  std::fclose(out);
  if (!s.ok()) return Fail(s);
  Progress(absl::StrCat(rows, " rows written to ", a.csv));
  if (!a.png.empty()) {
    const std::string script = FindSourceFile("bench/plot_resources.py");
    if (script.empty()) return Fail(absl::NotFoundError("bench/plot_resources.py not found (set MLIOT_SOURCE_DIR)"));
    // Debian's interpreter: python3-matplotlib is installed for it, not for a
    // pyenv or venv python3 that may come first on PATH.
    const std::string cmd = absl::StrCat("/usr/bin/python3 '", script, "' '", a.csv, "' '", a.png, "' '", what, "'");
    if (std::system(cmd.c_str()) != 0) {
      return Fail(absl::UnavailableError(absl::StrCat("plotting ", a.png, " failed (needs python3-matplotlib: scripts/install-deps --peers)")));
    }
    Progress(absl::StrCat("plot written to ", a.png));
  }
  return 0;
}

}  // namespace

Runner AddStreamCommands(CLI::App& app) {
  auto sim = std::make_shared<SimulateArgs>();
  CLI::App* device = app.add_subcommand("device", "IoT device tools");
  device->require_subcommand(1);
  CLI::App* simulate = device->add_subcommand("simulate", "publish a data set as an IoT device would");
  simulate->add_option("--data", sim->data, "data spec: " + DataSpecForms())->required();
  simulate->add_option("--label", sim->label, "label column of CSV data")->capture_default_str();
  simulate->add_option("--broker", sim->broker, "mqtt://HOST:PORT/TOPIC or kafka://HOST:PORT/TOPIC")->required();
  simulate->add_option("--task", sim->task, "task the samples belong to")->required();
  simulate->add_option("--rate", sim->rate, "samples per second, or max; raw data: realtime, Nx or max")
      ->capture_default_str();
  AddRawDataFlags(simulate, &sim->raw);
  simulate->add_option("--background", sim->background, "audio: between clips, noise:LEVEL or a recording")
      ->capture_default_str();
  simulate->add_option("--gap-s", sim->gap_s, "audio: seconds of background before each clip")->capture_default_str();
  simulate->add_option("--background-class", sim->background_class, "audio: the background's label")
      ->capture_default_str();
  simulate->add_option("--chunk-s", sim->chunk_s, "raw data: seconds per message")->capture_default_str();
  simulate->add_option("--stream-rate", sim->stream_rate, "audio: the stream's sample rate")->capture_default_str();
  simulate->add_option("--device", sim->device, "device id")->capture_default_str();
  simulate->add_option("--count", sim->count, "samples to send (default: every row once)");
  simulate->add_option("--qos", sim->qos, "MQTT QoS: 0 or 1")->check(CLI::IsMember({0, 1}))->capture_default_str();
  simulate->add_option("--batch", sim->batch, "samples packed into one message")
      ->check(CLI::Range(1, 10000))->capture_default_str();
  simulate->add_flag("--json", sim->json, "print one JSON object as the last stdout line");

  auto mon = std::make_shared<MonitorArgs>();
  CLI::App* monitor =
      app.add_subcommand("monitor", "CPU, RSS, disk and network of a process or a task's workers every second, to CSV");
  monitor->add_option("--pid", mon->pid, "process to watch");
  monitor->add_option("--task", mon->task, "task whose workers to watch (summed; run on the task's node)");
  monitor->add_option("--coordinator", mon->coordinator, "coordinator address (with --task)");
  AddTlsFlags(monitor, &mon->tls, false);
  monitor->add_option("--csv", mon->csv, "output CSV")->required();
  monitor->add_option("--png", mon->png, "also plot it (needs python3-matplotlib)");
  monitor->add_option("--interval-s", mon->interval_s, "sampling period")->capture_default_str();
  monitor->add_option("--duration-s", mon->duration_s, "stop after this long (0: until the process exits)")
      ->capture_default_str();
  return [sim, simulate, mon, monitor]() -> int {
    if (monitor->parsed()) return RunMonitor(*mon);
    if (simulate->parsed()) return RunSimulate(*sim);
    return -1;
  };
}

}  // namespace mliot::cli
