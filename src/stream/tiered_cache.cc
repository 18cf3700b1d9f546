#include "stream/tiered_cache.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace mliot::stream {
namespace {

double Now() { return RealClock()->NowSeconds(); }

}  // namespace

absl::StatusOr<std::unique_ptr<TieredCache>> TieredCache::Open(const CacheOptions& o) {
  if (o.dir.empty()) return absl::InvalidArgumentError("cache: a directory is required");
  if (o.ram_bytes < 0 || o.disk_bytes < 0) return absl::InvalidArgumentError("cache: budgets must not be negative");
  absl::StatusOr<std::unique_ptr<RamPolicy>> policy = MakeRamPolicy(o.policy);
  if (!policy.ok()) return policy.status();
  absl::StatusOr<std::unique_ptr<DiskTier>> disk = DiskTier::Open(o.dir + "/disk", o.disk_bytes);
  if (!disk.ok()) return disk.status();
  absl::StatusOr<std::unique_ptr<ArchiveTier>> archive =
      ArchiveTier::Open(o.archive_dir.empty() ? o.dir + "/archive" : o.archive_dir);
  if (!archive.ok()) return archive.status();
  std::unique_ptr<TieredCache> c(new TieredCache(o));
  absl::MutexLock lock(&c->mu_);
  c->policy_name_ = o.policy;
  c->policy_ = std::move(*policy);
  c->disk_ = std::move(*disk);
  c->archive_ = std::move(*archive);
  // Samples archived by an earlier run come back as keys (disk and RAM start
  // cold): a restarted node keeps its data.
  for (const std::string& id : c->archive_->recovered_ids()) {
    absl::StatusOr<std::optional<std::string>> bytes = c->archive_->Get(id);
    if (!bytes.ok()) return bytes.status();
    v1::Sample s;
    if (!bytes->has_value() || !s.ParseFromString(**bytes)) continue;
    c->keys_[id] = static_cast<int64_t>(c->ids_.size());
    c->ids_.push_back(id);
    c->losses_.push_back(std::numeric_limits<float>::quiet_NaN());
    c->put_bytes_ += static_cast<int64_t>((*bytes)->size());
  }
  return c;
}

absl::StatusOr<int64_t> TieredCache::Put(const v1::Sample& sample) {
  if (sample.id().empty()) return absl::InvalidArgumentError("cache: a sample without an id");
  const std::string bytes = sample.SerializeAsString();
  absl::MutexLock lock(&mu_);
  if (auto it = keys_.find(sample.id()); it != keys_.end()) return it->second;
  if (absl::Status s = archive_->Append(sample.id(), bytes); !s.ok()) return s;
  if (absl::Status s = disk_->Put(sample.id(), bytes); !s.ok()) return s;
  const int64_t key = static_cast<int64_t>(ids_.size());
  keys_[sample.id()] = key;
  ids_.push_back(sample.id());
  losses_.push_back(std::numeric_limits<float>::quiet_NaN());
  put_bytes_ += static_cast<int64_t>(bytes.size());
  ram_slots_ = options_.ram_bytes / std::max<int64_t>(1, put_bytes_ / static_cast<int64_t>(ids_.size()));
  OfferToRam(key, bytes);
  return key;
}

void TieredCache::OfferToRam(int64_t key, const std::string& bytes) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size > options_.ram_bytes || ram_.contains(key)) return;
  const bool fits = ram_used_ + size <= options_.ram_bytes;
  if (!policy_->Admit(key, fits ? std::nullopt : policy_->Victim())) return;
  while (ram_used_ + size > options_.ram_bytes) {
    const std::optional<int64_t> victim = policy_->Victim();
    if (!victim.has_value()) return;
    policy_->OnEvict(*victim);
    auto it = ram_.find(*victim);
    ram_used_ -= static_cast<int64_t>(it->second.size());
    ram_.erase(it);
  }
  ram_.emplace(key, bytes);
  ram_used_ += size;
  policy_->OnInsert(key);
}

