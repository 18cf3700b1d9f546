// Trainer, bundles, two-stage serving and adaptation, end to end in process.
#include "train/trainer.h"

#include <unistd.h>

#include <filesystem>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ml/hpo/strategy.h"
#include "serve/bundle_reader.h"
#include "serve/servable.h"
#include "train/adapt.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mliot_" + name + "_" + std::to_string(getpid()) + "_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Two Gaussian features; the label is which side of x0 = 0 a row is on.
Dataset HalfPlanes(int64_t rows, uint64_t seed, float x1_mean = 0, bool flipped = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  Dataset d;
  d.source = "half-planes";
  d.cols = 2;
  d.class_names = {"neg", "pos"};
  for (int64_t i = 0; i < rows; ++i) {
    const float x0 = g(rng), x1 = x1_mean + 0.5f * g(rng);
    d.features.push_back(x0);
    d.features.push_back(x1);
    d.labels.push_back((x0 > 0) != flipped ? 1 : 0);
  }
  d.rows = rows;
  return d;
}

// ---------------------------------------------------------------- lazy training

// A model kind whose Fit takes `seconds` on a FakeClock and then predicts
// the sign of feature 0.
class ClockModel final : public Model {
 public:
  ClockModel(FakeClock* clock, double seconds) : clock_(clock), seconds_(seconds) {}
  absl::Status Fit(const FitInput& in, const Params&, const FitControl&) override {
    clock_->Advance(seconds_);
    d_ = static_cast<int>(in.cols);
    return absl::OkStatus();
  }
  int num_classes() const override { return 2; }
  int num_features() const override { return d_; }
  void PredictProba(const float* row, float* p) const override {
    p[1] = row[0] > 0 ? 0.9f : 0.1f;
    p[0] = 1 - p[1];
  }
  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("test.clock");
    const float d = static_cast<float>(d_);
    f.Put("d", {1}, &d);
    return f.Write(path);
  }
  absl::Status LoadWeights(const std::string& path, const Params&) override {
    auto f = TensorFile::Read(path, "test.clock");
    if (!f.ok()) return f.status();
    d_ = static_cast<int>((*f->Get("d"))[0]);
    return absl::OkStatus();
  }

 private:
  FakeClock* clock_;
  double seconds_;
  int d_ = 0;
};

ModelKind ClockKind(const std::string& name, FakeClock* clock, double seconds, double cost) {
  return ModelKind{.name = name,
                   .description = "test kind",
                   .probabilities = "fixed",
                   .cost_rank = cost,
                   .create = [clock, seconds] { return std::make_unique<ClockModel>(clock, seconds); }};
}

TEST(LazyTrainingTest, SlowKindArrivesInVersionTwoNotOne) {
  FakeClock clock;
  ModelRegistry registry;
  ASSERT_TRUE(registry.Register(ClockKind("fast", &clock, 1.0, 1)).ok());
  ASSERT_TRUE(registry.Register(ClockKind("slow", &clock, 10.0, 2)).ok());
  Trainer trainer(registry, BuiltinStrategies(), &clock);
  TrainOptions o;
  o.budget_s = 100;
  o.time_bound_s = 5;
  o.threads = 1;  // fast runs first (cheaper), then slow: done at t=1 and t=11
  o.max_trials = 1;
  o.reduce = "none";
  o.select = "all";
  o.out_dir = TempDir("lazy");
  auto report = trainer.Train(HalfPlanes(200, 1), o);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->versions.size(), 2u);
  EXPECT_EQ(report->versions[0].version, 1);
  EXPECT_THAT(report->versions[0].members, ElementsAre("fast"));
  // Published once the clock passed T (the fake clock jumps from 1 to 11).
  EXPECT_GE(report->versions[0].at_s, 5.0);
  EXPECT_EQ(report->versions[1].version, 2);
  EXPECT_THAT(report->versions[1].members, UnorderedElementsAre("fast", "slow"));
  EXPECT_GE(report->versions[1].at_s, 11.0);
  // Both versions are on disk and loadable; the latest is 2.
  EXPECT_EQ(*LatestBundleVersion(o.out_dir), 2);
  auto v1 = Servable::Load(o.out_dir, 1, registry);
  ASSERT_TRUE(v1.ok()) << v1.status();
  std::filesystem::remove_all(o.out_dir);
}

