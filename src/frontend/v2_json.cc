#include "frontend/v2_json.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace mliot::v2 {

namespace {

using nlohmann::json;

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// The protocol allows `data` flat or nested row-major; both are flattened.
absl::Status Flatten(const json& data, const std::string& where, Tensor* t) {
  if (data.is_array()) {
    for (const json& v : data) {
      if (absl::Status s = Flatten(v, where, t); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (t->datatype == "BYTES") {
    if (!data.is_string()) return Bad(where, "BYTES data must be strings");
    t->bytes.push_back(data.get<std::string>());
  } else if (t->datatype == "BOOL") {
    if (!data.is_boolean()) return Bad(where, "BOOL data must be true or false");
    t->fp32.push_back(data.get<bool>() ? 1.0f : 0.0f);
  } else {
    if (!data.is_number()) return Bad(where, absl::StrCat(t->datatype, " data must be numbers, got ", data.type_name()));
    if (t->datatype == "INT16") {
      t->int16.push_back(static_cast<int16_t>(data.get<int64_t>()));
    } else if (t->datatype == "INT32") {
      t->int32.push_back(static_cast<int32_t>(data.get<int64_t>()));
    } else {
      t->fp32.push_back(data.get<float>());
    }
  }
  return absl::OkStatus();
}

template <typename T>
T LoadLittleEndian(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // x86-64 and aarch64 Linux are little-endian
  return v;
}

// One input's raw bytes (the binary tensor extension) as values.
absl::Status FromBinary(std::string_view bytes, const std::string& where, Tensor* t) {
  const std::string& d = t->datatype;
  const int size = ElementSize(d);
  if (d == "BYTES") {
    size_t at = 0;
    while (at < bytes.size()) {
      if (bytes.size() - at < 4) return Bad(where, "BYTES element length cut short");
      const uint32_t n = LoadLittleEndian<uint32_t>(bytes.data() + at);
      at += 4;
      if (bytes.size() - at < n) return Bad(where, "BYTES element cut short");
      t->bytes.emplace_back(bytes.substr(at, n));
      at += n;
    }
    return absl::OkStatus();
  }
  if (size == 0 || d == "FP16") return Bad(where, absl::StrCat("datatype ", d, " is not supported"));
  if (bytes.size() % static_cast<size_t>(size) != 0) {
    return Bad(where, absl::StrCat(bytes.size(), " bytes is not a whole number of ", d, " elements"));
  }
  const size_t n = bytes.size() / static_cast<size_t>(size);
  const char* p = bytes.data();
  for (size_t i = 0; i < n; ++i, p += size) {
    if (d == "FP32") t->fp32.push_back(LoadLittleEndian<float>(p));
    else if (d == "FP64") t->fp32.push_back(static_cast<float>(LoadLittleEndian<double>(p)));
    else if (d == "INT16") t->int16.push_back(LoadLittleEndian<int16_t>(p));
    else if (d == "INT32") t->int32.push_back(LoadLittleEndian<int32_t>(p));
    else if (d == "INT64") t->fp32.push_back(static_cast<float>(LoadLittleEndian<int64_t>(p)));
    else if (d == "UINT8" || d == "BOOL") t->fp32.push_back(static_cast<float>(static_cast<uint8_t>(*p)));
    else if (d == "INT8") t->fp32.push_back(static_cast<float>(static_cast<int8_t>(*p)));
    else if (d == "UINT16") t->fp32.push_back(static_cast<float>(LoadLittleEndian<uint16_t>(p)));
    else if (d == "UINT32") t->fp32.push_back(static_cast<float>(LoadLittleEndian<uint32_t>(p)));
    else t->fp32.push_back(static_cast<float>(LoadLittleEndian<uint64_t>(p)));
  }
  return absl::OkStatus();
}

// A parameter as a number (the protocol's JSON parameters are untyped).
double NumberParam(const json& params, const char* key) {
  if (!params.is_object()) return 0;
  auto it = params.find(key);
  return it != params.end() && it->is_number() ? it->get<double>() : 0;
}

bool BoolParam(const json& params, const char* key) {
  if (!params.is_object()) return false;
  auto it = params.find(key);
  return it != params.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

absl::StatusOr<InferRequest> ParseInferRequest(std::string_view body, size_t header_length) {
  if (header_length > body.size()) {
    return Bad("Inference-Header-Content-Length", absl::StrCat(header_length, " exceeds the body's ", body.size(),
                                                               " bytes"));
  }
  const std::string_view header = header_length > 0 ? body.substr(0, header_length) : body;
  std::string_view binary = header_length > 0 ? body.substr(header_length) : std::string_view();
  const json j = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("request body is not valid JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  InferRequest r;
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) return Bad("id", "must be a string");
    r.id = id->get<std::string>();
  }
  if (auto p = j.find("parameters"); p != j.end()) {
    r.binary_outputs = BoolParam(*p, "binary_data_output");
    r.sample_rate = NumberParam(*p, "sample_rate");
  }
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) return Bad("inputs", "must be an array");
  for (size_t i = 0; i < inputs->size(); ++i) {
    const json& in = (*inputs)[i];
    const std::string where = absl::StrCat("inputs[", i, "]");
    if (!in.is_object()) return Bad(where, "must be an object");
    Tensor t;
    auto name = in.find("name");
    auto datatype = in.find("datatype");
    auto shape = in.find("shape");
    if (name == in.end() || !name->is_string()) return Bad(where + ".name", "must be a string");
    if (datatype == in.end() || !datatype->is_string()) return Bad(where + ".datatype", "must be a string");
    if (shape == in.end() || !shape->is_array()) return Bad(where + ".shape", "must be an array of integers");
    t.name = name->get<std::string>();
    t.datatype = datatype->get<std::string>();
    if (ElementSize(t.datatype) == 0 && t.datatype != "BYTES") {
      return Bad(where + ".datatype", absl::StrCat("'", t.datatype, "' is not a protocol datatype"));
    }
    for (const json& d : *shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return Bad(where + ".shape", "must be non-negative integers");
      t.shape.push_back(d.get<int64_t>());
    }
    const json* params = nullptr;
    if (auto p = in.find("parameters"); p != in.end()) params = &*p;
    if (params != nullptr) t.sample_rate = NumberParam(*params, "sample_rate");
    const double binary_size = params != nullptr ? NumberParam(*params, "binary_data_size") : 0;
    if (params != nullptr && params->contains("binary_data_size")) {
      const auto n = static_cast<size_t>(binary_size);
      if (n > binary.size()) return Bad(where, "binary_data_size exceeds the binary data left in the body");
      if (absl::Status s = FromBinary(binary.substr(0, n), where, &t); !s.ok()) return s;
      binary.remove_prefix(n);
    } else {
      auto data = in.find("data");
      if (data == in.end()) return Bad(where + ".data", "missing (and no binary_data_size parameter)");
      if (absl::Status s = Flatten(*data, where + ".data", &t); !s.ok()) return s;
    }
    r.inputs.push_back(std::move(t));
  }
  if (!binary.empty()) return Bad("body", absl::StrCat(binary.size(), " bytes of binary data not claimed by any input"));
  if (auto outputs = j.find("outputs"); outputs != j.end()) {
    if (!outputs->is_array()) return Bad("outputs", "must be an array");
    for (size_t i = 0; i < outputs->size(); ++i) {
      const json& o = (*outputs)[i];
      const std::string where = absl::StrCat("outputs[", i, "]");
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string()) return Bad(where + ".name", "must be a string");
      OutputRequest out{.name = o["name"].get<std::string>()};
      if (auto p = o.find("parameters"); p != o.end()) {
        out.classification = static_cast<int>(NumberParam(*p, "classification"));
        out.binary = BoolParam(*p, "binary_data");
      }
      r.outputs.push_back(std::move(out));
    }
  }
  return r;
}

namespace {

json ShapeJson(const std::vector<int64_t>& shape) { return json(shape); }

void AppendBinary(const Tensor& t, std::string* out) {
  auto put = [out](const void* p, size_t n) { out->append(static_cast<const char*>(p), n); };
  if (t.datatype == "BYTES") {
    for (const std::string& s : t.bytes) {
      const auto n = static_cast<uint32_t>(s.size());
      put(&n, 4);
      out->append(s);
    }
  } else if (t.datatype == "INT32") {
    put(t.int32.data(), t.int32.size() * 4);
  } else if (t.datatype == "INT16") {
    put(t.int16.data(), t.int16.size() * 2);
  } else {
    put(t.fp32.data(), t.fp32.size() * 4);
  }
}

}  // namespace

std::string WriteInferResponse(const InferResult& result, size_t* header_length) {
  json j = {{"model_name", result.model_name}, {"model_version", result.model_version}};
  if (!result.id.empty()) j["id"] = result.id;
  json outputs = json::array();
  std::string binary;
  for (const Tensor& t : result.outputs) {
    json o = {{"name", t.name}, {"datatype", t.datatype}, {"shape", ShapeJson(t.shape)}};
    if (t.binary) {
      const size_t before = binary.size();
      AppendBinary(t, &binary);
      o["parameters"] = {{"binary_data_size", binary.size() - before}};
    } else if (t.datatype == "BYTES") {
      o["data"] = t.bytes;
    } else if (t.datatype == "INT32") {
      o["data"] = t.int32;
    } else if (t.datatype == "INT16") {
      o["data"] = t.int16;
    } else {
      o["data"] = t.fp32;
    }
    outputs.push_back(std::move(o));
  }
  j["outputs"] = std::move(outputs);
  std::string body = j.dump();
  *header_length = binary.empty() ? 0 : body.size();
  body += binary;
  return body;
}

std::string MetadataJson(const ModelMetadata& m) {
  auto tensors = [](const std::vector<TensorMetadata>& ts) {
    json a = json::array();
    for (const TensorMetadata& t : ts) a.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
    return a;
  };
  json params = {{"class_names", m.class_names}};
  if (!m.featurizer.empty()) {
    params["featurizer"] = m.featurizer;
    params["window_s"] = m.window_s;
  }
  const json j = {{"name", m.name},       {"versions", m.versions},        {"platform", "mliot"},
                  {"inputs", tensors(m.inputs)}, {"outputs", tensors(m.outputs)}, {"parameters", params}};
  return j.dump();
}

std::string ServerMetadataJson(const std::string& version) {
  return json{{"name", "mliot"}, {"version", version}, {"extensions", Extensions()}}.dump();
}

std::string ErrorJson(std::string_view message) {
  return json{{"error", std::string(message)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace mliot::v2
