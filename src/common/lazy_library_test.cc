#include "common/lazy_library.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mliot {
namespace {

TEST(LazyLibrary, ResolvesASymbolOfTheFirstFileThatOpens) {
  LazyLibrary lib("libm", {"/nonexistent/libm.so.6", "libm.so.6"});
  absl::StatusOr<void*> cosine = lib.Symbol("cos");
  ASSERT_TRUE(cosine.ok()) << cosine.status();
  EXPECT_DOUBLE_EQ(reinterpret_cast<double (*)(double)>(*cosine)(0.0), 1.0);
  EXPECT_FALSE(lib.Symbol("no_such_function_here").ok());
}

TEST(LazyLibrary, MissingLibraryNamesEveryFileTried) {
  LazyLibrary lib("Example", {"/nonexistent/a.so", "/nonexistent/b.so"});
  const absl::Status s = lib.Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("Example is not installed"), std::string::npos) << s;
  EXPECT_NE(s.message().find("/nonexistent/a.so"), std::string::npos) << s;
  EXPECT_NE(s.message().find("/nonexistent/b.so"), std::string::npos) << s;
  EXPECT_EQ(lib.Symbol("anything").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mliot
