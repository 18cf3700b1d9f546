#include "coord/policy.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::HasSubstr;

constexpr char kKnown[] =
    "cores, memory_mb, gpu, arch, rtt_ms, cpu, mem, load, free_cpu, latency_ms, train_s, tasks, "
    "alive, labels.<name>";

// A 4-core ARM hub on the local network.
NodeView Hub() {
  NodeView n;
  n.name = "hub";
  n.cores = 4;
  n.memory_mb = 4096;
  n.gpu = false;
  n.arch = "arm64";
  n.rtt_ms = 3;
  n.labels = std::make_shared<const NodeLabels>(
      NodeLabels{{"locality", "local"}, {"floor", "2"}, {"trusted", "true"}, {"off", "false"}});
  n.cpu = 25;
  n.mem = 50;
  n.load = 1.5;
  n.free_cpu = 3;
  n.tasks = 2;
  n.latency_ms = 3.3;
  n.train_s = 60;
  return n;
}

bool Eval(const std::string& text, const NodeView& node) {
  absl::StatusOr<RequireExpr> expr = RequireExpr::Parse(text);
  EXPECT_TRUE(expr.ok()) << expr.status();
  return expr.ok() && expr->Matches(node);
}

std::string Why(const std::string& text, const NodeView& node) {
  absl::StatusOr<RequireExpr> expr = RequireExpr::Parse(text);
  EXPECT_TRUE(expr.ok()) << expr.status();
  if (!expr.ok()) return "";
  std::string why;
  EXPECT_FALSE(expr->Matches(node, &why)) << text;
  return why;
}

TEST(RequireExprTest, ParsesEveryPolicyFromThePaper) {
  const char* kGood[] = {
      "",
      "   ",
      "cores > 4",
      "cores >= 4",
      "cores < 4",
      "cores <= 4",
      "cores == 4",
      "cores != 4",
      "cores atleast 4",                           // Threshold: Atleast
      "memory_mb atmost 8192",                     // Threshold: Atmost
      "arch equal 'arm64'",                        // Threshold: Equal
      "latency_ms <= 40",                          // Threshold on a prediction
      "gpu == true or cores atleast 8",            // GPU-CPU
      "locality == 'local' and latency_ms <= 40",  // Locality + And-Or
      "labels.room == \"kitchen\" and (mem < 80 or free_cpu >= 0.5)",
      "cores atleast 4 or not gpu",
      "not not alive",
      "trusted",
      "(cores > 4) == true",
      "(cores) >= 4",
      "cores >= 1.5e1",
      "rtt_ms > -1",
      "locality == labels.zone",
      "labels.floor >= 2",
      "train_s < 600 and tasks < 3 and load < 2 and cpu < 90",
  };
  for (const char* text : kGood) {
    absl::StatusOr<RequireExpr> expr = RequireExpr::Parse(text);
    EXPECT_TRUE(expr.ok()) << text << ": " << expr.status();
    if (expr.ok()) {
      EXPECT_EQ(expr->text(), text);
    }
  }
}

struct BadText {
  std::string text;
  std::string message;
};

TEST(RequireExprTest, RejectsBadTextNamingTheColumn) {
  const std::vector<BadText> kBad = {
      {"cores >> 4", "unexpected '>' at column 8"},
      {"foo.bar == 1", std::string("unknown name 'foo.bar' at column 1; known: ") + kKnown},
      {"cores.x > 1", std::string("unknown name 'cores.x' at column 1; known: ") + kKnown},
      {"cores >", "unexpected end of text at column 8"},
      {"cores atleast", "unexpected end of text at column 14"},
      {"cores > 4 and", "unexpected end of text at column 14"},
      {"cores > 4 gpu", "unexpected 'gpu' at column 11"},
      {"cores < 4 < 8", "unexpected '<' at column 11"},
      {"cores > 4)", "unexpected ')' at column 10"},
      {"()", "unexpected ')' at column 2"},
      {"and gpu", "unexpected 'and' at column 1"},
      {"(cores > 4", "unexpected end of text at column 11; expected ')' to close '(' at column 1"},
      {"(cores > 4 gpu)", "unexpected 'gpu' at column 12; expected ')' to close '(' at column 1"},
      {"cores == 'four'", "cannot compare number cores with string 'four' at column 7"},
      {"arch == 3", "cannot compare string arch with number 3 at column 6"},
      {"gpu == 1", "cannot compare boolean gpu with number 1 at column 5"},
      {"gpu < true", "cannot order booleans with '<' at column 5"},
      {"(cores > 4) > 1", "cannot order booleans with '>' at column 13"},
      {"cores", "expected a condition, got number cores at column 1"},
      {"'local'", "expected a condition, got string 'local' at column 1"},
      {"gpu and 4", "expected a condition, got number 4 at column 9"},
      {"not cores", "expected a condition, got number cores at column 5"},
      {"locality = 'local'", "unexpected '=' at column 10; use '=='"},
      {"gpu && alive", "unexpected '&&' at column 5; use 'and'"},
      {"gpu || alive", "unexpected '||' at column 5; use 'or'"},
      {"!gpu", "unexpected '!' at column 1; use 'not' or '!='"},
      {"locality == 'local", "unterminated string at column 13"},
      {"latency_ms <= 40ms", "bad number '40ms' at column 15"},
      {"1.2.3 > 1", "bad number '1.2.3' at column 1"},
      {"labels == 'x'", "'labels' needs a label name, e.g. labels.locality, at column 1"},
      {"labels. == 'x'", "expected a name after '.' at column 7"},
      {"cores > 4 $", "unexpected '$' at column 11"},
      {"gpu \xC3\xA9", "unexpected '\xC3\xA9' at column 5"},
  };
  for (const BadText& bad : kBad) {
    absl::StatusOr<RequireExpr> expr = RequireExpr::Parse(bad.text);
    ASSERT_FALSE(expr.ok()) << bad.text;
    EXPECT_EQ(expr.status().code(), absl::StatusCode::kInvalidArgument) << bad.text;
    EXPECT_EQ(std::string(expr.status().message()), "require '" + bad.text + "': " + bad.message);
  }
}

