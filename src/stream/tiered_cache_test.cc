// The tiered cache on real files: LMDB disk tier, segment-file archive,
// RAM policies (lru, shade with its ghost heap, icache with substitution),
// samplers, and the hit-ratio gap importance-aware caching is for.
#include "stream/tiered_cache.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace mliot::stream {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("mliot-cache-test-", getpid(), "-", name)).string();
  std::filesystem::remove_all(dir);
  return dir;
}

v1::Sample MakeSample(int i, size_t bytes = 100) {
  v1::Sample s;
  s.set_id(absl::StrCat("dev-", i));
  s.set_label(absl::StrCat("c", i % 10));
  s.add_shape(static_cast<int32_t>(bytes));
  s.set_dtype(v1::DTYPE_UINT8);
  s.set_payload(std::string(bytes, static_cast<char>(i % 251)));
  return s;
}

int64_t SampleBytes() { return static_cast<int64_t>(MakeSample(0).SerializeAsString().size()); }

TEST(DiskTierTest, EvictsOldestBeyondBudget) {
  const std::string dir = TempDir("disk");
  auto disk = DiskTier::Open(dir, 250);
  ASSERT_TRUE(disk.ok()) << disk.status();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*disk)->Put(absl::StrCat("k", i), std::string(100, 'a' + i)).ok());
  EXPECT_FALSE((*disk)->Contains("k0"));  // 300 > 250: the oldest went
  EXPECT_TRUE((*disk)->Contains("k2"));
  EXPECT_EQ((*disk)->bytes(), 200);
  auto got = (*disk)->Get("k1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, std::string(100, 'b'));
  EXPECT_FALSE((*disk)->Get("k0")->has_value());
  std::filesystem::remove_all(dir);
}

TEST(ArchiveTierTest, ReopenRecoversAndCutsATornTail) {
  const std::string dir = TempDir("archive");
  {
    auto a = ArchiveTier::Open(dir, 1 << 16);
    ASSERT_TRUE(a.ok()) << a.status();
    for (int i = 0; i < 1000; ++i) {
      const v1::Sample s = MakeSample(i);
      ASSERT_TRUE((*a)->Append(s.id(), s.SerializeAsString()).ok());
    }
    EXPECT_EQ((*a)->size(), 1000);
  }
  // 1000 x ~120 B over 64 KiB segments: several segments; tear the last.
  std::string last;
  for (int seg = 0; std::filesystem::exists(absl::StrCat(dir, "/segment-", std::string(6 - std::to_string(seg).size(), '0'), seg, ".seg")); ++seg) {
    last = absl::StrCat(dir, "/segment-", std::string(6 - std::to_string(seg).size(), '0'), seg, ".seg");
  }
  ASSERT_FALSE(last.empty());
  {
    std::ofstream torn(last, std::ios::app | std::ios::binary);
    const uint32_t length = 500;  // promises 500 bytes, writes 3
    torn.write(reinterpret_cast<const char*>(&length), 4);
    torn.write("abc", 3);
  }
  auto a = ArchiveTier::Open(dir, 1 << 16);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->size(), 1000);
  EXPECT_EQ((*a)->torn_records(), 1);
  auto got = (*a)->Get("dev-777");
  ASSERT_TRUE(got.ok() && got->has_value());
  v1::Sample s;
  ASSERT_TRUE(s.ParseFromString(**got));
  EXPECT_EQ(s.label(), "c7");
  // Appends after the cut stay readable.
  const v1::Sample more = MakeSample(5000);
  ASSERT_TRUE((*a)->Append(more.id(), more.SerializeAsString()).ok());
  a->reset();
  auto again = ArchiveTier::Open(dir, 1 << 16);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->size(), 1001);
  EXPECT_EQ((*again)->torn_records(), 0);
  std::filesystem::remove_all(dir);
}

