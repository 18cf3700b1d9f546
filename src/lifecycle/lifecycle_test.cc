// Unit tests of the lifecycle logic on real files in a temporary directory:
// the promotion test, retention, rollback copies, the version catalog and
// the state file.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lifecycle/lifecycle_state.h"
#include "lifecycle/promotion.h"
#include "lifecycle/publish.h"
#include "lifecycle/retention.h"
#include "lifecycle/version_catalog.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"

namespace mliot {
namespace {
namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

PairedCounts Counts(int64_t rows, int64_t both, int64_t only_serving, int64_t only_shadow) {
  PairedCounts c;
  for (int64_t i = 0; i < rows; ++i) {
    if (i < both) c.Add(true, true);
    else if (i < both + only_serving) c.Add(true, false);
    else if (i < both + only_serving + only_shadow) c.Add(false, true);
    else c.Add(false, false);
  }
  return c;
}

TEST(PromotionTest, EqualVersionsArePromotedOnValidationRowsAlone) {
  const Decision d = DecidePromotion(Counts(400, 350, 5, 6), PairedCounts{}, 0.1, 0.1);
  EXPECT_EQ(d.verdict, Verdict::kPromote) << d.why;
  EXPECT_THAT(d.why, HasSubstr("400 rows"));
}

TEST(PromotionTest, AMuchWorseShadowIsRetired) {
  // Poisoned: the shadow loses 120 rows the serving version got right.
  const Decision d = DecidePromotion(Counts(400, 230, 120, 5), PairedCounts{}, 0.1, 0.1);
  EXPECT_EQ(d.verdict, Verdict::kRetire);
  EXPECT_THAT(d.why, HasSubstr("validation rows"));
}

TEST(PromotionTest, WorseOnLaterFeedbackRetiresEvenIfValidationIsFine) {
  const Decision d = DecidePromotion(Counts(400, 350, 5, 5), Counts(200, 100, 60, 2), 1, 1);
  EXPECT_EQ(d.verdict, Verdict::kRetire);
  EXPECT_THAT(d.why, HasSubstr("later feedback"));
}

TEST(PromotionTest, InconclusiveWaitsThenThePointEstimateDecides) {
  // A 3-point loss on 100 rows: neither clearly worse nor shown not worse.
  const PairedCounts worse = Counts(100, 80, 8, 5);
  EXPECT_EQ(DecidePromotion(worse, PairedCounts{}, 1, 1).verdict, Verdict::kWait);
  const Decision late = DecidePromotion(worse, PairedCounts{}, 11, 11);
  EXPECT_EQ(late.verdict, Verdict::kRetire);
  EXPECT_THAT(late.why, HasSubstr("inconclusive"));
  // New feedback keeps it waiting (idle 2 s) until max_wait_s.
  EXPECT_EQ(DecidePromotion(worse, PairedCounts{}, 100, 2).verdict, Verdict::kWait);
  EXPECT_EQ(DecidePromotion(worse, PairedCounts{}, 601, 2).verdict, Verdict::kRetire);
  // A 1-point loss: promoted once the evidence settles.
  const PairedCounts close = Counts(100, 80, 6, 5);
  EXPECT_EQ(DecidePromotion(close, PairedCounts{}, 1, 1).verdict, Verdict::kWait);
  EXPECT_EQ(DecidePromotion(close, PairedCounts{}, 11, 11).verdict, Verdict::kPromote);
}

TEST(PromotionTest, WithoutValidationRowsFeedbackDecides) {
  EXPECT_EQ(DecidePromotion(PairedCounts{}, Counts(10, 10, 0, 0), 1, 1).verdict, Verdict::kWait);  // < min_rows
  EXPECT_EQ(DecidePromotion(PairedCounts{}, Counts(100, 90, 0, 3), 1, 1).verdict, Verdict::kPromote);
}

class BundleDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/lifecycle-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/data");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A version with a valid manifest and one weights file.
  int64_t AddVersion(const std::string& origin, int64_t created_ms = 0, std::vector<std::string> batches = {}) {
    v1::BundleManifest m;
    m.add_class_names("a");
    m.add_class_names("b");
    m.set_num_features(1);
    m.add_members()->set_kind("logreg");
    m.set_origin(origin);
    m.set_val_accuracy(0.9);
    m.set_created_unix_ms(created_ms > 0 ? created_ms : NowUnixMs());
    for (const std::string& b : batches) m.add_feedback_batches(b);
    absl::StatusOr<int64_t> latest = LatestBundleVersion(dir_);
    m.set_version(latest.ok() ? *latest + 1 : 1);
    const std::string tmp = dir_ + "/.tmp-test";
    fs::create_directories(tmp);
    std::ofstream(tmp + "/member-0.w") << "weights of " << origin;
    EXPECT_TRUE(WriteManifest(tmp + "/manifest.pb", m).ok());
    absl::StatusOr<int64_t> v = PublishVersionDirectory(dir_, tmp, &m, 0);
    EXPECT_TRUE(v.ok()) << v.status();
    return *v;
  }

