#include "data/dataset.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A dataset with `cols` columns where row i has features {i, i+0.5, ...} and
// label labels[i].
Dataset MakeDataset(const std::vector<int32_t>& labels, std::vector<std::string> class_names,
                    int64_t cols = 2) {
  Dataset ds;
  ds.rows = static_cast<int64_t>(labels.size());
  ds.cols = cols;
  ds.labels = labels;
  ds.class_names = std::move(class_names);
  ds.source = "test";
  for (int64_t i = 0; i < ds.rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) ds.features.push_back(static_cast<float>(i) + 0.5f * j);
  }
  return ds;
}

// `per_class[c]` rows of class c, classes interleaved.
Dataset MakeImbalanced(const std::vector<int>& per_class) {
  std::vector<int32_t> labels;
  std::vector<std::string> names;
  for (size_t c = 0; c < per_class.size(); ++c) names.push_back("c" + std::to_string(c));
  std::vector<int> left = per_class;
  bool any = true;
  while (any) {
    any = false;
    for (size_t c = 0; c < left.size(); ++c) {
      if (left[c] > 0) {
        labels.push_back(static_cast<int32_t>(c));
        --left[c];
        any = true;
      }
    }
  }
  return MakeDataset(labels, names);
}

TEST(DatasetTest, SubsetKeepsOrderClassesAndShape) {
  Dataset ds = MakeDataset({0, 1, 0, 1}, {"a", "b"}, 4);
  ds.shape = ImageShape{2, 2};
  ds.feature_names = {"f0", "f1", "f2", "f3"};
  const std::vector<int64_t> idx = {3, 0, 3};
  Dataset sub = ds.Subset(idx);
  EXPECT_EQ(sub.rows, 3);
  EXPECT_EQ(sub.cols, 4);
  EXPECT_THAT(sub.labels, ElementsAre(1, 0, 1));
  EXPECT_EQ(sub.class_names, ds.class_names);
  EXPECT_EQ(sub.feature_names, ds.feature_names);
  ASSERT_TRUE(sub.shape.has_value());
  EXPECT_EQ(*sub.shape, (ImageShape{2, 2}));
  ASSERT_EQ(sub.features.size(), 12u);
  EXPECT_THAT(sub.row_span(0), ElementsAre(3.0f, 3.5f, 4.0f, 4.5f));
  EXPECT_THAT(sub.row_span(1), ElementsAre(0.0f, 0.5f, 1.0f, 1.5f));
  EXPECT_THAT(sub.row_span(2), ElementsAre(3.0f, 3.5f, 4.0f, 4.5f));
  EXPECT_TRUE(sub.Validate().ok());
}

TEST(DatasetTest, SubsetOfNothingIsEmpty) {
  Dataset ds = MakeDataset({0, 1}, {"a", "b"});
  Dataset sub = ds.Subset({});
  EXPECT_EQ(sub.rows, 0);
  EXPECT_TRUE(sub.features.empty());
  EXPECT_TRUE(sub.labels.empty());
  EXPECT_EQ(sub.class_names, ds.class_names);
}

TEST(DatasetTest, AppendRemapsClassesByNameAndAddsNewOnes) {
  Dataset a = MakeDataset({0, 1}, {"cat", "dog"});
  // In `b`, "dog" is class 0, "cat" class 1, and "bird" is new.
  Dataset b = MakeDataset({0, 1, 2, -1}, {"dog", "cat", "bird"});
  ASSERT_TRUE(a.Append(b).ok());
  EXPECT_EQ(a.rows, 6);
  EXPECT_EQ(a.features.size(), 12u);
  EXPECT_THAT(a.class_names, ElementsAre("cat", "dog", "bird"));
  EXPECT_THAT(a.labels, ElementsAre(0, 1, 1, 0, 2, -1));
  // The appended rows come after the originals, unchanged.
  EXPECT_THAT(a.row_span(2), ElementsAre(0.0f, 0.5f));
  EXPECT_THAT(a.row_span(5), ElementsAre(3.0f, 3.5f));
  EXPECT_TRUE(a.Validate().ok());
}

TEST(DatasetTest, AppendToEmptyAdoptsColumnsAndShape) {
  Dataset empty;
  Dataset b = MakeDataset({1, 0}, {"x", "y"}, 4);
  b.shape = ImageShape{2, 2};
  b.feature_names = {"p", "q", "r", "s"};
  ASSERT_TRUE(empty.Append(b).ok());
  EXPECT_EQ(empty.rows, 2);
  EXPECT_EQ(empty.cols, 4);
  EXPECT_EQ(empty.shape, b.shape);
  EXPECT_EQ(empty.feature_names, b.feature_names);
  EXPECT_THAT(empty.class_names, ElementsAre("x", "y"));
  EXPECT_THAT(empty.labels, ElementsAre(1, 0));
}

TEST(DatasetTest, AppendEmptyIsNoOp) {
  Dataset a = MakeDataset({0, 1}, {"a", "b"});
  Dataset empty;
  empty.cols = 7;
  ASSERT_TRUE(a.Append(empty).ok());
  EXPECT_EQ(a.rows, 2);
  EXPECT_EQ(a.cols, 2);
}

TEST(DatasetTest, AppendColumnMismatchIsErrorAndLeavesDataAlone) {
  Dataset a = MakeDataset({0, 1}, {"a", "b"}, 2);
  Dataset b = MakeDataset({0}, {"a"}, 3);
  b.source = "other.csv";
  absl::Status status = a.Append(b);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("other.csv"));
  EXPECT_THAT(status.message(), HasSubstr("3 features, expected 2"));
  EXPECT_EQ(a.rows, 2);
  EXPECT_EQ(a.features.size(), 4u);
  EXPECT_EQ(a.labels.size(), 2u);
}

