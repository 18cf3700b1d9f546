// The training worker of a streaming task: a task whose `data` is a topic
// (train/task_spec.h, `stream:` section), as a node runs it in its own
// process (`mliot worker train`):
//
//   1. ingest: subscribes to the topic (MQTT with a persistent session at
//      QoS 1, or a Kafka consumer group "mliot-<task>") and puts every
//      sample into the task's tiered cache (<task dir>/cache: RAM, LMDB,
//      archive) for as long as the worker runs;
//   2. trains stream.model on the cache while samples arrive
//      (stream/stream_trainer.h) and, after each epoch, publishes a bundle
//      version (stream/stream_bundle.h) that the serving worker hot-swaps in
//      and the node uploads to the coordinator;
//   3. then re-fits on feedback: rows the serving worker wrote to the
//      feedback directory, each batch mixed with as many samples replayed
//      from the cache (so the model does not forget the stream), a few
//      passes at a tenth of the learning rate; each re-fit is a new version.
//
// A version present at start is resumed from its checkpoint without
// re-training when training had finished here, or when the version was
// fetched from the coordinator (the task moved from a dead node). A worker
// restarted in the middle of training trains again from the cache, which
// still holds every sample ingested before.
#ifndef MLIOT_STREAM_STREAM_TASK_H_
#define MLIOT_STREAM_STREAM_TASK_H_

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "train/task_spec.h"

namespace mliot::stream {

struct StreamTaskOptions {
  TaskSpec spec;             // spec.stream is set
  std::string task_dir;      // the cache lives in task_dir/cache
  std::string bundle_dir;
  std::string feedback_dir;
  std::string status_path;   // one line: what the worker is doing (see train/train_worker.h)
  int threads = 1;
  double idle_timeout_s = 600;  // an epoch-1 wait for a stream that stopped ends the epoch
};

absl::Status RunStreamTrainWorker(const StreamTaskOptions& options, const std::atomic<bool>& stop);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_STREAM_TASK_H_