TEST(RequireExprTest, ErrorIsOneLineWithColumnsUnchanged) {
  absl::StatusOr<RequireExpr> expr = RequireExpr::Parse("cores\n>> 4");
  ASSERT_FALSE(expr.ok());
  EXPECT_EQ(std::string(expr.status().message()),
            "require 'cores >> 4': unexpected '>' at column 8");
  // Found by fuzzing: a string token quoted in the message kept its newline.
  expr = RequireExpr::Parse("cores == 'a\nb'");
  ASSERT_FALSE(expr.ok());
  EXPECT_EQ(std::string(expr.status().message()),
            "require 'cores == 'a b'': cannot compare number cores with string 'a b' at column 7");
}

TEST(RequireExprTest, DeepNestingIsAnErrorNotACrash) {
  const std::string parens = std::string(100, '(') + "gpu" + std::string(100, ')');
  absl::StatusOr<RequireExpr> expr = RequireExpr::Parse(parens);
  ASSERT_FALSE(expr.ok());
  EXPECT_THAT(std::string(expr.status().message()),
              HasSubstr("nested deeper than 64 at column 65"));

  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "not ";
  expr = RequireExpr::Parse(nots + "gpu");
  ASSERT_FALSE(expr.ok());
  EXPECT_THAT(std::string(expr.status().message()),
              HasSubstr("nested deeper than 64 at column 257"));

  // Long flat chains are fine: and/or do not nest.
  std::string chain = "alive";
  for (int i = 0; i < 5000; ++i) chain += " and cores > 1";
  expr = RequireExpr::Parse(chain);
  ASSERT_TRUE(expr.ok()) << expr.status();
  EXPECT_TRUE(expr->Matches(Hub()));
}

struct Case {
  std::string text;
  bool expected;
};

TEST(RequireExprTest, EvaluatesAgainstANode) {
  const NodeView hub = Hub();
  const std::vector<Case> kCases = {
      {"", true},
      {"cores > 3", true},
      {"cores > 4", false},
      {"cores >= 4", true},
      {"cores < 4", false},
      {"cores <= 4", true},
      {"cores == 4", true},
      {"cores != 4", false},
      {"cores atleast 4", true},
      {"cores atmost 3", false},
      {"cores equal 4", true},
      {"memory_mb >= 4096 and rtt_ms < 5 and free_cpu >= 0.5", true},
      {"latency_ms <= 40", true},
      {"train_s < 60", false},
      {"tasks == 2", true},
      {"load > 1.25", true},
      {"cpu < mem", true},
      {"arch == 'arm64'", true},
      {"arch == \"arm64\"", true},
      {"arch < 'b'", true},  // strings order as strings
      {"gpu == false", true},
      {"gpu", false},
      {"not gpu", true},
      {"alive", true},
      {"not not alive", true},
      {"true", true},
      {"false", false},
      // Labels: bare names and labels.<name> are the same lookup.
      {"locality == 'local'", true},
      {"labels.locality == 'local'", true},
      {"locality equal 'cloud'", false},
      {"locality == labels.locality", true},
      // A missing label is "" as a string and false as a condition.
      {"room == ''", true},
      {"room", false},
      {"not room", true},
      {"room == false", true},
      {"trusted", true},
      {"off", false},
      {"trusted == true", true},
      // A label compared with a number must hold one.
      {"floor >= 2", true},
      {"floor < 2", false},
      {"locality > 1", false},
      {"locality != 1", false},
      {"room != 1", false},
      // And-Or, GPU-CPU, parentheses.
      {"gpu == true or cores atleast 4", true},
      {"gpu == true or cores atleast 8", false},
      {"(cores > 2 and mem < 80) or gpu", true},
      {"cores > 2 and (mem > 80 or gpu)", false},
      {"not (cores > 2 and gpu)", true},
      {"(cores) >= 4", true},
      {"(cores > 2) == true", true},
      {"gpu == (cores > 8)", true},
  };
  for (const Case& c : kCases) EXPECT_EQ(Eval(c.text, hub), c.expected) << c.text;
}

