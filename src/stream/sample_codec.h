// Samples on the wire: a Sample whose payload exceeds the transport's limit
// is split into chunks (same id, chunk_index/chunk_count) and reassembled by
// the ingest side. Malformed messages are counted and skipped, never fatal;
// incomplete samples expire after a time-to-live and are counted.
#ifndef MLIOT_STREAM_SAMPLE_CODEC_H_
#define MLIOT_STREAM_SAMPLE_CODEC_H_

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "mliot/v1/sample.pb.h"

namespace mliot::stream {

// Serialised messages for `sample`, each payload at most `max_payload` bytes
// (one message when it fits).
std::vector<std::string> EncodeChunks(const v1::Sample& sample, size_t max_payload);
// One message carrying complete samples (Sample.batch).
std::string EncodeBatch(std::vector<v1::Sample> samples);

struct IngestCounters {
  int64_t messages = 0;   // received
  int64_t samples = 0;    // complete samples returned
  int64_t malformed = 0;  // not a Sample, or chunk fields out of range
  int64_t expired = 0;    // incomplete samples dropped after the TTL
  int64_t duplicates = 0; // chunks seen twice (QoS 1 redelivery)
  int64_t batches = 0;    // messages that carried a batch of samples
};

// Not thread-safe: one per consumer thread.
class Reassembler {
 public:
  explicit Reassembler(double ttl_s = 30) : ttl_s_(ttl_s) {}
  // Takes one message; returns the complete samples it finished: those of a
  // batch, or a sample when this was its last piece.
  std::vector<v1::Sample> AddMessage(const std::string& message, double now_s);
  // The same for a message that holds at most one sample (not a batch).
  std::optional<v1::Sample> Add(const std::string& message, double now_s);
  // Drops incomplete samples older than the TTL.
  void Expire(double now_s);
  const IngestCounters& counters() const { return counters_; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Partial {
    v1::Sample first;  // fields of chunk 0..n (payload cleared)
    std::vector<std::string> pieces;
    std::vector<bool> have;
    int received = 0;
    double started_s = 0;
  };
  void Remember(const std::string& id);
  std::optional<v1::Sample> AddParsed(v1::Sample s, double now_s);

  double ttl_s_;
  std::map<std::string, Partial> pending_;
  // Recently completed chunked ids, so a late QoS-1 redelivery of one of
  // their chunks counts as a duplicate instead of starting a new partial.
  std::deque<std::string> recent_order_;
  std::set<std::string> recent_;
  IngestCounters counters_;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_SAMPLE_CODEC_H_
