#include "bench/cache_bench.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/kit.h"
#include "data/source.h"
#include "stream/device_simulator.h"

namespace mliot::bench {
namespace {

void Say(const std::string& line) { Progress("cache", line); }

absl::StatusOr<nlohmann::json> RunOnce(const CacheBenchOptions& a, const Dataset& train,
                                       const Dataset& test) {
  const std::string sampler = !a.sampler.empty()  ? a.sampler
                              : a.policy == "lru" ? "uniform"
                                                  : "importance";
  const int64_t bytes = SampleBytes(train) * train.rows;
  const std::string dir = TempDir("cache");
  std::filesystem::remove_all(dir);
  stream::CacheOptions co;
  co.dir = dir;
  co.policy = a.policy;
  co.ram_bytes = static_cast<int64_t>(a.capacity * static_cast<double>(bytes));
  co.disk_bytes = static_cast<int64_t>(a.disk_capacity * static_cast<double>(bytes));
  co.seed = a.model.seed;
  absl::StatusOr<std::unique_ptr<stream::TieredCache>> cache = stream::TieredCache::Open(co);
  if (!cache.ok()) return cache.status();
  Say(absl::StrCat(train.rows, " samples (", bytes / (1 << 20), " MiB) into RAM ", a.capacity,
                   " / disk ", a.disk_capacity, " / archive, policy ", a.policy, ", sampler ",
                   sampler));
  stream::SimulateOptions so;
  so.task = "bench";
  for (int64_t i = 0; i < train.rows; ++i) {
    if (absl::StatusOr<int64_t> k = (*cache)->Put(stream::RowToSample(train, i, i, so)); !k.ok())
      return k.status();
  }
  stream::StreamTrainOptions o = a.model.TrainOptions(train, a.epochs);
  o.arrival_order = false;
  o.sampler = sampler;
  o.hits_first = a.policy != "lru";
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> model = a.model.Make(train);
  if (!model.ok()) return model.status();
  absl::StatusOr<stream::StreamTrainReport> r =
      stream::TrainFromCache(**cache, **model, o, [&](int epoch, int64_t, double loss) {
        Say(absl::StrFormat("epoch %d/%d: loss %.4f, RAM hit ratio so far %.4f", epoch, a.epochs,
                            loss, (*cache)->stats().hit_ratio()));
      });
  if (!r.ok()) return r.status();
  const double accuracy = (*model)->Accuracy(test);
  const stream::CacheStats stats = (*cache)->stats();
  cache->reset();
  std::filesystem::remove_all(dir);

  // The reference: uniform sampling from RAM, same model, same epochs.
  Say("reference: uniform sampling from RAM");
  absl::StatusOr<std::unique_ptr<stream::SgdModel>> uniform = a.model.Make(train);
  if (!uniform.ok()) return uniform.status();
  stream::StreamTrainOptions uo = o;
  uo.sampler = "uniform";
  absl::StatusOr<stream::StreamTrainReport> ur = stream::TrainInRam(train, **uniform, uo);
  if (!ur.ok()) return ur.status();
  const double accuracy_uniform = (*uniform)->Accuracy(test);

  double epoch_s = 0;
  for (double s : r->epoch_s) epoch_s += s;
  epoch_s /= static_cast<double>(std::max<size_t>(1, r->epoch_s.size()));
  return nlohmann::json{{"policy", a.policy},
                        {"capacity", a.capacity},
                        {"hit_ratio", stats.hit_ratio()},
                        {"accuracy", accuracy},
                        {"epoch_s", epoch_s},
                        {"sampler", sampler},
                        {"accuracy_uniform", accuracy_uniform},
                        {"model", a.model.model},
                        {"samples", train.rows},
                        {"epochs", a.epochs},
                        {"cache", CacheJson(stats)}};
}

}  // namespace

void MakeQuick(CacheBenchOptions& o) {
  o.data = "fashion-mnist:train:2000";
  o.model.test = "fashion-mnist:test:1000";
  o.epochs = 2;
}

absl::StatusOr<nlohmann::json> RunCacheBench(const CacheBenchOptions& a) {
  if (a.capacity <= 0 || a.capacity > 1)
    return absl::InvalidArgumentError("--capacity: a fraction in (0, 1]");
  if (a.epochs < 1) return absl::InvalidArgumentError("--epochs must be at least 1");
  return RunOnTrainAndTest(
      a.data, a.model, a.repeat,
      [&](const Dataset& train, const Dataset& test) { return RunOnce(a, train, test); });
}

}  // namespace mliot::bench