TEST(TieredCacheTest, LruServesFromEachTierAndCountsThem) {
  const std::string dir = TempDir("lru");
  CacheOptions o;
  o.dir = dir;
  o.policy = "lru";
  o.ram_bytes = 3 * SampleBytes();
  o.disk_bytes = 6 * SampleBytes();
  auto cache = TieredCache::Open(o);
  ASSERT_TRUE(cache.ok()) << cache.status();
  TieredCache& c = **cache;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(*c.Put(MakeSample(i)), i);
  EXPECT_EQ(*c.Put(MakeSample(3)), 3);  // a redelivered id keeps its key
  EXPECT_EQ(c.size(), 10);
  // RAM holds 7, 8, 9; disk 4..9; the archive everything.
  EXPECT_TRUE(c.InRam(9));
  EXPECT_FALSE(c.InRam(6));
  auto f9 = c.Get(9);
  ASSERT_TRUE(f9.ok());
  EXPECT_EQ(f9->tier, Tier::kRam);
  EXPECT_EQ(f9->sample.id(), "dev-9");
  auto f5 = c.Get(5);
  ASSERT_TRUE(f5.ok());
  EXPECT_EQ(f5->tier, Tier::kDisk);
  auto f0 = c.Get(0);
  ASSERT_TRUE(f0.ok());
  EXPECT_EQ(f0->tier, Tier::kArchive);
  EXPECT_EQ(f0->sample.label(), "c0");
  // LRU: 9 was used, so 7 and 8 made room for 5 and 0.
  EXPECT_TRUE(c.InRam(9));
  EXPECT_TRUE(c.InRam(0));
  EXPECT_FALSE(c.InRam(7));
  const CacheStats s = c.stats();
  EXPECT_EQ(s.requests, 3);
  EXPECT_EQ(s.tiers[0].hits, 1);
  EXPECT_EQ(s.tiers[1].hits, 1);
  EXPECT_EQ(s.tiers[2].hits, 1);
  EXPECT_NEAR(s.hit_ratio(), 1.0 / 3, 1e-9);
  EXPECT_FALSE(c.Get(10).ok());
  cache->reset();
  // Reopened on the same directory: the archive brings every sample back.
  auto reopened = TieredCache::Open(o);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->size(), 10);
  auto again = (*reopened)->Get(4);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->sample.id(), "dev-4");
  std::filesystem::remove_all(dir);
}

TEST(TieredCacheTest, ShadeKeepsHeavySamplesAndRemembersEvictedOnes) {
  const std::string dir = TempDir("shade");
  CacheOptions o;
  o.dir = dir;
  o.policy = "shade";
  o.ram_bytes = 3 * SampleBytes();
  o.disk_bytes = 0;
  auto cache = TieredCache::Open(o);
  ASSERT_TRUE(cache.ok()) << cache.status();
  TieredCache& c = **cache;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Put(MakeSample(i)).ok());
  // Loss = key: 9 is the heaviest. Refresh and warm the cache with reads.
  for (int i = 0; i < 10; ++i) c.ReportLoss(i, static_cast<float>(i));
  c.RefreshImportance();
  const std::vector<double> w = c.Weights();
  EXPECT_NEAR(w[0], std::log(11.0), 1e-9);
  EXPECT_NEAR(w[9], std::log(20.0), 1e-9);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Get(i).ok());
  EXPECT_TRUE(c.InRam(9) && c.InRam(8) && c.InRam(7));
  EXPECT_FALSE(c.InRam(0));
  // A light sample that misses is not admitted over heavier ones.
  ASSERT_TRUE(c.Get(1).ok());
  EXPECT_FALSE(c.InRam(1));
  // 6's loss jumps: it outweighs 7, the lightest cached, and replaces it;
  // 7 goes to the ghost heap remembering log(17), its weight then.
  c.ReportLoss(6, 100.0f);
  c.RefreshImportance();
  ASSERT_TRUE(c.Get(6).ok());
  EXPECT_TRUE(c.InRam(6));
  EXPECT_FALSE(c.InRam(7));
  // Now 7's loss drops to the lowest (log 11) and 8's just above it (log 12,
  // the lightest cached). 7 on its own weight would lose to 8; with the
  // ghost's remembered weight it wins.
  c.ReportLoss(7, -1.0f);
  c.ReportLoss(8, -0.5f);
  c.RefreshImportance();
  ASSERT_TRUE(c.Get(7).ok());
  EXPECT_TRUE(c.InRam(7));
  EXPECT_FALSE(c.InRam(8));
  // The ghost entry is spent: evicted again at a low weight, 7 stays out.
  c.ReportLoss(8, 50.0f);
  c.RefreshImportance();
  ASSERT_TRUE(c.Get(8).ok());
  EXPECT_FALSE(c.InRam(7));
  ASSERT_TRUE(c.Get(7).ok());
  EXPECT_FALSE(c.InRam(7));
  std::filesystem::remove_all(dir);
}

