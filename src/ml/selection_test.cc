#include "ml/selection.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A hand-made zoo; indices are the positions in this list.
std::vector<Candidate> Zoo() {
  return {
      {.kind = "logreg", .val_accuracy = 0.82, .latency_ms = 0.05},  // 0
      {.kind = "rf", .val_accuracy = 0.91, .latency_ms = 0.40},      // 1
      {.kind = "xgb", .val_accuracy = 0.93, .latency_ms = 0.30},     // 2
      {.kind = "knn", .val_accuracy = 0.78, .latency_ms = 0.02},     // 3
      {.kind = "mlp", .val_accuracy = 0.90, .latency_ms = 0.20},     // 4
      {.kind = "svm", .val_accuracy = 0.85, .latency_ms = 0.10},     // 5
      {.kind = "nb", .val_accuracy = 0.70, .latency_ms = 0.01},      // 6
  };
}

// Parses `policy` (which must be valid) and names the chosen kinds in order.
std::vector<std::string> SelectKinds(const std::string& policy,
                                     const std::vector<Candidate>& candidates) {
  absl::StatusOr<SelectionPolicy> parsed = SelectionPolicy::Parse(policy);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  std::vector<std::string> kinds;
  for (int i : parsed->Select(candidates)) kinds.push_back(candidates[i].kind);
  return kinds;
}

TEST(SelectionPolicyTest, GoodTextsParse) {
  for (const char* text : {
           "all",
           "  all  ",
           "top_accuracy(3)",
           " top_accuracy ( 3 ) ",
           "lowest_latency(1)",
           "min_accuracy(0)",
           "min_accuracy(1)",
           "min_accuracy(.8)",
           "min_accuracy(8e-1)",
           "max_latency_ms(0.5)",
           "max_latency_ms(250)",
           "min_accuracy(0.8) and lowest_latency(3)",
           "min_accuracy(0.8)and lowest_latency(3)",
           "\tmin_accuracy(0.8)\nand\r\nlowest_latency(3)\n",
           "all and top_accuracy(2) and all",
           "atleast_accuracy(0.9) and atmost_latency_ms(1)",
       }) {
    absl::StatusOr<SelectionPolicy> policy = SelectionPolicy::Parse(text);
    ASSERT_TRUE(policy.ok()) << "'" << text << "': " << policy.status();
    EXPECT_EQ(policy->text(), text);
  }
}

TEST(SelectionPolicyTest, IssueExampleKeepsTheThreeFastestAccurateOnes) {
  // Accurate enough: logreg, rf, xgb, mlp, svm; fastest three of those:
  // logreg (0.05), svm (0.10), mlp (0.20); reported by accuracy.
  EXPECT_THAT(SelectKinds("min_accuracy(0.8) and lowest_latency(3)", Zoo()),
              ElementsAre("mlp", "svm", "logreg"));
}

TEST(SelectionPolicyTest, WhitespaceDoesNotChangeTheSelection) {
  EXPECT_EQ(SelectKinds(" min_accuracy ( 0.8 )\n and\tlowest_latency( 3 ) ", Zoo()),
            SelectKinds("min_accuracy(0.8) and lowest_latency(3)", Zoo()));
}

TEST(SelectionPolicyTest, OrderOfClausesMatters) {
  // The two fastest (nb, knn) are both below 0.9: nothing is left.
  EXPECT_THAT(SelectKinds("lowest_latency(2) and min_accuracy(0.9)", Zoo()), IsEmpty());
  // Of rf, xgb, mlp (>= 0.9) the two fastest are mlp and xgb.
  EXPECT_THAT(SelectKinds("min_accuracy(0.9) and lowest_latency(2)", Zoo()),
              ElementsAre("xgb", "mlp"));

  EXPECT_THAT(SelectKinds("lowest_latency(4) and min_accuracy(0.8)", Zoo()),
              ElementsAre("svm", "logreg"));
  EXPECT_THAT(SelectKinds("min_accuracy(0.8) and lowest_latency(4)", Zoo()),
              ElementsAre("xgb", "mlp", "svm", "logreg"));
}

