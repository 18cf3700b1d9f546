#include "data/csv.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mliot_csv_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` byte for byte and returns the path.
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(CsvTest, HeaderNumericFeaturesAndStringLabels) {
  const std::string path = Write("iris.csv",
                                 "sepal,petal,label\n"
                                 "5.1,1.4,setosa\n"
                                 "7.0,4.7,versicolor\n"
                                 "-6.3,+6e0,virginica\n"
                                 " 4.9 , 1.5 , setosa \n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 4);
  EXPECT_EQ(ds->cols, 2);
  EXPECT_EQ(ds->source, path);
  EXPECT_THAT(ds->feature_names, ElementsAre("sepal", "petal"));
  EXPECT_THAT(ds->class_names, ElementsAre("setosa", "versicolor", "virginica"));
  EXPECT_THAT(ds->labels, ElementsAre(0, 1, 2, 0));
  EXPECT_THAT(ds->features, ElementsAre(5.1f, 1.4f, 7.0f, 4.7f, -6.3f, 6.0f, 4.9f, 1.5f));
  EXPECT_FALSE(ds->shape.has_value());
  EXPECT_TRUE(ds->Validate().ok());
}

TEST_F(CsvTest, LabelColumnAnywhereAndNamedByOption) {
  const std::string path = Write("a.csv",
                                 "x,species,y\n"
                                 "1,b,2\n"
                                 "3,a,4\n");
  CsvOptions options;
  options.label_column = "species";
  auto ds = LoadCsv(path, options);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->feature_names, ElementsAre("x", "y"));
  EXPECT_THAT(ds->features, ElementsAre(1.f, 2.f, 3.f, 4.f));
  EXPECT_THAT(ds->class_names, ElementsAre("a", "b"));
  EXPECT_THAT(ds->labels, ElementsAre(1, 0));
}

