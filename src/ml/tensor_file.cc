#include "ml/tensor_file.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mliot/v1/bundle.pb.h"

namespace mliot {

void TensorFile::Put(const std::string& name, std::vector<int64_t> shape, const float* data) {
  int64_t n = shape.empty() ? 0 : 1;  // an empty shape holds no data
  for (int64_t d : shape) n *= d;
  Entry& e = entries_[name];
  e.shape = std::move(shape);
  e.data.assign(data, data + n);
}

void TensorFile::PutText(const std::string& name, std::string text) {
  entries_[name].text = std::move(text);
}

absl::StatusOr<std::vector<float>> TensorFile::Get(const std::string& name,
                                                   const std::vector<int64_t>& shape) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::DataLossError(absl::StrCat(path_, ": no tensor '", name, "'"));
  }
  if (!shape.empty()) {
    bool match = shape.size() == it->second.shape.size();
    for (size_t i = 0; match && i < shape.size(); ++i) {
      match = shape[i] < 0 || shape[i] == it->second.shape[i];
    }
    if (!match) {
      return absl::DataLossError(absl::StrCat(path_, ": tensor '", name, "' has shape [",
                                              absl::StrJoin(it->second.shape, ","),
                                              "], expected [", absl::StrJoin(shape, ","), "]"));
    }
  }
  return it->second.data;
}

absl::StatusOr<std::vector<int64_t>> TensorFile::Shape(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::DataLossError(absl::StrCat(path_, ": no tensor '", name, "'"));
  }
  return it->second.shape;
}

absl::StatusOr<std::string> TensorFile::Text(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return absl::DataLossError(absl::StrCat(path_, ": no entry '", name, "'"));
  }
  return it->second.text;
}

absl::Status TensorFile::Write(const std::string& path) const {
  v1::TensorSet set;
  set.set_format(format_);
  for (const auto& [name, e] : entries_) {
    v1::Tensor* t = set.add_tensors();
    t->set_name(name);
    for (int64_t d : e.shape) t->add_shape(d);
    t->set_f32(std::string(reinterpret_cast<const char*>(e.data.data()), e.data.size() * sizeof(float)));
    t->set_text(e.text);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !set.SerializeToOstream(&out)) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot write weights"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TensorFile> TensorFile::Read(const std::string& path, const std::string& format) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open weights file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  v1::TensorSet set;
  if (!set.ParseFromString(buffer.str())) {
    return absl::DataLossError(absl::StrCat(path, ": not a weights file (bad protobuf)"));
  }
  if (set.format() != format) {
    return absl::DataLossError(absl::StrCat(path, ": weights format '", set.format(),
                                            "', expected '", format, "'"));
  }
  TensorFile file(format);
  file.path_ = path;
  for (const v1::Tensor& t : set.tensors()) {
    Entry& e = file.entries_[t.name()];
    e.shape.assign(t.shape().begin(), t.shape().end());
    int64_t n = e.shape.empty() ? 0 : 1;
    for (int64_t d : e.shape) n *= d;
    if (t.f32().size() != static_cast<size_t>(n) * sizeof(float)) {
      return absl::DataLossError(absl::StrCat(path, ": tensor '", t.name(), "' truncated"));
    }
    e.data.resize(static_cast<size_t>(n));
    if (n > 0) std::memcpy(e.data.data(), t.f32().data(), t.f32().size());
    e.text = t.text();
  }
  return file;
}

}  // namespace mliot
