#include "data/idx.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::Pointwise;

// A scratch directory removed at the end of each test.
class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mliot_idx_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }

  static std::vector<uint8_t> ReadBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

  static void WriteGzip(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(f), Z_OK);
  }

  std::filesystem::path dir_;
};

const std::vector<float> kImages = {0.f, 1.5f, -2.f, 3.25f, 4.f, 5.f,   // image 0 (2x3)
                                    6.f, 7.f, 8.f, 9.f, 10.f, -1e-3f,   // image 1
                                    12.f, 13.f, 14.f, 15.f, 16.f, 17.f,  // image 2
                                    18.f, 19.f, 20.f, 21.f, 22.f, 23.f};  // image 3

TEST_F(IdxTest, FloatRoundTrip) {
  const std::string path = Path("images.idx");
  ASSERT_TRUE(WriteIdxFloat(path, {4, 2, 3}, kImages.data()).ok());
  auto array = ReadIdx(path);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->type, 0x0D);
  EXPECT_THAT(array->dims, ElementsAre(4, 2, 3));
  EXPECT_THAT(array->values, Pointwise(FloatEq(), kImages));
}

TEST_F(IdxTest, CompressedWritesRoundTripAndAreSmaller) {
  std::vector<float> zeros(4096, 0.f);
  std::copy(kImages.begin(), kImages.end(), zeros.begin());
  const std::string plain = Path("plain.idx");
  const std::string packed = Path("packed.idx");
  ASSERT_TRUE(WriteIdxFloat(plain, {4096}, zeros.data()).ok());
  ASSERT_TRUE(WriteIdxFloat(packed, {4096}, zeros.data(), /*gzip=*/true).ok());
  EXPECT_LT(std::filesystem::file_size(packed) * 4, std::filesystem::file_size(plain));
  auto array = ReadIdx(packed);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->values, Pointwise(FloatEq(), zeros));
  ASSERT_TRUE(WriteIdxInt32(packed, {3, -7}, /*gzip=*/true).ok());
  auto labels = ReadIdx(packed);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_THAT(labels->values, ElementsAre(3.f, -7.f));
}

TEST_F(IdxTest, Int32RoundTripIncludingNegatives) {
  const std::string path = Path("labels.idx");
  ASSERT_TRUE(WriteIdxInt32(path, {3, 0, -7, 65536}).ok());
  auto array = ReadIdx(path);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->type, 0x0C);
  EXPECT_THAT(array->dims, ElementsAre(4));
  EXPECT_THAT(array->values, ElementsAre(3.f, 0.f, -7.f, 65536.f));
}

TEST_F(IdxTest, MaxItemsLimitsFirstDimension) {
  const std::string path = Path("images.idx");
  ASSERT_TRUE(WriteIdxFloat(path, {4, 2, 3}, kImages.data()).ok());
  auto array = ReadIdx(path, 2);
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->dims, ElementsAre(2, 2, 3));
  EXPECT_THAT(array->values, Pointwise(FloatEq(), std::vector<float>(kImages.begin(), kImages.begin() + 12)));
  // A limit beyond the file's size reads everything.
  auto all = ReadIdx(path, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->dims[0], 4);
}

TEST_F(IdxTest, GzippedFileReadsTheSame) {
  const std::string plain = Path("images.idx");
  const std::string gz = Path("images.idx.gz");
  ASSERT_TRUE(WriteIdxFloat(plain, {4, 2, 3}, kImages.data()).ok());
  WriteGzip(gz, ReadBytes(plain));
  ASSERT_NE(ReadBytes(gz), ReadBytes(plain));  // really compressed
  auto a = ReadIdx(plain);
  auto b = ReadIdx(gz);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->dims, b->dims);
  EXPECT_EQ(a->type, b->type);
  EXPECT_THAT(b->values, Pointwise(FloatEq(), a->values));
}