TEST(DatasetTest, ClassCountsIgnoresUnlabelledRows) {
  Dataset ds = MakeDataset({0, 2, 2, -1, 2, 0}, {"a", "b", "c"});
  EXPECT_THAT(ds.ClassCounts(), ElementsAre(2, 0, 3));
}

TEST(DatasetTest, ValidateCatchesBrokenInvariants) {
  Dataset ds = MakeDataset({0, 1}, {"a", "b"});
  EXPECT_TRUE(ds.Validate().ok());
  Dataset bad_label = ds;
  bad_label.labels[1] = 2;
  EXPECT_FALSE(bad_label.Validate().ok());
  Dataset bad_size = ds;
  bad_size.features.pop_back();
  EXPECT_FALSE(bad_size.Validate().ok());
  Dataset bad_shape = ds;
  bad_shape.shape = ImageShape{3, 3};
  EXPECT_FALSE(bad_shape.Validate().ok());
  Dataset no_cols;
  no_cols.source = "nothing.csv";
  EXPECT_THAT(no_cols.Validate().message(), HasSubstr("nothing.csv"));
}

TEST(RemapLabelsTest, MapsByNameAndMarksUnknown) {
  Dataset ds = MakeDataset({0, 1, 2, -1, 1}, {"a", "b", "c"});
  const int64_t unknown = RemapLabels(ds, {"c", "a", "z"});
  // "b" is unknown (2 rows), plus the row that was already unlabelled.
  EXPECT_EQ(unknown, 3);
  EXPECT_THAT(ds.labels, ElementsAre(1, -1, 0, -1, -1));
  EXPECT_THAT(ds.class_names, ElementsAre("c", "a", "z"));
  EXPECT_TRUE(ds.Validate().ok());
}

TEST(RemapLabelsTest, IdentityMappingChangesNothing) {
  Dataset ds = MakeDataset({0, 1, 1}, {"a", "b"});
  EXPECT_EQ(RemapLabels(ds, {"a", "b"}), 0);
  EXPECT_THAT(ds.labels, ElementsAre(0, 1, 1));
}

TEST(StratifiedSplitTest, DisjointCompleteAndStratified) {
  Dataset ds = MakeImbalanced({100, 40, 10});
  auto [first, second] = StratifiedSplit(ds, 0.2, 7);
  EXPECT_EQ(first.size() + second.size(), 150u);
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
  EXPECT_TRUE(std::is_sorted(second.begin(), second.end()));
  std::set<int64_t> all(first.begin(), first.end());
  for (int64_t i : second) EXPECT_TRUE(all.insert(i).second) << "row " << i << " on both sides";
  EXPECT_EQ(all.size(), 150u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 149);

  Dataset second_set = ds.Subset(second);
  EXPECT_THAT(second_set.ClassCounts(), ElementsAre(20, 8, 2));
  Dataset first_set = ds.Subset(first);
  EXPECT_THAT(first_set.ClassCounts(), ElementsAre(80, 32, 8));
}

TEST(StratifiedSplitTest, SmallClassesKeepOneRowOnEachSide) {
  // Class sizes 2, 3 and 50; class 3 has a single row and stays on the first side.
  Dataset ds = MakeImbalanced({2, 3, 50, 1});
  for (double fraction : {0.01, 0.1, 0.5, 0.9, 0.99}) {
    auto [first, second] = StratifiedSplit(ds, fraction, 1);
    const auto first_counts = ds.Subset(first).ClassCounts();
    const auto second_counts = ds.Subset(second).ClassCounts();
    for (int c = 0; c < 3; ++c) {
      EXPECT_GE(first_counts[c], 1) << "class " << c << " fraction " << fraction;
      EXPECT_GE(second_counts[c], 1) << "class " << c << " fraction " << fraction;
    }
    EXPECT_EQ(first_counts[3], 1) << fraction;
    EXPECT_EQ(second_counts[3], 0) << fraction;
  }
}

TEST(StratifiedSplitTest, DeterministicPerSeed) {
  Dataset ds = MakeImbalanced({60, 60});
  auto a = StratifiedSplit(ds, 0.25, 42);
  auto b = StratifiedSplit(ds, 0.25, 42);
  auto c = StratifiedSplit(ds, 0.25, 43);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_EQ(a.second.size(), 30u);
  EXPECT_EQ(c.second.size(), 30u);
  EXPECT_NE(a.second, c.second);  // 1 in C(60,15)^2 to collide
}

TEST(StratifiedFoldsTest, BalancedPerClassAndOverall) {
  Dataset ds = MakeImbalanced({53, 21, 7});
  const int k = 5;
  const std::vector<int> fold = StratifiedFolds(ds, k, 3);
  ASSERT_EQ(fold.size(), static_cast<size_t>(ds.rows));
  std::vector<std::vector<int>> counts(3, std::vector<int>(k, 0));
  std::vector<int> totals(k, 0);
  for (int64_t i = 0; i < ds.rows; ++i) {
    ASSERT_GE(fold[i], 0);
    ASSERT_LT(fold[i], k);
    ++counts[ds.labels[i]][fold[i]];
    ++totals[fold[i]];
  }
  for (int c = 0; c < 3; ++c) {
    const auto [lo, hi] = std::minmax_element(counts[c].begin(), counts[c].end());
    EXPECT_LE(*hi - *lo, 1) << "class " << c;
  }
  const auto [lo, hi] = std::minmax_element(totals.begin(), totals.end());
  EXPECT_LE(*hi - *lo, 1);
  EXPECT_EQ(StratifiedFolds(ds, k, 3), fold);
}

}  // namespace
}  // namespace mliot