  std::string dir_;
};

TEST_F(BundleDirTest, ExactPublishingRefusesATakenNumber) {
  AddVersion("lazy 1");
  v1::BundleManifest m;
  ASSERT_TRUE(ReadManifest(dir_, 1, &m).ok());
  fs::create_directories(dir_ + "/.tmp-x");
  ASSERT_TRUE(WriteManifest(dir_ + "/.tmp-x/manifest.pb", m).ok());
  absl::StatusOr<int64_t> v = PublishVersionDirectory(dir_, dir_ + "/.tmp-x", &m, 1);
  EXPECT_TRUE(absl::IsAborted(v.status())) << v.status();
  EXPECT_FALSE(fs::exists(dir_ + "/.tmp-x"));
}

TEST_F(BundleDirTest, RetentionKeepsNewestProtectedAndLatest) {
  for (int i = 0; i < 8; ++i) AddVersion(absl::StrCat("adaptation: ", i));
  // keep 3: 6, 7, 8 stay; 2 (serving) and 4 (pinned) are protected.
  const std::vector<int64_t> deleted = ApplyRetention(dir_, RetentionPolicy{3, 0}, {2, 4}, NowUnixMs());
  EXPECT_THAT(deleted, ElementsAre(1, 3, 5));
  EXPECT_THAT(VersionNumbers(dir_), ElementsAre(2, 4, 6, 7, 8));
  // Idempotent, and the newest stays however small keep is.
  EXPECT_TRUE(ApplyRetention(dir_, RetentionPolicy{3, 0}, {2, 4}, NowUnixMs()).empty());
  EXPECT_THAT(ApplyRetention(dir_, RetentionPolicy{1, 0}, {}, NowUnixMs()), ElementsAre(2, 4, 6, 7));
  EXPECT_THAT(VersionNumbers(dir_), ElementsAre(8));
}

TEST_F(BundleDirTest, RetiredVersionsGiveUpTheirSlotsFirst) {
  for (int i = 0; i < 5; ++i) AddVersion(absl::StrCat("adaptation: ", i));
  // keep 3 with 4 and 2 retired: 5 (newest), 3, 1 keep their slots.
  EXPECT_THAT(ApplyRetention(dir_, RetentionPolicy{3, 0}, {}, NowUnixMs(), {2, 4}), ElementsAre(2, 4));
  EXPECT_THAT(VersionNumbers(dir_), ElementsAre(1, 3, 5));
}

TEST_F(BundleDirTest, RetentionByAgeAndUnreferencedBatches) {
  const int64_t day = 86400000;
  AddVersion("lazy 1", NowUnixMs() - 10 * day, {"fb-old"});
  AddVersion("adaptation: 5", NowUnixMs() - 1 * day, {"fb-new"});
  AddVersion("adaptation: 5", NowUnixMs(), {"fb-new"});
  for (const char* b : {"fb-old", "fb-new"}) {
    for (const char* ext : {".x.idx", ".y.idx"}) {
      const std::string path = absl::StrCat(dir_, "/data/", b, ext);
      std::ofstream(path) << "rows";
      fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(1));
    }
  }
  EXPECT_THAT(ApplyRetention(dir_, RetentionPolicy{5, 2}, {}, NowUnixMs()), ElementsAre(1));
  EXPECT_FALSE(fs::exists(dir_ + "/data/fb-old.x.idx"));
  EXPECT_TRUE(fs::exists(dir_ + "/data/fb-new.x.idx"));
}