TEST(LazyTrainingTest, WithoutATimeBoundThereIsOneVersion) {
  FakeClock clock;
  ModelRegistry registry;
  ASSERT_TRUE(registry.Register(ClockKind("fast", &clock, 1.0, 1)).ok());
  ASSERT_TRUE(registry.Register(ClockKind("slow", &clock, 10.0, 2)).ok());
  Trainer trainer(registry, BuiltinStrategies(), &clock);
  TrainOptions o;
  o.budget_s = 100;
  o.threads = 1;
  o.max_trials = 1;
  o.reduce = "none";
  o.select = "all";
  o.out_dir = TempDir("lazy_one");
  auto report = trainer.Train(HalfPlanes(200, 1), o);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->versions.size(), 1u);
  EXPECT_THAT(report->versions[0].members, UnorderedElementsAre("fast", "slow"));
  std::filesystem::remove_all(o.out_dir);
}

// ---------------------------------------------------------------- options

TEST(TrainerTest, OptionErrorsNameTheOption) {
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  const Dataset data = HalfPlanes(50, 2);
  auto check = [&](TrainOptions o, const std::string& expected) {
    const absl::Status s = trainer.Validate(data, o);
    EXPECT_FALSE(s.ok()) << expected;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(expected));
  };
  TrainOptions o;
  o.budget_s = 0;
  check(o, "--budget-s must be > 0");
  o = TrainOptions();
  o.models = {"tree"};
  check(o, "unknown model kind 'tree'; valid kinds: knn,");
  o = TrainOptions();
  o.models = {"cnn"};
  check(o, "needs rows with a 2-D shape");
  o = TrainOptions();
  o.reduce = "lda:2";
  check(o, "valid reducers");
  o = TrainOptions();
  o.hpo = "hyperband";
  check(o, "valid strategies: grid, random, bayes");
  o = TrainOptions();
  o.select = "best(3)";
  check(o, "unknown function 'best'");
  o = TrainOptions();
  o.background_class = "noise";
  check(o, "classes: neg, pos");
  o = TrainOptions();
  o.start_params = {{"knn", "k=0"}};
  check(o, "--params knn");
}

// ---------------------------------------------------------------- two-stage

TEST(TwoStageTest, BackgroundRowsAreAnsweredByStageOne) {
  // Three classes: "background" far away at x1 = +6, "a" and "b" split by x0.
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  Dataset d;
  d.source = "two-stage";
  d.cols = 2;
  d.class_names = {"a", "b", "background"};
  for (int i = 0; i < 600; ++i) {
    const int c = i % 3;
    const float x0 = c == 2 ? g(rng) : (c == 0 ? -2.0f : 2.0f) + 0.5f * g(rng);
    const float x1 = c == 2 ? 6.0f + 0.5f * g(rng) : 0.5f * g(rng);
    d.features.push_back(x0);
    d.features.push_back(x1);
    d.labels.push_back(c);
  }
  d.rows = 600;
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  TrainOptions o;
  o.budget_s = 20;
  o.models = {"ridge", "knn"};
  o.max_trials = 1;
  o.reduce = "none";
  o.background_class = "background";
  o.out_dir = TempDir("two_stage");
  auto report = trainer.Train(d, o);
  ASSERT_TRUE(report.ok()) << report.status();
  auto servable = Servable::Load(o.out_dir);
  ASSERT_TRUE(servable.ok()) << servable.status();
  std::vector<float> cert(3);
  const float background_row[2] = {0.3f, 6.1f};
  Answer a = (*servable)->Predict(background_row, cert.data());
  EXPECT_EQ(a.label, 2);
  EXPECT_EQ(a.stage, 1);
  EXPECT_NEAR(cert[0] + cert[1] + cert[2], 1.0f, 1e-5);
  const float b_row[2] = {2.1f, -0.2f};
  a = (*servable)->Predict(b_row, cert.data());
  EXPECT_EQ(a.label, 1);
  EXPECT_EQ(a.stage, 2);
  EXPECT_GT(cert[1], cert[0]);
  // Stage 1 switched off (the ablation's baseline): the ensemble answers
  // every row, background included, and still finds it.
  EXPECT_TRUE((*servable)->has_stage1());
  (*servable)->set_stage1(false);
  a = (*servable)->Predict(background_row, cert.data());
  EXPECT_EQ(a.stage, 2);
  EXPECT_EQ(a.label, 2);
  Answer batch[2];
  std::vector<float> batch_cert(6);
  const float rows[4] = {0.3f, 6.1f, 2.1f, -0.2f};
  (*servable)->PredictBatch(rows, 2, batch, batch_cert.data());
  EXPECT_EQ(batch[0].stage, 2);
  EXPECT_EQ(batch[1].stage, 2);
  std::filesystem::remove_all(o.out_dir);
}