TEST(SelectionPolicyTest, EachFunctionAlone) {
  EXPECT_THAT(SelectKinds("all", Zoo()),
              ElementsAre("xgb", "rf", "mlp", "svm", "logreg", "knn", "nb"));
  EXPECT_THAT(SelectKinds("top_accuracy(2)", Zoo()), ElementsAre("xgb", "rf"));
  EXPECT_THAT(SelectKinds("lowest_latency(3)", Zoo()), ElementsAre("logreg", "knn", "nb"));
  EXPECT_THAT(SelectKinds("min_accuracy(0.9)", Zoo()), ElementsAre("xgb", "rf", "mlp"));
  EXPECT_THAT(SelectKinds("max_latency_ms(0.1)", Zoo()), ElementsAre("svm", "logreg", "knn", "nb"));
  // within(d) is relative to the best of the current set.
  EXPECT_THAT(SelectKinds("within(0.03)", Zoo()), ElementsAre("xgb", "rf", "mlp"));
  EXPECT_THAT(SelectKinds("max_latency_ms(0.1) and within(0.05)", Zoo()),
              ElementsAre("svm", "logreg"));
  // Without an ensemble score greedy(k) falls back to top_accuracy(k).
  EXPECT_THAT(SelectKinds("greedy(2)", Zoo()), ElementsAre("xgb", "rf"));
}

TEST(SelectionPolicyTest, GreedyAddsOnlyMembersThatRaiseTheEnsembleScore) {
  const std::vector<Candidate> zoo = Zoo();
  auto policy = SelectionPolicy::Parse("greedy(4)");
  ASSERT_TRUE(policy.ok());
  // A made-up ensemble score: xgb alone 0.93; xgb + svm 0.95 (complementary);
  // anything with rf 0.90; every further addition lowers the score.
  auto score = [&](const std::vector<int>& members) {
    std::vector<std::string> kinds;
    for (int i : members) kinds.push_back(zoo[i].kind);
    std::sort(kinds.begin(), kinds.end());
    if (kinds == std::vector<std::string>{"xgb"}) return 0.93;
    if (kinds == std::vector<std::string>{"svm", "xgb"}) return 0.95;
    if (std::find(kinds.begin(), kinds.end(), "rf") != kinds.end()) return 0.90;
    if (kinds.size() == 1) return zoo[members[0]].val_accuracy;
    return 0.94 - 0.01 * static_cast<double>(kinds.size());
  };
  std::vector<std::string> kinds;
  for (int i : policy->Select(zoo, score)) kinds.push_back(zoo[i].kind);
  EXPECT_THAT(kinds, ElementsAre("xgb", "svm"));
}

TEST(SelectionPolicyTest, ThresholdsAreInclusive) {
  EXPECT_THAT(SelectKinds("min_accuracy(0.82)", Zoo()),
              ElementsAre("xgb", "rf", "mlp", "svm", "logreg"));
  EXPECT_THAT(SelectKinds("max_latency_ms(0.05)", Zoo()), ElementsAre("logreg", "knn", "nb"));
}

TEST(SelectionPolicyTest, PaperSynonymsMeanTheSameAsTheShortNames) {
  EXPECT_EQ(SelectKinds("atleast_accuracy(0.85) and atmost_latency_ms(0.35)", Zoo()),
            SelectKinds("min_accuracy(0.85) and max_latency_ms(0.35)", Zoo()));
  EXPECT_THAT(SelectKinds("atleast_accuracy(0.85) and atmost_latency_ms(0.35)", Zoo()),
              ElementsAre("xgb", "mlp", "svm"));
}

TEST(SelectionPolicyTest, EmptyResultIsPossible) {
  EXPECT_THAT(SelectKinds("min_accuracy(0.99)", Zoo()), IsEmpty());
  EXPECT_THAT(SelectKinds("max_latency_ms(0.001)", Zoo()), IsEmpty());
  EXPECT_THAT(SelectKinds("all", {}), IsEmpty());
  EXPECT_THAT(SelectKinds("top_accuracy(3)", {}), IsEmpty());
}

TEST(SelectionPolicyTest, KLargerThanTheSetKeepsEverything) {
  EXPECT_THAT(SelectKinds("min_accuracy(0.9) and top_accuracy(100)", Zoo()),
              ElementsAre("xgb", "rf", "mlp"));
  EXPECT_THAT(SelectKinds("lowest_latency(2147483647)", Zoo()), SizeIs(7));
}

TEST(SelectionPolicyTest, TopAccuracyBreaksTiesByLatencyThenIndex) {
  const std::vector<Candidate> c = {
      {.kind = "a", .val_accuracy = 0.9, .latency_ms = 2},
      {.kind = "b", .val_accuracy = 0.9, .latency_ms = 1},
      {.kind = "c", .val_accuracy = 0.9, .latency_ms = 1},
      {.kind = "d", .val_accuracy = 0.8, .latency_ms = 0.1},
  };
  EXPECT_THAT(SelectKinds("top_accuracy(1)", c), ElementsAre("b"));
  EXPECT_THAT(SelectKinds("top_accuracy(2)", c), ElementsAre("b", "c"));
  EXPECT_THAT(SelectKinds("top_accuracy(3)", c), ElementsAre("b", "c", "a"));
}

