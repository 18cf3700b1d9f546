#include "frontend/v2_grpc_service.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "frontend/infer_call.h"

namespace mliot::v2 {

namespace {

std::string BearerOfContext(const grpc::ServerContext& context) {
  const auto& md = context.client_metadata();
  auto it = md.find(kAuthorization);
  if (it == md.end()) return "";
  return BearerOf(std::string(it->second.data(), it->second.size()));
}

double NumberParam(const google::protobuf::Map<std::string, inference::InferParameter>& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end()) return 0;
  const inference::InferParameter& p = it->second;
  if (p.has_double_param()) return p.double_param();
  if (p.has_int64_param()) return static_cast<double>(p.int64_param());
  if (p.has_uint64_param()) return static_cast<double>(p.uint64_param());
  return 0;
}

absl::Status Bad(size_t i, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("inputs[", i, "]: ", what));
}

// The tensor's values from `contents` (typed fields).
absl::Status FromContents(const inference::InferTensorContents& c, size_t i, Tensor* t) {
  const std::string& d = t->datatype;
  if (d == "FP32") {
    t->fp32.assign(c.fp32_contents().begin(), c.fp32_contents().end());
  } else if (d == "FP64") {
    t->fp32.assign(c.fp64_contents().begin(), c.fp64_contents().end());
  } else if (d == "INT16") {
    t->int16.assign(c.int_contents().begin(), c.int_contents().end());
  } else if (d == "INT32") {
    t->int32.assign(c.int_contents().begin(), c.int_contents().end());
  } else if (d == "INT8") {
    t->fp32.assign(c.int_contents().begin(), c.int_contents().end());
  } else if (d == "UINT8" || d == "UINT16") {
    t->fp32.assign(c.uint_contents().begin(), c.uint_contents().end());
  } else if (d == "INT64") {
    t->fp32.assign(c.int64_contents().begin(), c.int64_contents().end());
  } else if (d == "BOOL") {
    t->fp32.assign(c.bool_contents().begin(), c.bool_contents().end());
  } else if (d == "BYTES") {
    t->bytes.assign(c.bytes_contents().begin(), c.bytes_contents().end());
  } else {
    return Bad(i, absl::StrCat("datatype '", d, "' is not supported"));
  }
  return absl::OkStatus();
}

// The tensor's values from raw little-endian bytes.
absl::Status FromRaw(const std::string& raw, size_t i, Tensor* t) {
  const std::string& d = t->datatype;
  const int size = ElementSize(d);
  if (d != "FP32" && d != "INT16" && d != "INT32" && d != "FP64") {
    return Bad(i, absl::StrCat("raw_input_contents of datatype '", d, "' is not supported (FP32, FP64, INT16, INT32)"));
  }
  if (raw.size() % static_cast<size_t>(size) != 0) {
    return Bad(i, absl::StrCat(raw.size(), " raw bytes is not a whole number of ", d, " elements"));
  }
  const size_t n = raw.size() / static_cast<size_t>(size);
  if (d == "FP32") {
    t->fp32.resize(n);
    std::memcpy(t->fp32.data(), raw.data(), raw.size());
  } else if (d == "INT16") {
    t->int16.resize(n);
    std::memcpy(t->int16.data(), raw.data(), raw.size());
  } else if (d == "INT32") {
    t->int32.resize(n);
    std::memcpy(t->int32.data(), raw.data(), raw.size());
  } else {
    std::vector<double> v(n);
    std::memcpy(v.data(), raw.data(), raw.size());
    t->fp32.assign(v.begin(), v.end());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InferRequest> FromGrpcRequest(const inference::ModelInferRequest& request) {
  InferRequest r;
  r.id = request.id();
  r.sample_rate = NumberParam(request.parameters(), "sample_rate");
  if (request.raw_input_contents_size() > 0 && request.raw_input_contents_size() != request.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat("raw_input_contents: ", request.raw_input_contents_size(),
                                                   " entries for ", request.inputs_size(), " inputs"));
  }
  for (int i = 0; i < request.inputs_size(); ++i) {
    const auto& in = request.inputs(i);
    Tensor t{.name = in.name(), .datatype = in.datatype()};
    t.shape.assign(in.shape().begin(), in.shape().end());
    t.sample_rate = NumberParam(in.parameters(), "sample_rate");
    const auto index = static_cast<size_t>(i);
    absl::Status s = request.raw_input_contents_size() > 0 ? FromRaw(request.raw_input_contents(i), index, &t)
                                                           : FromContents(in.contents(), index, &t);
    if (!s.ok()) return s;
    r.inputs.push_back(std::move(t));
  }
  for (const auto& o : request.outputs()) {
    r.outputs.push_back({o.name(), static_cast<int>(NumberParam(o.parameters(), "classification")), false});
  }
  return r;
}

void ToGrpcResponse(const InferResult& result, inference::ModelInferResponse* response) {
  response->set_model_name(result.model_name);
  response->set_model_version(result.model_version);
  response->set_id(result.id);
  for (const Tensor& t : result.outputs) {
    auto* o = response->add_outputs();
    o->set_name(t.name);
    o->set_datatype(t.datatype);
    o->mutable_shape()->Add(t.shape.begin(), t.shape.end());
    auto* c = o->mutable_contents();
    if (t.datatype == "BYTES") {
      c->mutable_bytes_contents()->Add(t.bytes.begin(), t.bytes.end());
    } else if (t.datatype == "INT32") {
      c->mutable_int_contents()->Add(t.int32.begin(), t.int32.end());
    } else {
      c->mutable_fp32_contents()->Add(t.fp32.begin(), t.fp32.end());
    }
  }
}

grpc::Status V2GrpcService::ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) {
  response->set_live(true);
  return grpc::Status::OK;
}

