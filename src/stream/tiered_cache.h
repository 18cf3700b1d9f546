// The edge's sample cache, keyed by sample id, in three tiers:
//
//   RAM      a byte budget, managed by a replacement policy by name
//            (stream/cache_policy.h: lru, shade, icache);
//   disk     LMDB with its own byte budget (stream/cache_tiers.h);
//   archive  every sample ingested, append-only segment files in a
//            directory (the remote tier: a distributed-FS mount in a
//            deployment).
//
// Put archives a sample, writes it to the disk tier and offers it to the RAM
// tier. Get looks in RAM, then disk, then the archive, promoting what it
// finds (to disk always, to RAM when the policy admits it). The trainer
// reports each sample's loss; RefreshImportance turns losses into SHADE's
// rank weights, log(rank + 10), which both the policy and the importance
// sampler use. Thread-safe: ingest puts while the trainer gets.
#ifndef MLIOT_STREAM_TIERED_CACHE_H_
#define MLIOT_STREAM_TIERED_CACHE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mliot/v1/sample.pb.h"
#include "stream/cache_policy.h"
#include "stream/cache_tiers.h"

namespace mliot::stream {

struct CacheOptions {
  std::string dir;              // disk tier in DIR/disk; the archive in DIR/archive unless archive_dir is set
  std::string archive_dir;
  std::string policy = "lru";
  int64_t ram_bytes = 64 << 20;
  int64_t disk_bytes = 256 << 20;
  uint64_t seed = 1;
};

enum class Tier { kRam = 0, kDisk = 1, kArchive = 2 };

struct TierStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t bytes = 0;   // bytes read from this tier
  double read_s = 0;   // time spent reading it
};

struct CacheStats {
  TierStats tiers[3];
  int64_t requests = 0;
  int64_t substituted = 0;  // L requests served by a cached stand-in (icache)
  // RAM hits (substitutions included) per request.
  double hit_ratio() const {
    return requests == 0 ? 0.0 : static_cast<double>(tiers[0].hits + substituted) / static_cast<double>(requests);
  }
};

struct Fetched {
  v1::Sample sample;
  int64_t key = 0;          // the key served (differs from the requested one when substituted)
  Tier tier = Tier::kRam;
  bool substituted = false;
};

class TieredCache {
 public:
  static absl::StatusOr<std::unique_ptr<TieredCache>> Open(const CacheOptions& options);

  // Stores a complete sample; returns its key (0, 1, ... in ingest order).
  // A sample id seen before returns the existing key (QoS-1 redelivery).
  absl::StatusOr<int64_t> Put(const v1::Sample& sample);
  // The sample at `key`, from the fastest tier holding it.
  // `allow_substitute`: the policy may serve a cached stand-in (icache).
  absl::StatusOr<Fetched> Get(int64_t key, bool allow_substitute = true);

  int64_t size() const;
  // Blocks until at least `n` samples are in, or `timeout`; returns size().
  int64_t WaitForSize(int64_t n, absl::Duration timeout) const;
  bool InRam(int64_t key) const;

  // The trainer's loss on `key` (or on each of `keys`); weights change only
  // on RefreshImportance.
  void ReportLoss(int64_t key, float loss);
  void ReportLosses(std::span<const int64_t> keys, std::span<const float> losses);
  // Ranks every sample by its last loss (unseen samples rank highest),
  // sets weight = log(rank + 10), and hands the weights to the policy.
  void RefreshImportance();
  std::vector<double> Weights() const;

  CacheStats stats() const;
  const std::string& policy() const { return policy_name_; }

 private:
  TieredCache(const CacheOptions& o) : options_(o), rng_(o.seed) {}
  void OfferToRam(int64_t key, const std::string& bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CacheOptions options_;
  std::string policy_name_;
  mutable absl::Mutex mu_;
  std::unique_ptr<RamPolicy> policy_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<DiskTier> disk_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ArchiveTier> archive_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, std::string> ram_ ABSL_GUARDED_BY(mu_);
  int64_t ram_used_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ram_slots_ ABSL_GUARDED_BY(mu_) = 0;  // samples that fit in RAM (from the mean size)
  int64_t put_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
  std::vector<float> losses_ ABSL_GUARDED_BY(mu_);  // NaN = never trained on
  std::vector<double> weights_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> keys_ ABSL_GUARDED_BY(mu_);
  CacheStats stats_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

// Samplers: the order in which an epoch visits `n` samples.
//   uniform     a random permutation (each sample once);
//   importance  n draws with replacement, probability proportional to weight.
absl::StatusOr<std::vector<int64_t>> SampleEpoch(const std::string& sampler, int64_t n,
                                                 const std::vector<double>& weights, std::mt19937_64& rng);
// Cache-hits-first batching (SHADE): the keys of `window` (the next few
// batches) that are cached in RAM move to the front (stable), so they are
// read before the misses that would otherwise evict them first.
void HitsFirst(std::span<int64_t> window, const TieredCache& cache);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_TIERED_CACHE_H_