TEST_F(IdxTest, BadMagicNumber) {
  const std::string path = Path("not_idx.txt");
  WriteBytes(path, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  auto array = ReadIdx(path);
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(array.status().message(), HasSubstr("bad IDX magic number"));
  EXPECT_THAT(array.status().message(), HasSubstr(path));

  // Unknown type byte 0x0A.
  WriteBytes(path, {0, 0, 0x0A, 1, 0, 0, 0, 1, 0});
  EXPECT_THAT(ReadIdx(path).status().message(), HasSubstr("bad IDX magic number"));
  // Zero dimensions.
  WriteBytes(path, {0, 0, 0x08, 0});
  EXPECT_THAT(ReadIdx(path).status().message(), HasSubstr("bad IDX magic number"));
}

TEST_F(IdxTest, TruncatedHeaderAndPayload) {
  const std::string path = Path("images.idx");
  ASSERT_TRUE(WriteIdxFloat(path, {4, 2, 3}, kImages.data()).ok());
  std::vector<uint8_t> bytes = ReadBytes(path);
  bytes.resize(bytes.size() - 5);
  WriteBytes(path, bytes);
  auto array = ReadIdx(path);
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(array.status().message(), HasSubstr("truncated IDX payload"));
  EXPECT_THAT(array.status().message(), HasSubstr(path));

  // Cut inside the dimension list.
  bytes.resize(6);
  WriteBytes(path, bytes);
  EXPECT_THAT(ReadIdx(path).status().message(), HasSubstr("truncated IDX header"));

  // The gzipped form of a truncated payload is reported the same way.
  ASSERT_TRUE(WriteIdxFloat(path, {4, 2, 3}, kImages.data()).ok());
  bytes = ReadBytes(path);
  bytes.resize(bytes.size() - 1);
  const std::string gz = Path("images.idx.gz");
  WriteGzip(gz, bytes);
  EXPECT_THAT(ReadIdx(gz).status().message(), HasSubstr("truncated IDX payload"));
}

TEST_F(IdxTest, MissingFileIsNotFoundAndNamesPath) {
  const std::string path = Path("does-not-exist.idx.gz");
  auto array = ReadIdx(path);
  EXPECT_EQ(array.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(array.status().message(), HasSubstr(path));

  auto ds = LoadIdxDataset(path, Path("labels.idx"));
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ds.status().message(), HasSubstr(path));
}

TEST_F(IdxTest, LoadIdxDatasetFloatImages) {
  const std::string images = Path("images.idx");
  const std::string labels = Path("labels.idx");
  ASSERT_TRUE(WriteIdxFloat(images, {4, 2, 3}, kImages.data()).ok());
  ASSERT_TRUE(WriteIdxInt32(labels, {2, 0, 1, 2}).ok());
  auto ds = LoadIdxDataset(images, labels);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 4);
  EXPECT_EQ(ds->cols, 6);
  ASSERT_TRUE(ds->shape.has_value());
  EXPECT_EQ(*ds->shape, (ImageShape{2, 3}));
  EXPECT_THAT(ds->features, Pointwise(FloatEq(), kImages));  // f32 is not rescaled
  EXPECT_THAT(ds->labels, ElementsAre(2, 0, 1, 2));
  EXPECT_THAT(ds->class_names, ElementsAre("0", "1", "2"));
  EXPECT_EQ(ds->source, images);
  EXPECT_TRUE(ds->Validate().ok());

  auto named = LoadIdxDataset(images, labels, 2, {"zero", "one", "two"});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->rows, 2);
  EXPECT_EQ(named->features.size(), 12u);
  EXPECT_THAT(named->labels, ElementsAre(2, 0));
  EXPECT_THAT(named->class_names, ElementsAre("zero", "one", "two"));

  auto too_few_names = LoadIdxDataset(images, labels, -1, {"zero", "one"});
  EXPECT_EQ(too_few_names.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_few_names.status().message(), HasSubstr("label 2 has no class name"));
}

TEST_F(IdxTest, TwoDimensionalImagesHaveNoShape) {
  const std::string images = Path("images.idx");
  const std::string labels = Path("labels.idx");
  ASSERT_TRUE(WriteIdxFloat(images, {4, 6}, kImages.data()).ok());
  ASSERT_TRUE(WriteIdxInt32(labels, {0, 1, 0, 1}).ok());
  auto ds = LoadIdxDataset(images, labels);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->cols, 6);
  EXPECT_FALSE(ds->shape.has_value());
}

TEST_F(IdxTest, LabelCountMismatchIsError) {
  const std::string images = Path("images.idx");
  const std::string labels = Path("labels.idx");
  ASSERT_TRUE(WriteIdxFloat(images, {4, 2, 3}, kImages.data()).ok());
  ASSERT_TRUE(WriteIdxInt32(labels, {0, 1, 0}).ok());
  auto ds = LoadIdxDataset(images, labels);
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr("3 labels for 4 images"));
  EXPECT_THAT(ds.status().message(), HasSubstr(labels));
}

TEST_F(IdxTest, BadLabelsAndDimensionsAreErrors) {
  const std::string images = Path("images.idx");
  const std::string labels = Path("labels.idx");
  ASSERT_TRUE(WriteIdxFloat(images, {4, 2, 3}, kImages.data()).ok());
  ASSERT_TRUE(WriteIdxInt32(labels, {0, 1, -1, 1}).ok());
  auto negative = LoadIdxDataset(images, labels);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.status().message(), HasSubstr("item 2"));

  // Labels and images swapped: labels with 3 dims, images with 1.
  ASSERT_TRUE(WriteIdxInt32(labels, {0, 1, 0, 1}).ok());
  EXPECT_FALSE(LoadIdxDataset(labels, images).ok());
  EXPECT_FALSE(LoadIdxDataset(images, images).ok());
}

TEST_F(IdxTest, UnsignedByteImagesAreScaledToUnitRange) {
  const std::string images = Path("images-idx3-ubyte");
  const std::string labels = Path("labels-idx1-ubyte");
  // Two 1x2 u8 images: {0, 255}, {51, 102}; u8 labels {1, 0}.
  WriteBytes(images, {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 255, 51, 102});
  WriteBytes(labels, {0, 0, 0x08, 1, 0, 0, 0, 2, 1, 0});
  auto raw = ReadIdx(images);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_THAT(raw->values, ElementsAre(0.f, 255.f, 51.f, 102.f));  // ReadIdx keeps 0..255

  auto ds = LoadIdxDataset(images, labels);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 2);
  EXPECT_EQ(ds->cols, 2);
  ASSERT_TRUE(ds->shape.has_value());
  EXPECT_EQ(*ds->shape, (ImageShape{1, 2}));
  EXPECT_THAT(ds->features, ElementsAre(FloatEq(0.f), FloatEq(1.f), FloatEq(0.2f), FloatEq(0.4f)));
  EXPECT_THAT(ds->labels, ElementsAre(1, 0));
  EXPECT_THAT(ds->class_names, ElementsAre("0", "1"));
}

}  // namespace
}  // namespace mliot
