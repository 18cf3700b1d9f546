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
#include "ml/hpo/strategy.h"
#include "serve/bundle_reader.h"
#include "train/adapt.h"

namespace mliot {
namespace fs = std::filesystem;
namespace {

void Log(const std::string& task, const std::string& line) {
  std::fprintf(stderr, "train %s: %s\n", task.c_str(), line.c_str());
  std::fflush(stderr);
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
    status(absl::StrCat("adapting with ", feedback.rows, " feedback rows"));
    AdaptOptions adapt;
    adapt.threads = o.threads;
    absl::StatusOr<AdaptReport> r =
        Adapt(o.bundle_dir, feedback, adapt, [&](const std::string& line) { Log(task, line); });
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
