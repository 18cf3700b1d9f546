// The streaming trainer, SgdModel and data-parallel training on real
// pieces: a real LMDB/segment-file cache filled by an ingest thread while
// the trainer runs, checkpoints on disk, and Gloo over loopback TCP between
// two workers.
#include "stream/stream_trainer.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "stream/allreduce.h"
#include "stream/data_parallel.h"
#include "stream/device_simulator.h"
#include "stream/toy_data_for_tests.h"

namespace mliot::stream {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("mliot-train-test-", getpid(), "-", name)).string();
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(SgdModelTest, LearnsAndCheckpointsAtomically) {
  const Dataset train = ToyImages(600, 1), test = ToyImages(300, 2);
  for (const std::string kind : {"mlp", "cnn"}) {
    auto model = SgdModel::Create(ToyModelOptions(kind));
    ASSERT_TRUE(model.ok()) << model.status();
    const StreamTrainOptions o = ToyTrainOptions(train);
    auto r = TrainInRam(train, **model, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->samples, 3 * 600);
    const double acc = (*model)->Accuracy(test);
    EXPECT_GT(acc, 0.9) << kind;
    const std::string dir = TempDir(kind);
    std::filesystem::create_directories(dir);
    ASSERT_TRUE((*model)->SaveCheckpoint(dir + "/model.ckpt").ok());
    EXPECT_FALSE(std::filesystem::exists(dir + "/model.ckpt.tmp"));
    auto fresh = SgdModel::Create(ToyModelOptions(kind));
    ASSERT_TRUE(fresh.ok());
    ASSERT_TRUE((*fresh)->LoadCheckpoint(dir + "/model.ckpt").ok());
    EXPECT_DOUBLE_EQ((*fresh)->Accuracy(test), acc);
    auto other = SgdModel::Create(ToyModelOptions(kind == "mlp" ? "cnn" : "mlp"));
    ASSERT_TRUE(other.ok());
    EXPECT_FALSE((*other)->LoadCheckpoint(dir + "/model.ckpt").ok());
    std::filesystem::remove_all(dir);
  }
}

TEST(SgdModelTest, RejectsBadOptions) {
  SgdOptions o = ToyModelOptions("rnn");
  auto m = SgdModel::Create(o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("'rnn'"), std::string::npos);
  o = ToyModelOptions("cnn");
  o.height = 7;
  EXPECT_FALSE(SgdModel::Create(o).ok());
}

