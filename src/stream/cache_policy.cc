#include "stream/cache_policy.h"

#include <algorithm>
#include <list>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mliot::stream {
namespace {

class LruPolicy final : public RamPolicy {
 public:
  std::string name() const override { return "lru"; }
  void OnHit(int64_t key) override {
    auto it = where_.find(key);
    if (it != where_.end()) order_.splice(order_.end(), order_, it->second);
  }
  bool Admit(int64_t, std::optional<int64_t>) override { return true; }
  void OnInsert(int64_t key) override { where_[key] = order_.insert(order_.end(), key); }
  void OnEvict(int64_t key) override {
    auto it = where_.find(key);
    if (it == where_.end()) return;
    order_.erase(it->second);
    where_.erase(it);
  }
  std::optional<int64_t> Victim() override {
    if (order_.empty()) return std::nullopt;
    return order_.front();
  }
  void SetWeights(const std::vector<double>&, int64_t) override {}
  std::optional<int64_t> Substitute(int64_t, std::mt19937_64&) override { return std::nullopt; }

 private:
  std::list<int64_t> order_;  // least recent first
  absl::flat_hash_map<int64_t, std::list<int64_t>::iterator> where_;
};

// The weight-ordered cache shared by shade and icache: cached keys in a set
// ordered by (weight, key), lightest first.
class WeightedPolicy : public RamPolicy {
 public:
  void OnHit(int64_t) override {}
  void OnInsert(int64_t key) override {
    cached_.emplace(Weight(key), key);
    position_[key] = keys_.size();
    keys_.push_back(key);
  }
  void OnEvict(int64_t key) override {
    cached_.erase({Weight(key), key});
    auto it = position_.find(key);
    if (it == position_.end()) return;
    keys_[it->second] = keys_.back();
    position_[keys_.back()] = it->second;
    keys_.pop_back();
    position_.erase(key);
  }
  std::optional<int64_t> Victim() override {
    if (cached_.empty()) return std::nullopt;
    return cached_.begin()->second;
  }
  void SetWeights(const std::vector<double>& weights, int64_t slots) override {
    std::vector<int64_t> keys;
    keys.reserve(cached_.size());
    for (const auto& [w, k] : cached_) keys.push_back(k);
    weights_ = weights;
    slots_ = slots;
    cached_.clear();
    for (int64_t k : keys) cached_.emplace(Weight(k), k);
  }

 protected:
  // Keys the cache has not weighed yet (ingested since the last refresh)
  // count as the heaviest: an unseen sample is as important as any.
  double Weight(int64_t key) const {
    return key < static_cast<int64_t>(weights_.size()) ? weights_[static_cast<size_t>(key)] : kUnseen;
  }
  static constexpr double kUnseen = 1e9;
  std::vector<double> weights_;
  int64_t slots_ = 0;
  std::set<std::pair<double, int64_t>> cached_;
  std::vector<int64_t> keys_;  // the cached keys, for uniform random picks
  absl::flat_hash_map<int64_t, size_t> position_;
};

class ShadePolicy final : public WeightedPolicy {
 public:
  std::string name() const override { return "shade"; }
  bool Admit(int64_t key, std::optional<int64_t> victim) override {
    double w = Weight(key);
    if (auto g = ghost_.find(key); g != ghost_.end()) {
      w = std::max(w, g->second);
      ForgetGhost(key);
    }
    return !victim.has_value() || w > Weight(*victim);
  }
  void OnEvict(int64_t key) override {
    WeightedPolicy::OnEvict(key);
    // The ghost heap: remembered weights of evicted keys, lightest dropped
    // first once it holds as many as the cache.
    const double w = Weight(key);
    ghost_[key] = w;
    ghost_order_.emplace(w, key);
    while (static_cast<int64_t>(ghost_.size()) > std::max<int64_t>(slots_, 1)) {
      ghost_.erase(ghost_order_.begin()->second);
      ghost_order_.erase(ghost_order_.begin());
    }
  }
  std::optional<int64_t> Substitute(int64_t, std::mt19937_64&) override { return std::nullopt; }

 private:
  void ForgetGhost(int64_t key) {
    auto it = ghost_.find(key);
    ghost_order_.erase({it->second, key});
    ghost_.erase(it);
  }
  absl::flat_hash_map<int64_t, double> ghost_;
  std::set<std::pair<double, int64_t>> ghost_order_;
};

class IcachePolicy final : public WeightedPolicy {
 public:
  std::string name() const override { return "icache"; }
  bool Admit(int64_t key, std::optional<int64_t> victim) override {
    if (!IsHigh(key)) return false;
    return !victim.has_value() || Weight(key) > Weight(*victim);
  }
  void SetWeights(const std::vector<double>& weights, int64_t slots) override {
    WeightedPolicy::SetWeights(weights, slots);
    // The H/L threshold: the weight of the slots-th heaviest key.
    if (weights.empty() || slots <= 0) {
      threshold_ = 0;
      return;
    }
    std::vector<double> sorted = weights;
    const size_t k = static_cast<size_t>(std::min<int64_t>(slots, static_cast<int64_t>(sorted.size()))) - 1;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<int64_t>(k), sorted.end(), std::greater<>());
    threshold_ = sorted[k];
  }
  std::optional<int64_t> Substitute(int64_t key, std::mt19937_64& rng) override {
    if (IsHigh(key) || keys_.empty()) return std::nullopt;
    return keys_[std::uniform_int_distribution<size_t>(0, keys_.size() - 1)(rng)];
  }

 private:
  bool IsHigh(int64_t key) const { return Weight(key) >= threshold_; }
  double threshold_ = 0;
};

}  // namespace

std::vector<std::string> RamPolicyNames() { return {"lru", "shade", "icache"}; }

absl::StatusOr<std::unique_ptr<RamPolicy>> MakeRamPolicy(const std::string& name) {
  if (name == "lru") return std::make_unique<LruPolicy>();
  if (name == "shade") return std::make_unique<ShadePolicy>();
  if (name == "icache") return std::make_unique<IcachePolicy>();
  return absl::InvalidArgumentError(
      absl::StrCat("cache policy '", name, "': one of ", absl::StrJoin(RamPolicyNames(), ", ")));
}

}  // namespace mliot::stream
