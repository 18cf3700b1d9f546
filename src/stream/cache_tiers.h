// The tiers below the RAM tier of the sample cache (stream/tiered_cache.h):
//
//   DiskTier     local disk, LMDB keyed by sample id, with a byte budget;
//                the oldest samples are evicted first (FIFO). LMDB because
//                this tier is read at random by id and evicts one sample at
//                a time: a B-tree gives both in place, where segment files
//                would need an index and compaction (docs/DATA_PATH.md has
//                the measured read times of both tiers).
//   ArchiveTier  every sample ever ingested, in append-only segment files
//                (length-prefixed mliot.v1.Sample records) in a directory,
//                e.g. a distributed-FS mount: the remote tier. Sequential
//                writes only; the id index is rebuilt by scanning on open,
//                so a restarted node finds what it archived before. A torn
//                record at a segment's end (a crash mid-write) is skipped.
#ifndef MLIOT_STREAM_CACHE_TIERS_H_
#define MLIOT_STREAM_CACHE_TIERS_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

struct MDB_env;

namespace mliot::stream {

class DiskTier {
 public:
  // Opens (creating) an LMDB environment in `dir`, emptied: the disk tier is
  // a cache, the archive is the record.
  static absl::StatusOr<std::unique_ptr<DiskTier>> Open(const std::string& dir, int64_t capacity_bytes);
  ~DiskTier();

  // Stores `bytes` under `id`, evicting the oldest samples beyond the budget.
  absl::Status Put(const std::string& id, std::string_view bytes);
  // The bytes under `id`, or nullopt when this tier does not hold it.
  absl::StatusOr<std::optional<std::string>> Get(const std::string& id) const;
  bool Contains(const std::string& id) const { return sizes_.contains(id); }
  int64_t bytes() const { return bytes_; }
  int64_t capacity_bytes() const { return capacity_; }

 private:
  DiskTier(MDB_env* env, unsigned dbi, int64_t capacity) : env_(env), dbi_(dbi), capacity_(capacity) {}
  absl::Status Erase(const std::string& id);

  MDB_env* env_;
  unsigned dbi_;
  int64_t capacity_;
  int64_t bytes_ = 0;
  std::deque<std::string> order_;                  // insertion order, oldest first
  absl::flat_hash_map<std::string, int64_t> sizes_;
};

class ArchiveTier {
 public:
  static absl::StatusOr<std::unique_ptr<ArchiveTier>> Open(const std::string& dir,
                                                           int64_t segment_bytes = 64 << 20);
  ~ArchiveTier();

  // Appends a serialized mliot.v1.Sample whose id is `id`.
  absl::Status Append(const std::string& id, std::string_view bytes);
  absl::StatusOr<std::optional<std::string>> Get(const std::string& id) const;
  bool Contains(const std::string& id) const { return index_.contains(id); }
  int64_t size() const { return static_cast<int64_t>(index_.size()); }
  // Records found on open (ids in first-seen order) and torn ones skipped.
  const std::vector<std::string>& recovered_ids() const { return recovered_; }
  int64_t torn_records() const { return torn_; }

 private:
  struct Location {
    int segment;
    int64_t offset;
    uint32_t length;
  };
  ArchiveTier(std::string dir, int64_t segment_bytes) : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  absl::Status Scan();
  absl::Status Roll();
  std::string SegmentPath(int segment) const;

  std::string dir_;
  int64_t segment_bytes_;
  std::vector<int> fds_;  // one per segment; the last is appended to
  int64_t tail_ = 0;      // bytes in the last segment
  absl::flat_hash_map<std::string, Location> index_;
  std::vector<std::string> recovered_;
  int64_t torn_ = 0;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_CACHE_TIERS_H_