TEST_F(BundleDirTest, RollbackPublishesACopyWithItsOrigin) {
  AddVersion("lazy 1", 0, {"fb-1"});
  AddVersion("adaptation: 100 feedback rows", 0, {"fb-1", "fb-2"});
  absl::StatusOr<int64_t> v = PublishRollback(dir_, 1);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 3);
  v1::BundleManifest m;
  ASSERT_TRUE(ReadManifest(dir_, 3, &m).ok());
  EXPECT_EQ(m.origin(), "rollback to 1");
  EXPECT_EQ(m.parent(), 1);
  EXPECT_EQ(m.version(), 3);
  EXPECT_THAT(std::vector<std::string>(m.feedback_batches().begin(), m.feedback_batches().end()), ElementsAre("fb-1"));
  std::ifstream in(dir_ + "/3/member-0.w");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "weights of lazy 1");
  // A version whose files are gone cannot be rolled back to.
  fs::remove_all(dir_ + "/1");
  absl::StatusOr<int64_t> gone = PublishRollback(dir_, 1);
  EXPECT_TRUE(absl::IsNotFound(gone.status()));
  EXPECT_THAT(gone.status().message(), HasSubstr("version 1"));
}

TEST_F(BundleDirTest, CatalogListsStatesAndRemembersDeletedVersions) {
  AddVersion("lazy 1");
  AddVersion("lazy 2");
  AddVersion("adaptation: 300 feedback rows");
  AddVersion("adaptation: 300 feedback rows");
  LifecycleState state;
  state.serving = 3;
  state.shadow = 0;
  state.retired[4] = "worse";
  state.feedback[3] = FeedbackScore{45, 50};
  state.validation[4] = 0.5;
  {
    VersionCatalog catalog(dir_);
    std::vector<v1::VersionStatus> vs = catalog.Refresh(state, 0);
    ASSERT_EQ(vs.size(), 4u);
    EXPECT_EQ(vs[0].state(), "retained");
    EXPECT_EQ(vs[0].origin(), "lazy 1 of 2");
    EXPECT_EQ(vs[2].state(), "serving");
    EXPECT_DOUBLE_EQ(vs[2].feedback_accuracy(), 0.9);
    EXPECT_EQ(vs[3].state(), "retired");
    EXPECT_EQ(vs[3].reason(), "worse");
    EXPECT_DOUBLE_EQ(vs[3].validation_accuracy(), 0.5);  // measured, not the manifest's 0.9
    EXPECT_GT(vs[1].bytes(), 0);
    EXPECT_EQ(vs[1].feedback_accuracy(), -1);
    EXPECT_EQ(catalog.Refresh(state, 2)[1].state(), "pinned");
  }
  fs::remove_all(dir_ + "/1");
  VersionCatalog reopened(dir_);  // from catalog.pb
  std::vector<v1::VersionStatus> vs = reopened.Refresh(state, 0);
  ASSERT_EQ(vs.size(), 4u);
  EXPECT_EQ(vs[0].state(), "deleted");
  EXPECT_EQ(vs[0].bytes(), 0);
  EXPECT_EQ(vs[0].stored(), "");
}

TEST_F(BundleDirTest, StateFileRoundTripsAndPinFile) {
  LifecycleState s;
  s.serving = 4;
  s.shadow = 5;
  s.promoted = {1, 2, 4};
  s.retired[3] = "worse by more than 0.02";
  s.feedback[4] = FeedbackScore{7, 9};
  s.validation[5] = 0.75;
  for (int i = 0; i < 60; ++i) s.AddEvent(absl::StrCat("event ", i));
  ASSERT_TRUE(WriteLifecycleState(dir_, s).ok());
  absl::StatusOr<LifecycleState> r = ReadLifecycleState(dir_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->serving, 4);
  EXPECT_EQ(r->shadow, 5);
  EXPECT_EQ(r->promoted, s.promoted);
  EXPECT_EQ(r->retired.at(3), "worse by more than 0.02");
  EXPECT_EQ(r->feedback.at(4).rows, 9);
  EXPECT_DOUBLE_EQ(r->validation.at(5), 0.75);
  ASSERT_EQ(r->events.size(), 50u);
  EXPECT_THAT(r->events.back(), HasSubstr("event 59"));
  std::ofstream(dir_ + "/versions.json") << "{not json";
  EXPECT_TRUE(absl::IsDataLoss(ReadLifecycleState(dir_).status()));

  EXPECT_EQ(ReadPin(dir_), 0);
  ASSERT_TRUE(WritePin(dir_, 3).ok());
  EXPECT_EQ(ReadPin(dir_), 3);
  ASSERT_TRUE(WritePin(dir_, 0).ok());
  EXPECT_EQ(ReadPin(dir_), 0);
}

}  // namespace
}  // namespace mliot
