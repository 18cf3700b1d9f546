#include "ml/params.h"

#include "gtest/gtest.h"

namespace mliot {
namespace {

std::vector<ParamSpec> Specs() {
  return {{.name = "C", .type = ParamType::kDouble, .default_value = 1.0, .min = 1e-2, .max = 1e2,
           .log_scale = true},
          {.name = "depth", .type = ParamType::kInt, .default_value = int64_t{3}, .min = 1, .max = 9},
          {.name = "mode", .type = ParamType::kChoice, .default_value = std::string("a"),
           .choices = {"a", "b", "c"}},
          {.name = "fixed", .type = ParamType::kInt, .default_value = int64_t{7}, .min = 0, .max = 9,
           .tunable = false}};
}

TEST(ParamsTest, DefaultsComeFromTheDeclaration) {
  Params p = Params::Defaults(Specs());
  EXPECT_DOUBLE_EQ(p.Double("C"), 1.0);
  EXPECT_EQ(p.Int("depth"), 3);
  EXPECT_EQ(p.Choice("mode"), "a");
}

TEST(ParamsTest, ParseNamesTheBadParameter) {
  auto ok = ParseParams(Specs(), "C=10,mode=b");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_DOUBLE_EQ(ok->Double("C"), 10);
  EXPECT_EQ(ok->Choice("mode"), "b");
  auto unknown = ParseParams(Specs(), "gamma=1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown parameter 'gamma'"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("C, depth, mode, fixed"), std::string::npos);
  auto range = ParseParams(Specs(), "depth=12");
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("depth"), std::string::npos);
  EXPECT_FALSE(ParseParams(Specs(), "mode=z").ok());
  EXPECT_FALSE(ParseParams(Specs(), "C=abc").ok());
}

TEST(ParamsTest, UnitCubeRoundTrip) {
  const auto specs = Specs();
  Params p = DecodeUnit(specs, {0.5, 1.0, 0.9});
  EXPECT_NEAR(p.Double("C"), 1.0, 1e-9);  // log-scale midpoint of [1e-2, 1e2]
  EXPECT_EQ(p.Int("depth"), 9);
  EXPECT_EQ(p.Choice("mode"), "c");
  EXPECT_EQ(p.Int("fixed"), 7);  // not tunable: stays at default
  std::vector<double> u = EncodeUnit(specs, p);
  ASSERT_EQ(u.size(), 3u);
  EXPECT_NEAR(u[0], 0.5, 1e-9);
  Params q = DecodeUnit(specs, u);
  EXPECT_EQ(q.ToString(), p.ToString());
}

}  // namespace
}  // namespace mliot
