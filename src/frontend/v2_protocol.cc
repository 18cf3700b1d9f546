#include "frontend/v2_protocol.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace mliot::v2 {

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

int64_t ValueCount(const Tensor& t) {
  if (t.datatype == "BYTES") return static_cast<int64_t>(t.bytes.size());
  if (t.datatype == "INT16") return static_cast<int64_t>(t.int16.size());
  if (t.datatype == "INT32") return static_cast<int64_t>(t.int32.size());
  return static_cast<int64_t>(t.fp32.size());
}

int ElementSize(const std::string& datatype) {
  if (datatype == "BOOL" || datatype == "UINT8" || datatype == "INT8") return 1;
  if (datatype == "UINT16" || datatype == "INT16" || datatype == "FP16") return 2;
  if (datatype == "UINT32" || datatype == "INT32" || datatype == "FP32") return 4;
  if (datatype == "UINT64" || datatype == "INT64" || datatype == "FP64") return 8;
  return 0;
}

const std::vector<std::string>& Extensions() {
  static const auto* kExtensions = new std::vector<std::string>{"classification", "binary_tensor_data"};
  return *kExtensions;
}

ModelMetadata MetadataOf(const v1::HealthResponse& model) {
  ModelMetadata m;
  m.name = model.task();
  m.versions = {absl::StrCat(model.version())};
  m.class_names.assign(model.class_names().begin(), model.class_names().end());
  const int64_t classes = model.class_names_size();
  if (model.has_featurizer()) {
    m.featurizer = model.featurizer().name();
    m.window_s = model.window_s();
    const int64_t channels = std::max(1, model.featurizer().channels_size());
    m.inputs.push_back({"raw", "FP32", {-1, channels}});
  } else {
    m.inputs.push_back({"features", "FP32", {-1, model.num_features()}});
  }
  m.outputs = {{"probabilities", "FP32", {-1, classes}}, {"label", "BYTES", {-1}}, {"stage", "INT32", {-1}}};
  return m;
}

absl::Status CheckVersion(const std::string& version, const v1::HealthResponse& model) {
  if (version.empty() || version == absl::StrCat(model.version())) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("model '", model.task(), "' version '", version,
                                          "' is not served (version ", model.version(), " serves)"));
}

namespace {

absl::Status Bad(const Tensor& t, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("input '", t.name, "': ", what));
}

double SampleRateOf(const InferRequest& request, const Tensor& t) {
  return t.sample_rate > 0 ? t.sample_rate : request.sample_rate;
}

}  // namespace

absl::StatusOr<v1::PredictRequest> ToPredict(const InferRequest& request, const v1::HealthResponse& model) {
  if (request.inputs.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("expected 1 input (", model.has_featurizer() ? "raw" : "features",
                                                   "), got ", request.inputs.size()));
  }
  const Tensor& t = request.inputs[0];
  const int64_t n = Elements(t.shape);
  if (t.shape.empty() || n < 0) return Bad(t, absl::StrCat("shape [", absl::StrJoin(t.shape, ","), "] is not valid"));
  if (n != ValueCount(t)) {
    return Bad(t, absl::StrCat("shape [", absl::StrJoin(t.shape, ","), "] holds ", n, " values but ",
                               ValueCount(t), " were given"));
  }
  if (t.datatype == "BYTES") return Bad(t, "datatype BYTES is not a numeric input");
  v1::PredictRequest out;
  out.set_task(model.task());
  if (model.has_featurizer()) {
    if (t.shape.size() > 2) return Bad(t, "raw samples are [frames] or [frames, channels]");
    const double rate = SampleRateOf(request, t);
    if (!(rate > 0)) return Bad(t, "raw input needs the `sample_rate` parameter (Hz)");
    v1::RawInput* raw = out.mutable_raw();
    raw->set_sample_rate(rate);
    raw->set_channels(t.shape.size() == 2 ? static_cast<int32_t>(t.shape[1]) : 1);
    if (t.datatype == "INT16") {
      std::string* pcm = raw->mutable_pcm16();
      pcm->resize(t.int16.size() * 2);
      for (size_t i = 0; i < t.int16.size(); ++i) {
        const auto v = static_cast<uint16_t>(t.int16[i]);
        (*pcm)[2 * i] = static_cast<char>(v & 0xff);
        (*pcm)[2 * i + 1] = static_cast<char>(v >> 8);
      }
    } else {
      raw->mutable_samples()->Add(t.fp32.begin(), t.fp32.end());
    }
    return out;
  }
  if (t.datatype == "INT16" || t.datatype == "INT32") {
    return Bad(t, absl::StrCat("datatype ", t.datatype, " is not accepted for features; send FP32"));
  }
  const int64_t f = model.num_features();
  const int64_t cols = t.shape.back();
  if (t.shape.size() > 2 || cols != f) {
    return Bad(t, absl::StrCat("shape [", absl::StrJoin(t.shape, ","), "]: this model takes [N, ", f, "] (FP32)"));
  }
  out.set_rows(static_cast<int32_t>(t.shape.size() == 2 ? t.shape[0] : 1));
  out.mutable_features()->Add(t.fp32.begin(), t.fp32.end());
  return out;
}

