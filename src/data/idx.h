// IDX files (the MNIST format), gzipped or plain.
//
// An IDX file is a big-endian header {0, 0, type, ndims, dim[0..ndims)}
// followed by the payload. Images are ndims 3 (n, height, width) or 2 (n,
// cols); labels are ndims 1. Unsigned-byte images are scaled to [0, 1].
#ifndef MLIOT_DATA_IDX_H_
#define MLIOT_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace mliot {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<float> values;  // converted to float; u8 kept as 0..255 here
  uint8_t type = 0;           // 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
};

// Reads one IDX file. At most `max_items` entries along the first dimension
// are read (-1 for all). Errors name the file: missing, bad magic number,
// unknown type, truncated payload.
absl::StatusOr<IdxArray> ReadIdx(const std::string& path, int64_t max_items = -1);

// Writes `values` as an uncompressed f32 (type 0x0D) IDX file, or i32 labels.
// With `gzip`, the file is gzip-compressed (level 1); ReadIdx reads both.
absl::Status WriteIdxFloat(const std::string& path, const std::vector<int64_t>& dims,
                           const float* values, bool gzip = false);
absl::Status WriteIdxInt32(const std::string& path, const std::vector<int32_t>& values, bool gzip = false);

// Loads an images file and a labels file into a Dataset. Classes are named
// by their numbers ("0".."9") unless `class_names` is given.
absl::StatusOr<Dataset> LoadIdxDataset(const std::string& images_path,
                                       const std::string& labels_path, int64_t max_rows = -1,
                                       std::vector<std::string> class_names = {});

}  // namespace mliot

#endif  // MLIOT_DATA_IDX_H_