TEST(TieredCacheTest, IcacheSubstitutesLowImportanceMisses) {
  const std::string dir = TempDir("icache");
  CacheOptions o;
  o.dir = dir;
  o.policy = "icache";
  o.ram_bytes = 2 * SampleBytes();
  auto cache = TieredCache::Open(o);
  ASSERT_TRUE(cache.ok()) << cache.status();
  TieredCache& c = **cache;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Put(MakeSample(i)).ok());
  for (int i = 0; i < 10; ++i) c.ReportLoss(i, static_cast<float>(i));
  c.RefreshImportance();  // H = {8, 9} (2 slots)
  ASSERT_TRUE(c.Get(9, false).ok());
  ASSERT_TRUE(c.Get(8, false).ok());
  EXPECT_TRUE(c.InRam(8) && c.InRam(9));
  auto low = c.Get(2);
  ASSERT_TRUE(low.ok());
  EXPECT_TRUE(low->substituted);
  EXPECT_TRUE(low->key == 8 || low->key == 9);
  EXPECT_EQ(low->tier, Tier::kRam);
  auto exact = c.Get(2, false);  // without substitution: the real sample, not admitted (L)
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->key, 2);
  EXPECT_FALSE(c.InRam(2));
  EXPECT_EQ(c.stats().substituted, 1);
  std::filesystem::remove_all(dir);
}

TEST(TieredCacheTest, RejectsBadOptionsNamingThem) {
  CacheOptions o;
  o.dir = TempDir("bad");
  o.policy = "fifo";
  auto c = TieredCache::Open(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'fifo'"), std::string::npos) << c.status();
  o.policy = "lru";
  auto ok = TieredCache::Open(o);
  ASSERT_TRUE(ok.ok());
  v1::Sample no_id;
  EXPECT_FALSE((*ok)->Put(no_id).ok());
  std::filesystem::remove_all(o.dir);
}

TEST(SamplerTest, UniformIsAPermutationImportanceFollowsWeights) {
  std::mt19937_64 rng(3);
  auto u = SampleEpoch("uniform", 1000, {}, rng);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(std::set<int64_t>(u->begin(), u->end()).size(), 1000u);
  std::vector<double> w(100, 1.0);
  w[7] = 50.0;  // 50 of 149 weight
  auto imp = SampleEpoch("importance", 100, w, rng);
  ASSERT_TRUE(imp.ok());
  std::vector<int64_t> big;
  auto many = SampleEpoch("importance", 100, w, rng);
  int64_t sevens = 0, total = 0;
  for (int rep = 0; rep < 100; ++rep) {
    auto e = SampleEpoch("importance", 100, w, rng);
    for (int64_t k : *e) sevens += k == 7 ? 1 : 0;
    total += 100;
  }
  EXPECT_NEAR(static_cast<double>(sevens) / static_cast<double>(total), 50.0 / 149.0, 0.02);
  EXPECT_FALSE(SampleEpoch("zipf", 10, {}, rng).ok());
  EXPECT_FALSE(SampleEpoch("importance", 10, {1.0}, rng).ok());
}

// The point of importance-aware caching, on the cache alone: 2,000 samples,
// a 10 % RAM tier, five epochs. LRU under uniform sampling vs SHADE under
// importance sampling with the rank weights from fixed per-sample losses.
double HitRatio(const std::string& policy, const std::string& sampler) {
  CacheOptions o;
  o.dir = TempDir(absl::StrCat("ratio-", policy));
  o.policy = policy;
  o.ram_bytes = 200 * SampleBytes();
  o.disk_bytes = 0;
  auto cache = TieredCache::Open(o);
  EXPECT_TRUE(cache.ok());
  TieredCache& c = **cache;
  std::mt19937_64 rng(11);
  std::exponential_distribution<float> loss(1.0f);
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(c.Put(MakeSample(i)).ok());
  for (int i = 0; i < 2000; ++i) c.ReportLoss(i, loss(rng));
  c.RefreshImportance();
  for (int epoch = 0; epoch < 5; ++epoch) {
    auto order = SampleEpoch(sampler, 2000, c.Weights(), rng);
    for (int64_t k : *order) EXPECT_TRUE(c.Get(k).ok());
  }
  const double ratio = c.stats().hit_ratio();
  std::filesystem::remove_all(o.dir);
  return ratio;
}

TEST(TieredCacheTest, ShadeBeatsLruHitRatioAtTenPercent) {
  const double lru = HitRatio("lru", "uniform");
  const double shade = HitRatio("shade", "importance");
  std::printf("[ cache    ] 10%% RAM tier, 2,000 samples x 5 epochs: lru %.4f, shade %.4f\n", lru, shade);
  EXPECT_GT(shade, 1.5 * lru);
  EXPECT_GT(shade, 0.09);
}

}  // namespace
}  // namespace mliot::stream
