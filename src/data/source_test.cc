#include "data/source.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/idx.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mliot_source_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return path;
  }

  std::filesystem::path dir_;
};

// Debian's dataset-fashion-mnist, or $MLIOT_FASHION_MNIST_DIR.
bool HaveFashionMnist() {
  const char* env = std::getenv("MLIOT_FASHION_MNIST_DIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : "/usr/share/datasets/fashion-mnist";
  return std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz") &&
         std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz");
}

TEST(FashionMnistTest, TrainPrefix) {
  if (!HaveFashionMnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto ds = LoadDataset("fashion-mnist:train:100");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 100);
  EXPECT_EQ(ds->cols, 784);
  ASSERT_TRUE(ds->shape.has_value());
  EXPECT_EQ(*ds->shape, (ImageShape{28, 28}));
  EXPECT_EQ(ds->num_classes(), 10);
  EXPECT_EQ(ds->class_names.front(), "T-shirt/top");
  EXPECT_EQ(ds->class_names.back(), "Ankle boot");
  EXPECT_EQ(ds->source, "fashion-mnist:train:100");
  EXPECT_EQ(ds->features.size(), 78400u);
  EXPECT_EQ(ds->labels.size(), 100u);
  // u8 pixels scaled to [0, 1], and not all zero.
  const auto [lo, hi] = std::minmax_element(ds->features.begin(), ds->features.end());
  EXPECT_GE(*lo, 0.f);
  EXPECT_LE(*hi, 1.f);
  EXPECT_GT(*hi, 0.5f);
  // 100 training images cover several classes.
  int present = 0;
  for (int64_t count : ds->ClassCounts()) present += count > 0 ? 1 : 0;
  EXPECT_GE(present, 5);
  EXPECT_TRUE(ds->Validate().ok());
}

TEST(FashionMnistTest, TestPrefix) {
  if (!HaveFashionMnist()) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto ds = LoadDataset("fashion-mnist:test:5");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 5);
  EXPECT_EQ(ds->cols, 784);
  EXPECT_EQ(ds->num_classes(), 10);
  // The first five Fashion-MNIST test labels: Ankle boot, Pullover, Trouser, Trouser, Shirt.
  EXPECT_THAT(ds->labels, ElementsAre(9, 2, 1, 1, 6));
}