TEST(RequireExprTest, ReasonNamesTheFailingComparisonWithTheActualValue) {
  NodeView hub = Hub();
  hub.latency_ms = 87.3;
  EXPECT_EQ(Why("latency_ms <= 40", hub), "latency_ms 87.3 > 40");
  EXPECT_EQ(Why("cores atleast 8", hub), "cores 4 < 8");
  EXPECT_EQ(Why("memory_mb > 5000.5", hub), "memory_mb 4096 <= 5000.5");
  EXPECT_EQ(Why("load > 2", hub), "load 1.5 <= 2");
  EXPECT_EQ(Why("locality == 'cloud'", hub), "locality 'local' != 'cloud'");
  EXPECT_EQ(Why("labels.locality equal \"cloud\"", hub), "labels.locality 'local' != \"cloud\"");
  EXPECT_EQ(Why("gpu == true", hub), "gpu false != true");
  EXPECT_EQ(Why("gpu", hub), "gpu is false");
  EXPECT_EQ(Why("false", hub), "false");
  EXPECT_EQ(Why("room == 'kitchen'", hub), "no label 'room'");
  EXPECT_EQ(Why("labels.room", hub), "no label 'room'");
  EXPECT_EQ(Why("room >= 1", hub), "no label 'room'");
  EXPECT_EQ(Why("off", hub), "off 'false' is false");
  EXPECT_EQ(Why("locality > 1", hub), "locality 'local' is not a number");
  EXPECT_EQ(Why("(cores > 8) == true", hub), "(cores > 8) false != true");
  // and: the first failing side.
  EXPECT_EQ(Why("floor > 1 and locality == 'cloud' and cores > 8", hub),
            "locality 'local' != 'cloud'");
  // or: every side.
  EXPECT_EQ(Why("gpu == true or cores atleast 8", hub), "gpu false != true and cores 4 < 8");
  // not: why the inner expression held.
  EXPECT_EQ(Why("not (cores atleast 4)", hub), "not (cores 4 >= 4)");
  EXPECT_EQ(Why("not alive", hub), "not (alive is true)");
  EXPECT_EQ(Why("not (gpu or cores > 2 and mem < 80)", hub), "not (cores 4 > 2 and mem 50 < 80)");
}

TEST(RequireExprTest, MatchLeavesWhyAloneAndCopiesShareTheTree) {
  std::string why = "untouched";
  absl::StatusOr<RequireExpr> copy;
  {
    absl::StatusOr<RequireExpr> expr = RequireExpr::Parse("cores atleast 4");
    ASSERT_TRUE(expr.ok());
    EXPECT_TRUE(expr->Matches(Hub(), &why));
    copy = *expr;
  }
  EXPECT_EQ(why, "untouched");
  ASSERT_TRUE(copy.ok());
  NodeView small = Hub();
  small.cores = 2;
  EXPECT_FALSE(copy->Matches(small));
  EXPECT_TRUE(copy->Matches(Hub()));
}

TEST(PreferRuleTest, ParsesBestEffortMaxAndMin) {
  for (const char* text : {"", "  ", "best_effort", " best_effort "}) {
    absl::StatusOr<PreferRule> rule = PreferRule::Parse(text);
    ASSERT_TRUE(rule.ok()) << text << ": " << rule.status();
    EXPECT_EQ(rule->kind(), PreferRule::Kind::kBestEffort) << text;
  }
  absl::StatusOr<PreferRule> rule = PreferRule::Parse("max(memory_mb)");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->kind(), PreferRule::Kind::kMax);
  EXPECT_EQ(rule->attribute(), "memory_mb");
  EXPECT_DOUBLE_EQ(rule->Key(Hub()), 4096);

  rule = PreferRule::Parse(" min( load ) ");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->kind(), PreferRule::Kind::kMin);
  EXPECT_EQ(rule->attribute(), "load");
  EXPECT_EQ(rule->text(), " min( load ) ");
  EXPECT_DOUBLE_EQ(rule->Key(Hub()), 1.5);

  rule = PreferRule::Parse("max(gpu)");
  ASSERT_TRUE(rule.ok());
  NodeView with_gpu = Hub();
  with_gpu.gpu = true;
  EXPECT_DOUBLE_EQ(rule->Key(Hub()), 0);
  EXPECT_DOUBLE_EQ(rule->Key(with_gpu), 1);

  const char* kRankable[] = {"cores", "memory_mb", "gpu",        "rtt_ms",  "cpu",  "mem",
                             "load",  "free_cpu",  "latency_ms", "train_s", "tasks"};
  for (const char* attr : kRankable) {
    EXPECT_TRUE(PreferRule::Parse(std::string("min(") + attr + ")").ok()) << attr;
  }
}