TEST(SelectionPolicyTest, LowestLatencyBreaksTiesByAccuracyThenIndex) {
  const std::vector<Candidate> c = {
      {.kind = "a", .val_accuracy = 0.7, .latency_ms = 1},
      {.kind = "b", .val_accuracy = 0.8, .latency_ms = 1},
      {.kind = "c", .val_accuracy = 0.8, .latency_ms = 1},
      {.kind = "d", .val_accuracy = 0.99, .latency_ms = 5},
  };
  EXPECT_THAT(SelectKinds("lowest_latency(1)", c), ElementsAre("b"));
  EXPECT_THAT(SelectKinds("lowest_latency(2)", c), ElementsAre("b", "c"));
  // The final order is by accuracy: d is dropped, a comes last.
  EXPECT_THAT(SelectKinds("lowest_latency(3)", c), ElementsAre("b", "c", "a"));
}

TEST(SelectionPolicyTest, NanMetricsFailThresholdsAndRankLast) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Candidate> c = {
      {.kind = "nan_acc", .val_accuracy = nan, .latency_ms = 0.1},
      {.kind = "ok", .val_accuracy = 0.8, .latency_ms = 1},
      {.kind = "nan_lat", .val_accuracy = 0.9, .latency_ms = nan},
  };
  EXPECT_THAT(SelectKinds("all", c), ElementsAre("nan_lat", "ok", "nan_acc"));
  EXPECT_THAT(SelectKinds("min_accuracy(0)", c), ElementsAre("nan_lat", "ok"));
  EXPECT_THAT(SelectKinds("max_latency_ms(100)", c), ElementsAre("ok", "nan_acc"));
  EXPECT_THAT(SelectKinds("lowest_latency(2)", c), ElementsAre("ok", "nan_acc"));
}

TEST(SelectionPolicyTest, SelectCanRunRepeatedly) {
  absl::StatusOr<SelectionPolicy> policy = SelectionPolicy::Parse("top_accuracy(2)");
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::vector<Candidate> zoo = Zoo();
  EXPECT_THAT(policy->Select(zoo), ElementsAre(2, 1));
  zoo.push_back({.kind = "late_winner", .val_accuracy = 0.97, .latency_ms = 3});
  EXPECT_THAT(policy->Select(zoo), ElementsAre(7, 2));
}

struct BadPolicy {
  std::string text;
  std::string error;
};

constexpr char kKnown[] = "known: top_accuracy, lowest_latency, min_accuracy, max_latency_ms, within, greedy, all";
constexpr char kUseAnd[] =
    "clauses are combined with 'and', e.g. 'min_accuracy(0.8) and lowest_latency(3)'";