TEST(DataSpecTest, BadFashionMnistSpecs) {
  auto zero = LoadDataset("fashion-mnist:train:0");
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero.status().message(), HasSubstr("row count '0' is not a positive integer"));
  EXPECT_THAT(zero.status().message(), HasSubstr("fashion-mnist:train:0"));

  auto word = LoadDataset("fashion-mnist:train:lots");
  EXPECT_EQ(word.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(word.status().message(), HasSubstr("'lots'"));

  auto val = LoadDataset("fashion-mnist:val");
  EXPECT_EQ(val.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(val.status().message(), HasSubstr("fashion-mnist:train[:N]"));
  EXPECT_THAT(val.status().message(), HasSubstr("fashion-mnist:test[:N]"));

  EXPECT_EQ(LoadDataset("fashion-mnist:train:1:2").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DataSpecTest, UnknownSchemeListsValidForms) {
  for (const char* spec : {"foo:bar", "", "mnist"}) {
    auto ds = LoadDataset(spec);
    EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(ds.status().message(), HasSubstr("unknown source")) << spec;
    EXPECT_THAT(ds.status().message(), HasSubstr(DataSpecForms())) << spec;
  }
  for (const char* form : {"fashion-mnist:train", "idx:", "csv:"}) {
    EXPECT_THAT(DataSpecForms(), HasSubstr(form));
  }
}

TEST_F(SourceTest, IdxSpec) {
  const std::string images = (dir_ / "images.idx").string();
  const std::string labels = (dir_ / "labels.idx").string();
  const std::vector<float> pixels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  ASSERT_TRUE(WriteIdxFloat(images, {3, 2, 2}, pixels.data()).ok());
  ASSERT_TRUE(WriteIdxInt32(labels, {1, 0, 1}).ok());
  auto ds = LoadDataset("idx:" + images + "," + labels);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 3);
  EXPECT_EQ(ds->cols, 4);
  EXPECT_EQ(ds->shape, (ImageShape{2, 2}));
  EXPECT_THAT(ds->labels, ElementsAre(1, 0, 1));

  for (const std::string& spec :
       std::vector<std::string>{"idx:" + images, "idx:", "idx:" + images + ",", "idx:a,b,c"}) {
    auto bad = LoadDataset(spec);
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(bad.status().message(), HasSubstr("expected idx:IMAGES,LABELS")) << spec;
  }

  auto missing = LoadDataset("idx:" + images + "," + (dir_ / "nope").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  // A single class is not enough to train on, but fine to predict on.
  ASSERT_TRUE(WriteIdxInt32(labels, {0, 0, 0}).ok());
  auto one_class = LoadDataset("idx:" + images + "," + labels);
  EXPECT_EQ(one_class.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(one_class.status().message(), HasSubstr("fewer than two classes"));
  LoadOptions predict;
  predict.for_training = false;
  EXPECT_TRUE(LoadDataset("idx:" + images + "," + labels, predict).ok());
}

TEST_F(SourceTest, IdxTrainingNeedsTwoClassesPresent) {
  // Labels {2, 2} name three classes ("0".."2") but only one is present;
  // labels {0, 2} leave class 1 empty, which is fine.
  const std::string images = (dir_ / "images.idx").string();
  const std::string labels = (dir_ / "labels.idx").string();
  const std::vector<float> pixels = {0, 1, 2, 3};
  ASSERT_TRUE(WriteIdxFloat(images, {2, 2}, pixels.data()).ok());
  ASSERT_TRUE(WriteIdxInt32(labels, {2, 2}).ok());
  auto ds = LoadDataset("idx:" + images + "," + labels);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr("fewer than two classes present"));
  ASSERT_TRUE(WriteIdxInt32(labels, {0, 2}).ok());
  EXPECT_TRUE(LoadDataset("idx:" + images + "," + labels).ok());
}

TEST_F(SourceTest, CsvSpec) {
  const std::string path = Write("data.csv", "a,b,label\n1,2,x\n3,4,y\n");
  auto ds = LoadDataset("csv:" + path);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 2);
  EXPECT_EQ(ds->cols, 2);
  EXPECT_THAT(ds->class_names, ElementsAre("x", "y"));
  EXPECT_EQ(ds->source, path);

  auto empty = LoadDataset("csv:");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("expected csv:PATH"));

  auto missing = LoadDataset("csv:" + (dir_ / "nope.csv").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SourceTest, CsvLabelColumnOption) {
  const std::string path = Write("data.csv", "a,kind\n1,x\n3,y\n");
  EXPECT_EQ(LoadDataset("csv:" + path).status().code(), absl::StatusCode::kInvalidArgument);
  LoadOptions options;
  options.label_column = "kind";
  auto ds = LoadDataset("csv:" + path, options);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names, ElementsAre("x", "y"));
}

TEST_F(SourceTest, NotForTrainingAllowsSingleClassAndNoLabels) {
  const std::string one = Write("one.csv", "a,label\n1,x\n2,x\n");
  auto train = LoadDataset("csv:" + one);
  EXPECT_EQ(train.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(train.status().message(), HasSubstr("fewer than two classes"));

  LoadOptions predict;
  predict.for_training = false;
  auto ds = LoadDataset("csv:" + one, predict);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names, ElementsAre("x"));
  EXPECT_THAT(ds->labels, ElementsAre(0, 0));

  const std::string unlabelled = Write("unlabelled.csv", "a,b\n1,2\n");
  EXPECT_EQ(LoadDataset("csv:" + unlabelled).status().code(), absl::StatusCode::kInvalidArgument);
  auto rows = LoadDataset("csv:" + unlabelled, predict);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_THAT(rows->labels, ElementsAre(-1));
  EXPECT_EQ(rows->num_classes(), 0);
}

}  // namespace
}  // namespace mliot
