// The training worker of one task (paper §4.2.1), as run by a node agent in
// its own process (`mliot worker train`):
//
//   1. unless the bundle directory already has a version (a task moved here
//      from a dead node serves its stored bundle without re-training),
//      train with the spec's options; lazy training publishes versions as
//      they are ready;
//   2. then watch the feedback directory: files written by the serving
//      worker are loaded together, passed to Adapt(), and deleted once the
//      next version is published.
//
// Runs until `stop` becomes true.
#ifndef MLIOT_TRAIN_TRAIN_WORKER_H_
#define MLIOT_TRAIN_TRAIN_WORKER_H_

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "train/task_spec.h"

namespace mliot {

struct TrainWorkerOptions {
  TaskSpec spec;
  std::string data_spec;     // the spec's data, relocated to files on this node
  std::string bundle_dir;
  std::string feedback_dir;
  // One line saying what the worker is doing ("training", "idle: version 3",
  // "adapting 1000 feedback rows", "adapted with 1000 feedback rows: version
  // 4"), replaced atomically; the node reports it as the task's message.
  std::string status_path;
  int threads = 0;
};

// The feedback files the serving worker wrote to `dir` (feedback-*.csv),
// oldest first (names carry a monotonic stamp).
std::vector<std::filesystem::path> PendingFeedback(const std::string& dir);

absl::Status RunTrainWorker(const TrainWorkerOptions& options, const std::atomic<bool>& stop);

}  // namespace mliot

#endif  // MLIOT_TRAIN_TRAIN_WORKER_H_
