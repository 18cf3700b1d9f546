// TensorFile: named float32 arrays saved as a mliot.v1.TensorSet protobuf.
// The weights format for state mliot computes itself (ridge, scaler, PCA,
// MLP inference weights); kinds with a library format use that instead.
//
//   TensorFile f("mliot.ridge.v1");
//   f.Put("W", {10, 784}, w.data());
//   MLIOT_RETURN_IF_ERROR(f.Write(path));
//   MLIOT_ASSIGN_OR_RETURN(TensorFile g, TensorFile::Read(path, "mliot.ridge.v1"));
//   MLIOT_ASSIGN_OR_RETURN(std::vector<float> w, g.Get("W", {10, 784}));
#ifndef MLIOT_ML_TENSOR_FILE_H_
#define MLIOT_ML_TENSOR_FILE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

class TensorFile {
 public:
  explicit TensorFile(std::string format) : format_(std::move(format)) {}

  void Put(const std::string& name, std::vector<int64_t> shape, const float* data);
  void PutText(const std::string& name, std::string text);

  // Returns the array `name`; when `shape` is non-empty it must match
  // (-1 matches any size in that position). Errors name the file.
  absl::StatusOr<std::vector<float>> Get(const std::string& name,
                                         const std::vector<int64_t>& shape = {}) const;
  absl::StatusOr<std::vector<int64_t>> Shape(const std::string& name) const;
  absl::StatusOr<std::string> Text(const std::string& name) const;

  absl::Status Write(const std::string& path) const;
  // Reads `path` and checks its format tag.
  static absl::StatusOr<TensorFile> Read(const std::string& path, const std::string& format);

 private:
  struct Entry {
    std::vector<int64_t> shape;
    std::vector<float> data;
    std::string text;
  };
  std::string format_;
  std::string path_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mliot

#endif  // MLIOT_ML_TENSOR_FILE_H_