TEST(PreferRuleTest, BestEffortKeyIsTheUnnormalisedLoad) {
  absl::StatusOr<PreferRule> rule = PreferRule::Parse("best_effort");
  ASSERT_TRUE(rule.ok());
  // 0.5 * 25/100 + 0.3 * 50/100 + 0.2 * 1.5/4
  EXPECT_DOUBLE_EQ(rule->Key(Hub()), 0.125 + 0.15 + 0.075);
}

TEST(PreferRuleTest, RejectsBadTextListingValidAttributes) {
  constexpr char kValid[] =
      "cores, memory_mb, gpu, rtt_ms, cpu, mem, load, free_cpu, latency_ms, train_s, tasks";
  const std::vector<BadText> kBad = {
      {"max(foo)", std::string("unknown attribute 'foo' at column 5; valid: ") + kValid},
      {"min(arch)", std::string("unknown attribute 'arch' at column 5; valid: ") + kValid},
      {"max(labels.x)", std::string("unknown attribute 'labels.x' at column 5; valid: ") + kValid},
      {"biggest", "expected best_effort, max(attr) or min(attr), got 'biggest' at column 1"},
      {"(cores)", "expected best_effort, max(attr) or min(attr), got '(' at column 1"},
      {"max(memory_mb", "unexpected end of text at column 14"},
      {"max memory_mb", "unexpected 'memory_mb' at column 5"},
      {"max()", "unexpected ')' at column 5"},
      {"best_effort please", "unexpected 'please' at column 13"},
      {"max(cores) min(load)", "unexpected 'min' at column 12"},
      {"max(cores", "unexpected end of text at column 10"},
      {"max(cores]", "unexpected ']' at column 10"},
  };
  for (const BadText& bad : kBad) {
    absl::StatusOr<PreferRule> rule = PreferRule::Parse(bad.text);
    ASSERT_FALSE(rule.ok()) << bad.text;
    EXPECT_EQ(rule.status().code(), absl::StatusCode::kInvalidArgument) << bad.text;
    EXPECT_EQ(std::string(rule.status().message()), "prefer '" + bad.text + "': " + bad.message);
  }
}

NodeView Loaded(const std::string& name, double cpu, double mem, double load, int cores) {
  NodeView n;
  n.name = name;
  n.cpu = cpu;
  n.mem = mem;
  n.load = load;
  n.cores = cores;
  return n;
}

TEST(LoadScoresTest, WeighsNormalisedCpuMemoryAndLoadPerCore) {
  // load/cores: a 0.25, b 2, c 0.25, d 1.
  const std::vector<NodeView> nodes = {
      Loaded("a", 10, 20, 1, 4),
      Loaded("b", 50, 60, 4, 2),
      Loaded("c", 30, 20, 2, 8),
      Loaded("d", 20, 40, 1, 1),
  };
  const std::vector<double> scores = LoadScores(nodes);
  ASSERT_EQ(scores.size(), 4u);
  EXPECT_NEAR(scores[0], 0, 1e-12);                // the minimum of every column
  EXPECT_NEAR(scores[1], 0.5 + 0.3 + 0.2, 1e-12);  // the maximum of every column
  EXPECT_NEAR(scores[2], 0.5 * 20 / 40, 1e-12);    // cpu half-way, mem and load at min
  EXPECT_NEAR(scores[3], 0.5 * 10 / 40 + 0.3 * 20 / 40 + 0.2 * 0.75 / 1.75, 1e-12);
}

TEST(LoadScoresTest, ConstantColumnContributesNothing) {
  const std::vector<double> scores =
      LoadScores({Loaded("a", 70, 10, 2, 4), Loaded("b", 70, 30, 2, 4)});
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_DOUBLE_EQ(scores[0], 0);
  EXPECT_DOUBLE_EQ(scores[1], 0.3);

  EXPECT_TRUE(LoadScores({}).empty());
  EXPECT_EQ(LoadScores({Loaded("only", 99, 99, 9, 1)}), std::vector<double>{0});
  // No cores reported: the load average counts per one core instead of dividing by zero.
  const std::vector<double> zero = LoadScores({Loaded("a", 0, 0, 1, 0), Loaded("b", 0, 0, 0, 4)});
  EXPECT_DOUBLE_EQ(zero[0], 0.2);
  EXPECT_DOUBLE_EQ(zero[1], 0);
}

}  // namespace
}  // namespace mliot