absl::StatusOr<Fetched> TieredCache::Get(int64_t key, bool allow_substitute) {
  absl::MutexLock lock(&mu_);
  if (key < 0 || key >= static_cast<int64_t>(ids_.size())) {
    return absl::OutOfRangeError(absl::StrCat("cache: no sample ", key, " (", ids_.size(), " ingested)"));
  }
  ++stats_.requests;
  Fetched f;
  f.key = key;
  const double t0 = Now();
  auto serve_ram = [&](int64_t k) -> absl::Status {
    const std::string& bytes = ram_.at(k);
    policy_->OnHit(k);
    stats_.tiers[0].bytes += static_cast<int64_t>(bytes.size());
    if (!f.sample.ParseFromString(bytes)) return absl::DataLossError(absl::StrCat("cache: RAM copy of ", ids_[k]));
    stats_.tiers[0].read_s += Now() - t0;
    return absl::OkStatus();
  };
  if (ram_.contains(key)) {
    ++stats_.tiers[0].hits;
    if (absl::Status s = serve_ram(key); !s.ok()) return s;
    return f;
  }
  ++stats_.tiers[0].misses;
  if (allow_substitute) {
    if (std::optional<int64_t> sub = policy_->Substitute(key, rng_); sub.has_value() && ram_.contains(*sub)) {
      ++stats_.substituted;
      f.key = *sub;
      f.substituted = true;
      if (absl::Status s = serve_ram(*sub); !s.ok()) return s;
      return f;
    }
  }
  const std::string& id = ids_[static_cast<size_t>(key)];
  absl::StatusOr<std::optional<std::string>> bytes = disk_->Get(id);
  if (!bytes.ok()) return bytes.status();
  f.tier = Tier::kDisk;
  if (!bytes->has_value()) {
    ++stats_.tiers[1].misses;
    const double t1 = Now();
    bytes = archive_->Get(id);
    if (!bytes.ok()) return bytes.status();
    if (!bytes->has_value()) return absl::DataLossError(absl::StrCat("cache: ", id, " is in no tier"));
    f.tier = Tier::kArchive;
    ++stats_.tiers[2].hits;
    stats_.tiers[2].bytes += static_cast<int64_t>((*bytes)->size());
    stats_.tiers[2].read_s += Now() - t1;
    if (absl::Status s = disk_->Put(id, **bytes); !s.ok()) return s;
  } else {
    ++stats_.tiers[1].hits;
    stats_.tiers[1].bytes += static_cast<int64_t>((*bytes)->size());
    stats_.tiers[1].read_s += Now() - t0;
  }
  if (!f.sample.ParseFromString(**bytes)) return absl::DataLossError(absl::StrCat("cache: stored copy of ", id));
  OfferToRam(key, **bytes);
  return f;
}

int64_t TieredCache::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(ids_.size());
}

int64_t TieredCache::WaitForSize(int64_t n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  const auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return static_cast<int64_t>(ids_.size()) >= n; };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return static_cast<int64_t>(ids_.size());
}

bool TieredCache::InRam(int64_t key) const {
  absl::MutexLock lock(&mu_);
  return ram_.contains(key);
}

void TieredCache::ReportLoss(int64_t key, float loss) {
  absl::MutexLock lock(&mu_);
  if (key >= 0 && key < static_cast<int64_t>(losses_.size())) losses_[static_cast<size_t>(key)] = loss;
}

void TieredCache::ReportLosses(std::span<const int64_t> keys, std::span<const float> losses) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < keys.size() && i < losses.size(); ++i) {
    if (keys[i] >= 0 && keys[i] < static_cast<int64_t>(losses_.size())) losses_[static_cast<size_t>(keys[i])] = losses[i];
  }
}

void TieredCache::RefreshImportance() {
  absl::MutexLock lock(&mu_);
  RefreshLocked();
}

void TieredCache::RefreshLocked() {
  const size_t n = losses_.size();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Ascending loss; never-trained samples (NaN) last, i.e. the highest rank.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const float la = losses_[static_cast<size_t>(a)], lb = losses_[static_cast<size_t>(b)];
    if (std::isnan(la) || std::isnan(lb)) return !std::isnan(la) && std::isnan(lb);
    return la < lb;
  });
  weights_.assign(n, 0.0);
  for (size_t r = 0; r < n; ++r) weights_[static_cast<size_t>(order[r])] = std::log(static_cast<double>(r + 1) + 10.0);
  policy_->SetWeights(weights_, ram_slots_);
}

std::vector<double> TieredCache::Weights() const {
  absl::MutexLock lock(&mu_);
  std::vector<double> w = weights_;
  // Samples ingested since the last refresh weigh as much as the heaviest.
  const double top = w.empty() ? 1.0 : *std::max_element(w.begin(), w.end());
  w.resize(ids_.size(), top);
  return w;
}

CacheStats TieredCache::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::StatusOr<std::vector<int64_t>> SampleEpoch(const std::string& sampler, int64_t n,
                                                 const std::vector<double>& weights, std::mt19937_64& rng) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(n, 0)));
  if (sampler == "uniform") {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    return order;
  }
  if (sampler == "importance") {
    if (static_cast<int64_t>(weights.size()) < n) {
      return absl::InvalidArgumentError(absl::StrCat("importance sampler: ", weights.size(), " weights for ", n, " samples"));
    }
    std::discrete_distribution<int64_t> pick(weights.begin(), weights.begin() + n);
    for (int64_t& k : order) k = pick(rng);
    return order;
  }
  return absl::InvalidArgumentError(absl::StrCat("sampler '", sampler, "': uniform or importance"));
}

void HitsFirst(std::span<int64_t> window, const TieredCache& cache) {
  std::stable_partition(window.begin(), window.end(), [&](int64_t k) { return cache.InRam(k); });
}

}  // namespace mliot::stream
