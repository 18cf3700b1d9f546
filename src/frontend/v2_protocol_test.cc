#include "frontend/v2_protocol.h"

#include <cstring>

#include "frontend/v2_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace mliot::v2 {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

v1::HealthResponse RowsModel() {
  v1::HealthResponse m;
  m.set_task("fmnist");
  m.set_version(3);
  m.set_num_features(4);
  for (const char* c : {"shirt", "bag", "shoe"}) m.add_class_names(c);
  return m;
}

v1::PredictResponse TwoRows() {
  v1::PredictResponse r;
  r.set_version(3);
  r.set_worker_latency_ms(0.25);
  for (int row = 0; row < 2; ++row) {
    v1::Prediction* p = r.add_predictions();
    p->set_label_index(row == 0 ? 1 : 2);
    p->set_label(row == 0 ? "bag" : "shoe");
    p->set_stage(2);
    if (row == 0) {
      for (float c : {0.25f, 0.5f, 0.25f}) p->add_certainties(c);
    } else {
      for (float c : {0.125f, 0.125f, 0.75f}) p->add_certainties(c);
    }
  }
  return r;
}

TEST(V2Json, GoldenRequestAndResponse) {
  const std::string body = R"({"id":"42","inputs":[{"name":"features","datatype":"FP32","shape":[2,4],
      "data":[[1,2,3,4],[5,6,7,8]]}]})";
  absl::StatusOr<InferRequest> req = ParseInferRequest(body, 0);
  ASSERT_TRUE(req.ok()) << req.status();
  absl::StatusOr<v1::PredictRequest> predict = ToPredict(*req, RowsModel());
  ASSERT_TRUE(predict.ok()) << predict.status();
  EXPECT_EQ(predict->task(), "fmnist");
  EXPECT_EQ(predict->rows(), 2);
  EXPECT_EQ(predict->features_size(), 8);
  EXPECT_EQ(predict->features(7), 8.0f);
  absl::StatusOr<InferResult> result = FromPredict(*req, TwoRows(), RowsModel());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_DOUBLE_EQ(result->worker_seconds, 0.00025);
  size_t header = 1;
  const std::string out = WriteInferResponse(*result, &header);
  EXPECT_EQ(header, 0u);
  EXPECT_EQ(json::parse(out), json::parse(R"({"model_name":"fmnist","model_version":"3","id":"42","outputs":[
      {"name":"probabilities","datatype":"FP32","shape":[2,3],"data":[0.25,0.5,0.25,0.125,0.125,0.75]},
      {"name":"label","datatype":"BYTES","shape":[2],"data":["bag","shoe"]},
      {"name":"stage","datatype":"INT32","shape":[2],"data":[2,2]}]})"));
}

TEST(V2Json, ClassificationExtension) {
  const std::string body = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2,4],"data":[1,2,3,4,5,6,7,8]}],
      "outputs":[{"name":"label","parameters":{"classification":2}}]})";
  absl::StatusOr<InferRequest> req = ParseInferRequest(body, 0);
  ASSERT_TRUE(req.ok()) << req.status();
  absl::StatusOr<InferResult> result = FromPredict(*req, TwoRows(), RowsModel());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->outputs.size(), 1u);
  EXPECT_EQ(result->outputs[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(result->outputs[0].bytes, (std::vector<std::string>{"0.5:1:bag", "0.25:0:shirt", "0.75:2:shoe",
                                                                "0.125:0:shirt"}));
}

// Little-endian bytes of `v`.
template <typename T>
std::string Bytes(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

TEST(V2Json, BinaryTensorExtensionBothWays) {
  const std::string header = R"({"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],
      "parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}})";
  const std::string body = header + Bytes(std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f});
  absl::StatusOr<InferRequest> req = ParseInferRequest(body, header.size());
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->inputs[0].fp32, (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f}));
  v1::PredictResponse one = TwoRows();
  one.mutable_predictions()->RemoveLast();
  absl::StatusOr<InferResult> result = FromPredict(*req, one, RowsModel());
  ASSERT_TRUE(result.ok()) << result.status();
  size_t json_length = 0;
  const std::string out = WriteInferResponse(*result, &json_length);
  ASSERT_GT(json_length, 0u);
  const json j = json::parse(out.substr(0, json_length));
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 12);
  EXPECT_EQ(j["outputs"][1]["parameters"]["binary_data_size"], 4 + 3);  // length prefix + "bag"
  EXPECT_EQ(j["outputs"][2]["parameters"]["binary_data_size"], 4);
  EXPECT_FALSE(j["outputs"][0].contains("data"));
  const std::string binary = out.substr(json_length);
  EXPECT_EQ(binary, Bytes(std::vector<float>{0.25f, 0.5f, 0.25f}) + Bytes(std::vector<uint32_t>{3}) + "bag" +
                        Bytes(std::vector<int32_t>{2}));
}