// ---------------------------------------------------------------- adaptation

double AccuracyOn(const Servable& s, const Dataset& d) {
  std::vector<float> cert(static_cast<size_t>(s.num_classes()));
  int64_t correct = 0;
  for (int64_t i = 0; i < d.rows; ++i) correct += s.Predict(d.row(i), cert.data()).label == d.labels[i];
  return static_cast<double>(correct) / static_cast<double>(d.rows);
}

TEST(AdaptTest, FeedbackRaisesAccuracyOnItsDistribution) {
  // Trained where x1 ~ 0 and the label is x0 > 0; the feedback comes from a
  // region x1 ~ 5 where users say the opposite.
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  TrainOptions o;
  o.budget_s = 20;
  o.models = {"knn", "random_forest"};
  o.max_trials = 1;
  o.reduce = "none";
  o.out_dir = TempDir("adapt");
  ASSERT_TRUE(trainer.Train(HalfPlanes(600, 4), o).ok());
  const Dataset drift_test = HalfPlanes(300, 5, /*x1_mean=*/5, /*flipped=*/true);
  auto before = Servable::Load(o.out_dir);
  ASSERT_TRUE(before.ok());
  const double accuracy_before = AccuracyOn(**before, drift_test);

  auto report = Adapt(o.out_dir, HalfPlanes(150, 6, 5, true), AdaptOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->version, (*before)->version() + 1);
  EXPECT_EQ(report->feedback_rows, 150);
  auto after = Servable::Load(o.out_dir);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->version(), report->version);
  const double accuracy_after = AccuracyOn(**after, drift_test);
  EXPECT_LT(accuracy_before, 0.3);
  EXPECT_GT(accuracy_after, 0.85);
  // The original distribution is still served well.
  EXPECT_GT(AccuracyOn(**after, HalfPlanes(300, 7)), 0.9);
  std::filesystem::remove_all(o.out_dir);
}

TEST(AdaptTest, FeedbackMayAddAClass) {
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  TrainOptions o;
  o.budget_s = 20;
  o.models = {"knn"};
  o.max_trials = 1;
  o.reduce = "none";
  o.out_dir = TempDir("adapt_class");
  ASSERT_TRUE(trainer.Train(HalfPlanes(300, 8), o).ok());
  Dataset feedback = HalfPlanes(60, 9, /*x1_mean=*/8);
  feedback.class_names = {"far", "far2"};  // every row is a class never seen
  for (int32_t& l : feedback.labels) l = 0;
  auto report = Adapt(o.out_dir, feedback, AdaptOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  auto s = Servable::Load(o.out_dir);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT((*s)->class_names(), ElementsAre("neg", "pos", "far"));
  std::vector<float> cert(3);
  const float row[2] = {0.0f, 8.0f};
  EXPECT_EQ((*s)->Predict(row, cert.data()).label, 2);
  std::filesystem::remove_all(o.out_dir);
}

// ---------------------------------------------------------------- bundles

TEST(BundleTest, ReadersIgnoreHalfWrittenVersions) {
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  TrainOptions o;
  o.budget_s = 10;
  o.models = {"ridge"};
  o.max_trials = 1;
  o.reduce = "none";
  o.out_dir = TempDir("bundle");
  ASSERT_TRUE(trainer.Train(HalfPlanes(100, 10), o).ok());
  // A writer that died before its rename, and a directory without a manifest.
  std::filesystem::create_directories(o.out_dir + "/.tmp-2-12345");
  std::filesystem::create_directories(o.out_dir + "/2");
  EXPECT_EQ(*LatestBundleVersion(o.out_dir), 1);
  EXPECT_TRUE(Servable::Load(o.out_dir).ok());
  // The next version skips the taken number 2.
  auto report = Adapt(o.out_dir, HalfPlanes(10, 11), AdaptOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->version, 3);
  EXPECT_EQ(*LatestBundleVersion(o.out_dir), 3);
  std::filesystem::remove_all(o.out_dir);
}

TEST(BundleTest, CorruptManifestIsAnError) {
  const std::string dir = TempDir("corrupt");
  std::filesystem::create_directories(dir + "/1");
  FILE* f = std::fopen((dir + "/1/manifest.pb").c_str(), "wb");
  std::fputs("garbage that is not a protobuf \xff\xff", f);
  std::fclose(f);
  auto s = Servable::Load(dir);
  EXPECT_FALSE(s.ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mliot