namespace {

// The classification extension: the K best classes of each row as
// "score:index:label".
Tensor Classification(const std::string& name, const v1::PredictResponse& response, int k,
                      const v1::HealthResponse& model) {
  Tensor t{.name = name, .datatype = "BYTES"};
  const int classes = model.class_names_size();
  k = std::min(k, classes);
  const auto rows = static_cast<int64_t>(response.predictions_size());
  t.shape = {rows, k};
  std::vector<int> order(static_cast<size_t>(classes));
  for (const v1::Prediction& p : response.predictions()) {
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int a, int b) { return p.certainties(a) > p.certainties(b); });
    for (int i = 0; i < k; ++i) {
      t.bytes.push_back(absl::StrFormat("%g:%d:%s", p.certainties(order[i]), order[i], model.class_names(order[i])));
    }
  }
  return t;
}

}  // namespace

absl::StatusOr<InferResult> FromPredict(const InferRequest& request, const v1::PredictResponse& response,
                                        const v1::HealthResponse& model) {
  InferResult r;
  r.model_name = model.task();
  r.model_version = absl::StrCat(response.version());
  r.id = request.id;
  r.worker_seconds = response.worker_latency_ms() / 1000;
  const int classes = model.class_names_size();
  const auto rows = static_cast<int64_t>(response.predictions_size());
  for (const v1::Prediction& p : response.predictions()) {
    if (p.certainties_size() != classes || p.label_index() < 0 || p.label_index() >= classes) {
      return absl::InternalError(absl::StrCat("the worker answered ", p.certainties_size(), " certainties for ",
                                              classes, " classes"));
    }
  }
  static const std::vector<std::string> kAll = {"probabilities", "label", "stage"};
  std::vector<OutputRequest> wanted = request.outputs;
  if (wanted.empty()) {
    for (const std::string& name : kAll) wanted.push_back({name, 0, request.binary_outputs});
  }
  for (const OutputRequest& o : wanted) {
    if (std::find(kAll.begin(), kAll.end(), o.name) == kAll.end()) {
      return absl::InvalidArgumentError(absl::StrCat("output '", o.name,
                                                     "' does not exist (outputs: probabilities, label, stage)"));
    }
    if (o.classification < 0) {
      return absl::InvalidArgumentError(absl::StrCat("output '", o.name, "': classification must be >= 0"));
    }
    Tensor t;
    if (o.classification > 0) {
      t = Classification(o.name, response, o.classification, model);
    } else if (o.name == "probabilities") {
      t = Tensor{.name = o.name, .datatype = "FP32", .shape = {rows, classes}};
      t.fp32.reserve(static_cast<size_t>(rows * classes));
      for (const v1::Prediction& p : response.predictions()) {
        t.fp32.insert(t.fp32.end(), p.certainties().begin(), p.certainties().end());
      }
    } else if (o.name == "label") {
      t = Tensor{.name = o.name, .datatype = "BYTES", .shape = {rows}};
      for (const v1::Prediction& p : response.predictions()) t.bytes.push_back(p.label());
    } else {
      t = Tensor{.name = o.name, .datatype = "INT32", .shape = {rows}};
      for (const v1::Prediction& p : response.predictions()) t.int32.push_back(p.stage());
    }
    t.binary = o.binary || request.binary_outputs;
    r.outputs.push_back(std::move(t));
  }
  return r;
}

}  // namespace mliot::v2