TEST(V2Json, ErrorsNameTheField) {
  auto error = [](const std::string& body, size_t header = 0) {
    absl::StatusOr<InferRequest> r = ParseInferRequest(body, header);
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_THAT(error("{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(error("[]"), HasSubstr("JSON object"));
  EXPECT_THAT(error(R"({"inputs":3})"), HasSubstr("inputs: must be an array"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP33","shape":[1],"data":[1]}]})"),
              HasSubstr("inputs[0].datatype: 'FP33'"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-1],"data":[1]}]})"),
              HasSubstr("inputs[0].shape"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":["a"]}]})"),
              HasSubstr("inputs[0].data: FP32 data must be numbers"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})"), HasSubstr("inputs[0].data: missing"));
  EXPECT_THAT(error("{}", 10), HasSubstr("exceeds the body"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":8}}]})"),
              HasSubstr("exceeds the binary data"));
  const std::string h = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":3}}]})";
  EXPECT_THAT(error(h + "abc", h.size()), HasSubstr("not a whole number of FP32"));
  EXPECT_THAT(error(R"({"inputs":[],"id":7})"), HasSubstr("id: must be a string"));
}

TEST(V2Protocol, ShapesAreChecked) {
  auto error = [](const std::string& body) {
    absl::StatusOr<InferRequest> r = ParseInferRequest(body, 0);
    if (!r.ok()) return std::string(r.status().message());
    absl::StatusOr<v1::PredictRequest> p = ToPredict(*r, RowsModel());
    return p.ok() ? std::string("ok") : std::string(p.status().message());
  };
  EXPECT_EQ(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[4],"data":[1,2,3,4]}]})"), "ok");
  EXPECT_EQ(error(R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1,4],"data":[1,2,3,4]}]})"), "ok");
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]})"),
              HasSubstr("this model takes [N, 4]"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2,4],"data":[1,2,3,4]}]})"),
              HasSubstr("holds 8 values but 4 were given"));
  EXPECT_THAT(error(R"({"inputs":[]})"), HasSubstr("expected 1 input"));
  EXPECT_THAT(error(R"({"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["a"]}]})"),
              HasSubstr("not a numeric input"));
}

TEST(V2Protocol, RawAudioInput) {
  v1::HealthResponse m = RowsModel();
  m.mutable_featurizer()->set_name("logmel");
  m.set_window_s(0.96);
  const std::string body = R"({"inputs":[{"name":"raw","datatype":"INT16","shape":[3],"data":[1,-2,300],
      "parameters":{"sample_rate":16000}}]})";
  absl::StatusOr<InferRequest> req = ParseInferRequest(body, 0);
  ASSERT_TRUE(req.ok()) << req.status();
  absl::StatusOr<v1::PredictRequest> p = ToPredict(*req, m);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->raw().sample_rate(), 16000);
  EXPECT_EQ(p->raw().channels(), 1);
  EXPECT_EQ(p->raw().pcm16(), Bytes(std::vector<int16_t>{1, -2, 300}));
  req->inputs[0].sample_rate = 0;
  EXPECT_THAT(std::string(ToPredict(*req, m).status().message()), HasSubstr("sample_rate"));
  const ModelMetadata meta = MetadataOf(m);
  EXPECT_EQ(meta.inputs[0].name, "raw");
  EXPECT_EQ(json::parse(MetadataJson(meta))["parameters"]["featurizer"], "logmel");
}

TEST(V2Protocol, MetadataAndVersions) {
  const json j = json::parse(MetadataJson(MetadataOf(RowsModel())));
  EXPECT_EQ(j, json::parse(R"({"name":"fmnist","versions":["3"],"platform":"mliot",
      "inputs":[{"name":"features","datatype":"FP32","shape":[-1,4]}],
      "outputs":[{"name":"probabilities","datatype":"FP32","shape":[-1,3]},{"name":"label","datatype":"BYTES","shape":[-1]},
                 {"name":"stage","datatype":"INT32","shape":[-1]}],
      "parameters":{"class_names":["shirt","bag","shoe"]}})"));
  EXPECT_TRUE(CheckVersion("", RowsModel()).ok());
  EXPECT_TRUE(CheckVersion("3", RowsModel()).ok());
  EXPECT_EQ(CheckVersion("2", RowsModel()).code(), absl::StatusCode::kNotFound);
  InferRequest bad_output{.outputs = {{"nope"}}};
  EXPECT_THAT(std::string(FromPredict(bad_output, TwoRows(), RowsModel()).status().message()),
              HasSubstr("output 'nope' does not exist"));
}

}  // namespace
}  // namespace mliot::v2
