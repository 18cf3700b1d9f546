#include "ml/tensor_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace mliot {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
}

TEST(TensorFileTest, RoundTrip) {
  const std::string path = TempPath("tensor_file_test");
  TensorFile f("test.v1");
  const float w[6] = {1, 2, 3, 4, 5, 6};
  f.Put("W", {2, 3}, w);
  f.PutText("note", "hello");
  ASSERT_TRUE(f.Write(path).ok());
  auto g = TensorFile::Read(path, "test.v1");
  ASSERT_TRUE(g.ok()) << g.status();
  auto got = g->Get("W", {2, -1});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::vector<float>(w, w + 6));
  EXPECT_EQ(*g->Text("note"), "hello");
  EXPECT_FALSE(g->Get("W", {3, 2}).ok());
  EXPECT_FALSE(g->Get("missing").ok());
  std::remove(path.c_str());
}

TEST(TensorFileTest, RejectsOtherFormatsAndGarbage) {
  const std::string path = TempPath("tensor_file_bad");
  TensorFile f("a.v1");
  ASSERT_TRUE(f.Write(path).ok());
  EXPECT_FALSE(TensorFile::Read(path, "b.v1").ok());
  std::ofstream(path) << "\xff\xff\xff garbage";
  EXPECT_FALSE(TensorFile::Read(path, "a.v1").ok());
  EXPECT_EQ(TensorFile::Read("/nonexistent/file", "a.v1").status().code(), absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace mliot