TEST(SelectionPolicyTest, BadTextsAreInvalidArgumentWithOneLinePointingAtTheToken) {
  const std::vector<BadPolicy> cases = {
      // Unknown names.
      {"top_acuracy(3)",
       std::string("policy 'top_acuracy(3)': unknown function 'top_acuracy' at column 1; ") +
           kKnown},
      {"all and latency(3)",
       std::string("policy 'all and latency(3)': unknown function 'latency' at column 9; ") +
           kKnown},
      {"Top_Accuracy(3)",
       std::string("policy 'Top_Accuracy(3)': unknown function 'Top_Accuracy' at column 1; ") +
           kKnown + " (names are case-sensitive: did you mean 'top_accuracy'?)"},
      {"(3)", "policy '(3)': expected a function name, got '(' at column 1"},
      {"top_accuracy(3) and 42",
       "policy 'top_accuracy(3) and 42': expected a function name, got '42' at column 21"},
      // Bad arguments.
      {"top_accuracy(0)",
       "policy 'top_accuracy(0)': top_accuracy needs an integer >= 1, got '0' at column 14"},
      {"top_accuracy(2.5)",
       "policy 'top_accuracy(2.5)': top_accuracy needs an integer >= 1, got '2.5' at column 14"},
      {"top_accuracy( -1 )",
       "policy 'top_accuracy( -1 )': top_accuracy needs an integer >= 1, got '-1' at column 15"},
      {"top_accuracy(99999999999)",
       "policy 'top_accuracy(99999999999)': top_accuracy needs an integer >= 1, "
       "got '99999999999' at column 14"},
      {"lowest_latency(x)",
       "policy 'lowest_latency(x)': lowest_latency needs an integer >= 1, got 'x' at column 16"},
      {"top_accuracy()",
       "policy 'top_accuracy()': top_accuracy needs an integer >= 1, got ')' at column 14"},
      {"top_accuracy(",
       "policy 'top_accuracy(': top_accuracy needs an integer >= 1, "
       "got end of policy at column 14"},
      {"min_accuracy(1.5)",
       "policy 'min_accuracy(1.5)': min_accuracy needs a number between 0 and 1, "
       "got '1.5' at column 14"},
      {"min_accuracy(80)",
       "policy 'min_accuracy(80)': min_accuracy needs a number between 0 and 1, "
       "got '80' at column 14"},
      {"min_accuracy(nan)",
       "policy 'min_accuracy(nan)': min_accuracy needs a number between 0 and 1, "
       "got 'nan' at column 14"},
      {"atleast_accuracy(-0.1)",
       "policy 'atleast_accuracy(-0.1)': atleast_accuracy needs a number between 0 and 1, "
       "got '-0.1' at column 18"},
      {"max_latency_ms(0)",
       "policy 'max_latency_ms(0)': max_latency_ms needs a number > 0, got '0' at column 16"},
      {"max_latency_ms(5ms)",
       "policy 'max_latency_ms(5ms)': max_latency_ms needs a number > 0, got '5ms' at column 16"},
      {"max_latency_ms(inf)",
       "policy 'max_latency_ms(inf)': max_latency_ms needs a number > 0, got 'inf' at column 16"},
      {"all(3)", "policy 'all(3)': all takes no argument, got '(' at column 4"},
      // Missing parentheses.
      {"top_accuracy",
       "policy 'top_accuracy': expected '(' after 'top_accuracy', got end of policy at column 13"},
      {"top_accuracy 3",
       "policy 'top_accuracy 3': expected '(' after 'top_accuracy', got '3' at column 14"},
      {"top_accuracy(3",
       "policy 'top_accuracy(3': expected ')' after the argument of top_accuracy, "
       "got end of policy at column 15"},
      {"top_accuracy(3 4)",
       "policy 'top_accuracy(3 4)': expected ')' after the argument of top_accuracy, "
       "got '4' at column 16"},
      {"top_accuracy(3,4)",
       "policy 'top_accuracy(3,4)': expected ')' after the argument of top_accuracy, "
       "got ',' at column 15"},
      // Empty policy, dangling or doubled 'and'.
      {"",
       "policy '': empty policy at column 1; expected a clause, e.g. "
       "'min_accuracy(0.8) and lowest_latency(3)'"},
      {"   ",
       "policy '   ': empty policy at column 4; expected a clause, e.g. "
       "'min_accuracy(0.8) and lowest_latency(3)'"},
      {"all and", "policy 'all and': nothing after 'and' at column 5; expected a clause"},
      {"top_accuracy(3) and  ",
       "policy 'top_accuracy(3) and  ': nothing after 'and' at column 17; expected a clause"},
      {"and all", "policy 'and all': expected a clause before 'and' at column 1"},
      {"all and and all", "policy 'all and and all': expected a clause before 'and' at column 9"},
      // 'or' is not supported.
      {"top_accuracy(3) or all",
       std::string("policy 'top_accuracy(3) or all': 'or' at column 17 is not supported; ") +
           kUseAnd},
      {"or all", std::string("policy 'or all': 'or' at column 1 is not supported; ") + kUseAnd},
      {"all and or",
       std::string("policy 'all and or': 'or' at column 9 is not supported; ") + kUseAnd},
      // Trailing junk.
      {"top_accuracy(3))",
       "policy 'top_accuracy(3))': unexpected ')' at column 16; expected 'and' or end of policy"},
      {"top_accuracy(3) min_accuracy(0.5)",
       "policy 'top_accuracy(3) min_accuracy(0.5)': unexpected 'min_accuracy' at column 17; "
       "expected 'and' or end of policy"},
      {"all AND all",
       "policy 'all AND all': unexpected 'AND' at column 5; expected 'and' or end of policy"},
      {"all || all",
       "policy 'all || all': unexpected '|' at column 5; expected 'and' or end of policy"},
      // Control characters do not break the message onto several lines.
      {"top_accuracy(3)\nand\n",
       "policy 'top_accuracy(3) and ': nothing after 'and' at column 17; expected a clause"},
      {"all\x01", "policy 'all?': unexpected '?' at column 4; expected 'and' or end of policy"},
  };
  for (const BadPolicy& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<SelectionPolicy> policy = SelectionPolicy::Parse(c.text);
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(policy.status().message(), c.error);
    EXPECT_EQ(policy.status().message().find('\n'), absl::string_view::npos);
  }
}

}  // namespace
}  // namespace mliot
