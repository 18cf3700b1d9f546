// The edge side of the data path: subscribes to a task's topic, reassembles
// chunked samples, and hands each complete sample to a sink (the tiered
// cache, or a counter in benchmarks). Malformed messages and expired partial
// samples are counted, never fatal.
#ifndef MLIOT_STREAM_INGEST_H_
#define MLIOT_STREAM_INGEST_H_

#include <functional>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "stream/sample_codec.h"
#include "stream/transport.h"

namespace mliot::stream {

class Ingestor {
 public:
  using Sink = std::function<void(v1::Sample&&)>;
  Ingestor(std::unique_ptr<Subscriber> subscriber, Sink sink, double ttl_s = 30);

  // Lowers the priority of the transport's delivery threads by `nice`
  // (setpriority on each thread as it delivers its first message), so that
  // ingest on a busy edge yields the cores to training: it only needs to
  // keep up, and the broker buffers what it has not taken yet. 0: unchanged.
  void set_thread_nice(int nice) { thread_nice_ = nice; }
  ~Ingestor();

  absl::Status Start();
  void Stop();
  IngestCounters counters() const;

 private:
  void OnMessage(const Message& m);

  std::unique_ptr<Subscriber> subscriber_;
  Sink sink_;
  int thread_nice_ = 0;
  mutable absl::Mutex mu_;
  Reassembler reassembler_ ABSL_GUARDED_BY(mu_);
  double last_expire_s_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_INGEST_H_
