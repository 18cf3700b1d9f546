// Replacement policies of the cache's RAM tier, by name:
//
//   lru     least recently used goes first; every miss is admitted.
//   shade   SHADE (FAST'23): each sample's importance is its rank by training
//           loss (the highest loss ranks N), weighted log(rank + 10). The
//           cache is a min-heap on that weight: a missed sample is admitted
//           only when it outweighs the lightest cached one, which it then
//           replaces. Evicted samples go to a ghost heap (bounded by the
//           cache's slot count); one that is requested again while its
//           ghost entry lives competes with the higher of its current and
//           its remembered weight, so a sample whose loss merely wobbled is
//           not thrown out for good.
//   icache  iCACHE (HPCA'23): samples are split by importance into H (the
//           heaviest, as many as the cache has slots) and L. Only H samples
//           are admitted, lightest evicted first; a request for an L sample
//           that misses may be served by a cached substitute (a random
//           cached sample), which the caller sees as a substitution.
//
// Policies see dense sample keys (0..n-1, the cache's ingest order) and
// weights the cache pushes after each importance refresh.
#ifndef MLIOT_STREAM_CACHE_POLICY_H_
#define MLIOT_STREAM_CACHE_POLICY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot::stream {

class RamPolicy {
 public:
  virtual ~RamPolicy() = default;
  virtual std::string name() const = 0;
  // A cached key was read.
  virtual void OnHit(int64_t key) = 0;
  // Whether `key` (not cached) may take the place of `victim` (the key Victim()
  // returned), or of free space when `victim` is nullopt.
  virtual bool Admit(int64_t key, std::optional<int64_t> victim) = 0;
  virtual void OnInsert(int64_t key) = 0;
  virtual void OnEvict(int64_t key) = 0;
  // The key to evict next; nullopt when nothing is cached.
  virtual std::optional<int64_t> Victim() = 0;
  // New importance weights for every key (index = key), `slots` = how many
  // samples the RAM tier holds when full.
  virtual void SetWeights(const std::vector<double>& weights, int64_t slots) = 0;
  // A cached stand-in for `key` that missed, or nullopt (iCACHE only).
  virtual std::optional<int64_t> Substitute(int64_t key, std::mt19937_64& rng) = 0;
};

// "lru", "shade" or "icache"; an error names the unknown policy.
absl::StatusOr<std::unique_ptr<RamPolicy>> MakeRamPolicy(const std::string& name);
std::vector<std::string> RamPolicyNames();

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_CACHE_POLICY_H_