grpc::Status V2GrpcService::ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) {
  response->set_ready(router_->AnyTask());
  return grpc::Status::OK;
}

grpc::Status V2GrpcService::ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) {
  absl::StatusOr<v1::HealthResponse> model = router_->Model(request->name(), BearerOfContext(*context), false);
  if (!model.ok() && model.status().code() != absl::StatusCode::kUnavailable) return ToGrpc(model.status());
  response->set_ready(model.ok() && CheckVersion(request->version(), *model).ok());
  return grpc::Status::OK;
}

grpc::Status V2GrpcService::ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) {
  response->set_name("mliot");
  response->set_version(MLIOT_VERSION);
  for (const std::string& e : Extensions()) response->add_extensions(e);
  return grpc::Status::OK;
}

grpc::Status V2GrpcService::ModelMetadata(grpc::ServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) {
  absl::StatusOr<v1::HealthResponse> model = router_->Model(request->name(), BearerOfContext(*context), false);
  if (!model.ok()) return ToGrpc(model.status());
  if (absl::Status s = CheckVersion(request->version(), *model); !s.ok()) return ToGrpc(s);
  const v2::ModelMetadata m = MetadataOf(*model);
  response->set_name(m.name);
  for (const std::string& v : m.versions) response->add_versions(v);
  response->set_platform("mliot");
  auto add = [](const std::vector<TensorMetadata>& from, auto* to) {
    for (const TensorMetadata& t : from) {
      auto* x = to->Add();
      x->set_name(t.name);
      x->set_datatype(t.datatype);
      x->mutable_shape()->Add(t.shape.begin(), t.shape.end());
    }
  };
  add(m.inputs, response->mutable_inputs());
  add(m.outputs, response->mutable_outputs());
  // The class names travel in the initial metadata (the message has no
  // parameters field): `mliot-class-names`, comma-separated.
  std::string names;
  for (const std::string& c : m.class_names) absl::StrAppend(&names, names.empty() ? "" : ",", c);
  context->AddInitialMetadata("mliot-class-names", names);
  return grpc::Status::OK;
}

grpc::Status V2GrpcService::ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  const std::string bearer = BearerOfContext(*context);
  absl::StatusOr<InferResult> result = Infer(
      *router_, request->model_name(), request->model_version(), bearer, [&] { return FromGrpcRequest(*request); });
  if (observer_ != nullptr) observer_->Observe("v2-grpc", request->model_name(), result, start);
  if (!result.ok()) return ToGrpc(result.status());
  ToGrpcResponse(*result, response);
  return grpc::Status::OK;
}

}  // namespace mliot::v2