// Ingest fills the cache at a paced rate while the trainer runs: epoch 1
// waits for arriving samples, epoch 2 samples the cache; every sample of
// epoch 1 is trained on exactly once, and a checkpoint appears.
TEST(StreamTrainerTest, TrainsWhileSamplesArrive) {
  const Dataset train = ToyImages(900, 3), test = ToyImages(300, 4);
  const std::string dir = TempDir("stream");
  CacheOptions co;
  co.dir = dir;
  co.policy = "lru";
  co.ram_bytes = 1 << 20;
  auto cache = TieredCache::Open(co);
  ASSERT_TRUE(cache.ok()) << cache.status();
  SimulateOptions so;
  so.task = "toy";
  std::thread ingest([&] {
    for (int64_t i = 0; i < train.rows; ++i) {
      ASSERT_TRUE((*cache)->Put(RowToSample(train, i, i, so)).ok());
      if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto model = SgdModel::Create(ToyModelOptions("mlp"));
  ASSERT_TRUE(model.ok());
  StreamTrainOptions o;
  o.class_names = train.class_names;
  o.epoch_samples = train.rows;
  o.epochs = 2;
  o.batch = 30;
  o.checkpoint = dir + "/model.ckpt";
  int progress_calls = 0;
  auto r = TrainFromCache(**cache, **model, o, [&](int, int64_t, double) { ++progress_calls; });
  ingest.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->epochs, 2);
  EXPECT_EQ(r->samples, 2 * train.rows);
  EXPECT_EQ(r->short_epochs, 0);
  EXPECT_EQ(progress_calls, 2);
  // ~180 ms of paced arrival: the trainer waited for some of it.
  EXPECT_GT(r->wait_s, 0.0);
  EXPECT_GE(r->stall_fraction, 0.0);
  EXPECT_LE(r->stall_fraction, 1.0);
  EXPECT_TRUE(std::filesystem::exists(o.checkpoint));
  EXPECT_GT((*model)->Accuracy(test), 0.9);
  std::filesystem::remove_all(dir);
}

TEST(StreamTrainerTest, AStreamThatStopsEndsTheEpochShort) {
  const Dataset train = ToyImages(100, 5);
  const std::string dir = TempDir("short");
  CacheOptions co;
  co.dir = dir;
  auto cache = TieredCache::Open(co);
  ASSERT_TRUE(cache.ok());
  SimulateOptions so;
  for (int64_t i = 0; i < 60; ++i) ASSERT_TRUE((*cache)->Put(RowToSample(train, i, i, so)).ok());
  v1::Sample stranger = RowToSample(train, 60, 60, so);
  stranger.set_label("zebra");  // not a class of the model: skipped, not fatal
  ASSERT_TRUE((*cache)->Put(stranger).ok());
  auto model = SgdModel::Create(ToyModelOptions("mlp"));
  ASSERT_TRUE(model.ok());
  StreamTrainOptions o;
  o.class_names = train.class_names;
  o.epoch_samples = 100;  // 39 never come
  o.epochs = 1;
  o.batch = 16;
  o.idle_timeout_s = 0.3;
  auto r = TrainFromCache(**cache, **model, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples, 60);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->short_epochs, 1);
  std::filesystem::remove_all(dir);
}

TEST(AllReduceTest, TwoWorkersAverageOverLoopback) {
  const std::string store = TempDir("gloo-avg");
  std::vector<float> a(1000, 1.0f), b(1000, 3.0f);
  absl::Status sa, sb;
  std::thread t0([&] {
    auto g = AllReduceGroup::Join(0, 2, store, "127.0.0.1", 30);
    sa = g.status();
    if (g.ok()) sa = (*g)->AverageInPlace(a);
  });
  std::thread t1([&] {
    auto g = AllReduceGroup::Join(1, 2, store, "127.0.0.1", 30);
    sb = g.status();
    if (g.ok()) sb = (*g)->AverageInPlace(b);
  });
  t0.join();
  t1.join();
  ASSERT_TRUE(sa.ok()) << sa;
  ASSERT_TRUE(sb.ok()) << sb;
  EXPECT_FLOAT_EQ(a[0], 2.0f);
  EXPECT_FLOAT_EQ(a[999], 2.0f);
  EXPECT_FLOAT_EQ(b[500], 2.0f);
  EXPECT_FALSE(AllReduceGroup::Join(2, 2, store).ok());
  std::filesystem::remove_all(store);
}

// Two data-parallel workers end with identical replicas, and reach the
// accuracy of one worker trained on everything with the same global batch.
TEST(DataParallelTest, TwoWorkersMatchOneWorker) {
  const Dataset train = ToyImages(1200, 6), test = ToyImages(300, 7);
  DataParallelOptions o;
  o.epochs = 2;
  o.global_batch = 32;
  o.total_rows = train.rows;
  auto single = SgdModel::Create(ToyModelOptions("mlp"));
  ASSERT_TRUE(single.ok());
  auto one = TrainDataParallel(train, **single, nullptr, o);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->steps, 2 * (1200 / 32));
  const double acc_single = (*single)->Accuracy(test);

  const std::string store = TempDir("gloo-dp");
  std::unique_ptr<SgdModel> models[2];
  absl::StatusOr<DataParallelReport> reports[2] = {absl::UnknownError("not run"), absl::UnknownError("not run")};
  std::vector<std::thread> workers;
  for (int rank = 0; rank < 2; ++rank) {
    SgdOptions so = ToyModelOptions("mlp");
    so.seed = 10 + rank;  // different seeds: the broadcast must align them
    models[rank] = *SgdModel::Create(so);
    workers.emplace_back([&, rank] {
      auto g = AllReduceGroup::Join(rank, 2, store, "127.0.0.1", 30);
      if (!g.ok()) {
        reports[rank] = g.status();
        return;
      }
      reports[rank] = TrainDataParallel(ShareOf(train, rank, 2), *models[rank], g->get(), o);
    });
  }
  for (auto& w : workers) w.join();
  ASSERT_TRUE(reports[0].ok()) << reports[0].status();
  ASSERT_TRUE(reports[1].ok()) << reports[1].status();
  EXPECT_EQ(reports[0]->steps, one->steps);
  EXPECT_DOUBLE_EQ(reports[0]->parameter_sum, reports[1]->parameter_sum);
  EXPECT_GT(reports[0]->allreduce_s, 0.0);
  EXPECT_EQ(reports[0]->bytes_per_step, one->bytes_per_step);
  const double acc_parallel = models[0]->Accuracy(test);
  EXPECT_NEAR(acc_parallel, acc_single, 0.03);
  EXPECT_GT(acc_parallel, 0.9);
  std::filesystem::remove_all(store);
}

}  // namespace
}  // namespace mliot::stream
