#include "train/train_worker.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "data/csv.h"
#include "data/source.h"
#include "features/raw_source.h"
#include "lifecycle/lifecycle_state.h"
#include "lifecycle/version_catalog.h"
#include "ml/hpo/strategy.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"
#include "train/adapt.h"

namespace mliot {
namespace fs = std::filesystem;
namespace {

void Log(const std::string& task, const std::string& line) {
  std::fprintf(stderr, "train %s: %s\n", task.c_str(), line.c_str());
  std::fflush(stderr);
}

bool IsAdaptation(const std::string& bundle_dir, int64_t version) {
  v1::BundleManifest m;
  return ReadManifest(bundle_dir, version, &m).ok() && absl::StartsWith(m.origin(), "adaptation");
}

}  // namespace

std::vector<fs::path> PendingFeedback(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StartsWith(name, "feedback-") && absl::EndsWith(name, ".csv")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::Status RunTrainWorker(const TrainWorkerOptions& o, const std::atomic<bool>& stop) {
  const std::string& task = o.spec.name;
  auto status = [&](const std::string& line) {
    if (o.status_path.empty()) return;
    const std::string tmp = o.status_path + ".tmp";
    std::ofstream(tmp) << line;
    std::error_code ec;
    fs::rename(tmp, o.status_path, ec);
  };
  if (!LatestBundleVersion(o.bundle_dir).ok()) {
    status("training");
    TrainOptions options = ToTrainOptions(o.spec);
    Dataset data;
    if (IsFolderData(o.data_spec)) {
      RawSourceOptions raw_options;
      raw_options.label_column = o.spec.label;
      raw_options.time_column = o.spec.time_column;
      raw_options.threads = o.threads;
      MLIOT_ASSIGN_OR_RETURN(RawDataset raw, LoadRawDataset(o.data_spec, o.spec.features.value_or(FeaturizerConfig{}),
                                                            raw_options));
      Log(task, absl::StrCat(raw.recordings.size(), " recordings -> ", raw.data.rows, " rows (", raw.featurizer.name, ")"));
      options.featurizer = raw.featurizer;
      data = std::move(raw.data);
    } else {
      LoadOptions load;
      load.label_column = o.spec.label;
      MLIOT_ASSIGN_OR_RETURN(data, LoadDataset(o.data_spec, load));
    }
    options.out_dir = o.bundle_dir;
    options.data_source = o.spec.data;
    options.threads = o.threads;
    Trainer trainer(BuiltinModels(), BuiltinStrategies());
    trainer.set_progress([&](const std::string& line) { Log(task, line); });
    absl::StatusOr<TrainReport> trained = trainer.Train(data, options);
    if (!trained.ok()) {
      // The task's message says why (the node restarts the worker with a backoff).
      status(absl::StrCat("training failed: ", trained.status().message()));
      return trained.status();
    }
    const TrainReport& report = *trained;
    Log(task, absl::StrCat("trained: version ", report.bundle_version, ", validation accuracy ",
                           report.val_accuracy));
    status(absl::StrCat("trained: version ", report.bundle_version));
  } else {
    Log(task, "bundle present; serving it without re-training");
    status(absl::StrCat("serving stored version ", *LatestBundleVersion(o.bundle_dir), " without re-training"));
  }
  fs::create_directories(o.feedback_dir);
  bool waiting_said = false;
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<fs::path> files = PendingFeedback(o.feedback_dir);
    if (files.empty()) continue;
    // One burst of feedback is one adaptation: a client sends 256 rows a
    // call, and `mliot feedback` with 300 rows used to give two versions when
    // this loop woke between the calls. Wait until a poll brings no new
    // file (at most 2 s, so a steady trickle still adapts).
    for (int polls = 0; polls < 10 && !stop.load(); ++polls) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::vector<fs::path> now = PendingFeedback(o.feedback_dir);
      if (now.size() == files.size()) break;
      files = std::move(now);
    }
    Dataset feedback;
    feedback.source = o.feedback_dir;
    for (const fs::path& f : files) {
      CsvOptions csv;
      csv.require_two_classes = false;
      absl::StatusOr<Dataset> part = LoadCsv(f.string(), csv);
      if (!part.ok()) {
        Log(task, absl::StrCat("skipping bad feedback file: ", part.status().message()));
        fs::remove(f);
        continue;
      }
      MLIOT_RETURN_IF_ERROR(feedback.Append(*part));
    }
    if (feedback.rows == 0) continue;
    // Adapt from the newest version that was not retired (after a rollback:
    // its copy), and publish exactly as the next number, so that a rollback
    // published meanwhile is not buried under this adaptation.
    const LifecycleState lifecycle = ReadLifecycleState(o.bundle_dir).value_or(LifecycleState{});
    const std::vector<int64_t> versions = VersionNumbers(o.bundle_dir);
    if (versions.empty()) continue;
    int64_t base = 0;
    for (auto it = versions.rbegin(); it != versions.rend() && base == 0; ++it) {
      if (lifecycle.retired.count(*it) == 0) base = *it;
    }
    if (o.spec.versions.guarded && ReadPin(o.bundle_dir) == 0 && base != lifecycle.serving &&
        IsAdaptation(o.bundle_dir, base)) {
      // A guarded version is still in its shadow evaluation: its feedback is
      // evidence for that; adapt again once it is promoted or retired.
      if (!waiting_said) Log(task, absl::StrCat("version ", base, " is in shadow; ", feedback.rows,
                                                " feedback rows wait for its promotion or retirement"));
      waiting_said = true;
      status(absl::StrCat("version ", base, " in shadow; ", feedback.rows, " feedback rows waiting"));
      continue;
    }
    waiting_said = false;
    status(absl::StrCat("adapting with ", feedback.rows, " feedback rows"));
    AdaptOptions adapt;
    adapt.threads = o.threads;
    adapt.base_version = base;
    adapt.publish_as = versions.back() + 1;
    adapt.hold_out_validation = o.spec.versions.guarded;
    absl::StatusOr<AdaptReport> r =
        Adapt(o.bundle_dir, feedback, adapt, [&](const std::string& line) { Log(task, line); });
    if (absl::IsAborted(r.status())) {
      Log(task, absl::StrCat("a version was published meanwhile (a rollback); adapting again from it: ",
                             r.status().message()));
      continue;
    }
    if (!r.ok()) {
      Log(task, absl::StrCat("adaptation failed, feedback kept for the next try: ", r.status().message()));
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    for (const fs::path& f : files) fs::remove(f);
    Log(task, absl::StrCat("adapted with ", feedback.rows, " feedback rows: version ", r->version));
    status(absl::StrCat("adapted with ", feedback.rows, " feedback rows: version ", r->version));
  }
  return absl::OkStatus();
}

}  // namespace mliot