TEST_F(CsvTest, NumericLabelsSortNumerically) {
  const std::string path = Write("n.csv",
                                 "f,label\n"
                                 "0,10\n"
                                 "1,2\n"
                                 "2,-1\n"
                                 "3,2\n"
                                 "4,1.5\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names, ElementsAre("-1", "1.5", "2", "10"));
  EXPECT_THAT(ds->labels, ElementsAre(3, 2, 0, 2, 1));
}

TEST_F(CsvTest, QuotedFieldsWithCommasAndDoubledQuotes) {
  const std::string path = Write("q.csv",
                                 "\"x\",\"weird, name\",label\n"
                                 "\"1.5\",2,\"a, b\"\n"
                                 "3,\"4\",\"say \"\"hi\"\"\"\n"
                                 "5,6,\"a, b\"\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->cols, 2);
  EXPECT_THAT(ds->feature_names, ElementsAre("x", "weird, name"));
  EXPECT_THAT(ds->features, ElementsAre(1.5f, 2.f, 3.f, 4.f, 5.f, 6.f));
  EXPECT_THAT(ds->class_names, ElementsAre("a, b", "say \"hi\""));
  EXPECT_THAT(ds->labels, ElementsAre(0, 1, 0));
}

TEST_F(CsvTest, QuotedNewlineCountsTowardLineNumbers) {
  // Record 2 spans lines 2-3, so the ragged row is on line 4.
  const std::string path = Write("ml.csv",
                                 "f,label\n"
                                 "1,\"two\nlines\"\n"
                                 "1,2,3\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds.status().message(), path + ":4: expected 2 fields (as in the header), got 3");
}

TEST_F(CsvTest, CrlfLineEndings) {
  const std::string path = Write("crlf.csv",
                                 "a,b,label\r\n"
                                 "1,2,yes\r\n"
                                 "3,4,\"no\"\r\n"
                                 "\r\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 2);
  EXPECT_THAT(ds->feature_names, ElementsAre("a", "b"));
  EXPECT_THAT(ds->class_names, ElementsAre("no", "yes"));
  EXPECT_THAT(ds->labels, ElementsAre(1, 0));
  EXPECT_THAT(ds->features, ElementsAre(1.f, 2.f, 3.f, 4.f));
}

TEST_F(CsvTest, ByteOrderMarkIsSkipped) {
  // The label is the first column, so a BOM kept in the header would hide it.
  const std::string path = Write("bom.csv",
                                 "\xEF\xBB\xBFlabel,a\n"
                                 "x,1\n"
                                 "y,2\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->feature_names, ElementsAre("a"));
  EXPECT_THAT(ds->class_names, ElementsAre("x", "y"));
  EXPECT_THAT(ds->features, ElementsAre(1.f, 2.f));
}

TEST_F(CsvTest, SemicolonDelimiterDetected) {
  const std::string path = Write("semi.csv",
                                 "a;b;label\n"
                                 "1.5;2;x\n"
                                 "3;4;y\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->cols, 2);
  EXPECT_THAT(ds->feature_names, ElementsAre("a", "b"));
  EXPECT_THAT(ds->features, ElementsAre(1.5f, 2.f, 3.f, 4.f));
  EXPECT_THAT(ds->class_names, ElementsAre("x", "y"));
}

TEST_F(CsvTest, DelimiterDetectedAfterLeadingBlankLines) {
  // The delimiter is read from the header, not from a blank first line.
  const std::string path = Write("semi_blank.csv",
                                 "\n"
                                 "  \r\n"
                                 "a;b;label\n"
                                 "1;2;x\n"
                                 "3;4;y\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->feature_names, ElementsAre("a", "b"));
  EXPECT_THAT(ds->features, ElementsAre(1.f, 2.f, 3.f, 4.f));
}

TEST_F(CsvTest, TabDelimiterDetected) {
  const std::string path = Write("tab.tsv",
                                 "a\tlabel\n"
                                 "1\tx\n"
                                 "2\ty\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->cols, 1);
  EXPECT_THAT(ds->features, ElementsAre(1.f, 2.f));
}

TEST_F(CsvTest, BlankLinesSkipped) {
  const std::string path = Write("blank.csv",
                                 "\n"
                                 "a,label\n"
                                 "\n"
                                 "1,x\n"
                                 "   \n"
                                 "\n"
                                 "2,y\n"
                                 "\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 2);
  EXPECT_THAT(ds->features, ElementsAre(1.f, 2.f));
  EXPECT_THAT(ds->labels, ElementsAre(0, 1));
}

TEST_F(CsvTest, MissingValuesBecomeNaN) {
  const std::string path = Write("missing.csv",
                                 "a,b,c,d,label\n"
                                 ",NA,?,1,x\n"
                                 "na,nan,\"\",2,y\n");
  auto ds = LoadCsv(path, {});
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->features.size(), 8u);
  for (int i : {0, 1, 2, 4, 5, 6}) EXPECT_TRUE(std::isnan(ds->features[i])) << "index " << i;
  EXPECT_EQ(ds->features[3], 1.f);
  EXPECT_EQ(ds->features[7], 2.f);
}

TEST_F(CsvTest, RaggedRowNamesFileAndLine) {
  // Header is line 1; the blank line 3 still counts.
  const std::string path = Write("ragged.csv",
                                 "a,b,label\n"
                                 "1,2,x\n"
                                 "\n"
                                 "3,4,y\n"
                                 "5,y\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ds.status().message(), path + ":5: expected 3 fields (as in the header), got 2");
}

TEST_F(CsvTest, RaggedRowLineNumberWithCrlf) {
  const std::string path = Write("ragged_crlf.csv", "a,label\r\n1,x\r\n2,y,9\r\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().message(), path + ":3: expected 2 fields (as in the header), got 3");
}

TEST_F(CsvTest, NonNumericFeatureNamesColumnValueAndLine) {
  const std::string path = Write("nonnum.csv",
                                 "height,weight,label\n"
                                 "1,2,x\n"
                                 "3,abc,y\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr("column 'weight': non-numeric value 'abc'"));
  EXPECT_THAT(ds.status().message(), HasSubstr(path + ":3:"));
  // Trailing garbage and infinities are not numbers either.
  EXPECT_FALSE(LoadCsv(Write("junk.csv", "a,label\n1.5x,x\n2,y\n"), {}).ok());
  EXPECT_FALSE(LoadCsv(Write("inf.csv", "a,label\ninf,x\n2,y\n"), {}).ok());
}

TEST_F(CsvTest, EmptyLabelIsError) {
  const std::string path = Write("nolabel.csv", "a,label\n1,x\n2,\n3,y\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr(path + ":3: column 'label': empty label"));
}

TEST_F(CsvTest, MissingLabelColumnListsColumns) {
  const std::string path = Write("nolabelcol.csv", "a,b,class\n1,2,x\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr(path + ":1: no label column 'label'"));
  EXPECT_THAT(ds.status().message(), HasSubstr("(columns: a, b, class)"));
}

TEST_F(CsvTest, FewerThanTwoClasses) {
  const std::string path = Write("one.csv", "a,label\n1,x\n2,x\n");
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr(path));
  EXPECT_THAT(ds.status().message(), HasSubstr("fewer than two classes (only 'x')"));

  CsvOptions options;
  options.require_two_classes = false;
  auto ok = LoadCsv(path, options);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(ok->class_names, ElementsAre("x"));
  EXPECT_THAT(ok->labels, ElementsAre(0, 0));
}

TEST_F(CsvTest, UnlabelledFileWhenLabelNotRequired) {
  const std::string path = Write("predict.csv", "a,b\n1,2\n3,4\n5,6\n");
  CsvOptions options;
  options.require_label = false;
  options.require_two_classes = false;
  auto ds = LoadCsv(path, options);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->rows, 3);
  EXPECT_EQ(ds->cols, 2);
  EXPECT_THAT(ds->feature_names, ElementsAre("a", "b"));
  EXPECT_THAT(ds->labels, ElementsAre(-1, -1, -1));
  EXPECT_TRUE(ds->class_names.empty());
  EXPECT_TRUE(ds->Validate().ok());

  // A label column that is present is still used.
  auto labelled = LoadCsv(Write("labelled.csv", "a,label\n1,x\n"), options);
  ASSERT_TRUE(labelled.ok()) << labelled.status();
  EXPECT_EQ(labelled->cols, 1);
  EXPECT_THAT(labelled->labels, ElementsAre(0));
}

TEST_F(CsvTest, EmptyAndHeaderOnlyFilesAreErrors) {
  auto empty = LoadCsv(Write("empty.csv", ""), {});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("empty file"));

  auto header_only = LoadCsv(Write("header.csv", "a,label\n"), {});
  EXPECT_EQ(header_only.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(header_only.status().message(), HasSubstr("no data rows"));

  auto label_only = LoadCsv(Write("labelonly.csv", "label\nx\ny\n"), {});
  EXPECT_THAT(label_only.status().message(), HasSubstr("no feature columns"));
}

TEST_F(CsvTest, MissingFileIsNotFound) {
  const std::string path = (dir_ / "nope.csv").string();
  auto ds = LoadCsv(path, {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ds.status().message(), HasSubstr(path));
}

TEST_F(CsvTest, BinaryDataRejected) {
  auto ds = LoadCsv(Write("bin.csv", std::string("a,label\n1,\0x\n", 12)), {});
  EXPECT_EQ(ds.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ds.status().message(), HasSubstr("binary data"));
}

}  // namespace
}  // namespace mliot
