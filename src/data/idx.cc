#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_util.h"

namespace mliot {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

int ElementSize(uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09:
      return 1;
    case 0x0B:
      return 2;
    case 0x0C:
    case 0x0D:
      return 4;
    case 0x0E:
      return 8;
    default:
      return 0;
  }
}

// Reads exactly `n` bytes; returns how many were read (fewer at end of file),
// or -1 on a decompression error.
int64_t ReadFully(gzFile file, uint8_t* out, int64_t n) {
  int64_t total = 0;
  while (total < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - total, 1 << 30));
    const int got = gzread(file, out + total, chunk);
    if (got < 0) return -1;
    if (got == 0) break;
    total += got;
  }
  return total;
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

float DecodeElement(const uint8_t* p, uint8_t type) {
  switch (type) {
    case 0x08:
      return static_cast<float>(p[0]);
    case 0x09:
      return static_cast<float>(static_cast<int8_t>(p[0]));
    case 0x0B:
      return static_cast<float>(static_cast<int16_t>((p[0] << 8) | p[1]));
    case 0x0C:
      return static_cast<float>(static_cast<int32_t>(BigEndian32(p)));
    case 0x0D: {
      const uint32_t bits = BigEndian32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case 0x0E: {
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
      double d;
      std::memcpy(&d, &bits, 8);
      return static_cast<float>(d);
    }
  }
  return 0.f;
}

}  // namespace

absl::StatusOr<IdxArray> ReadIdx(const std::string& path, int64_t max_items) {
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  uint8_t header[4];
  if (ReadFully(file.get(), header, 4) != 4) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated IDX header"));
  }
  const int elem = ElementSize(header[2]);
  if (header[0] != 0 || header[1] != 0 || elem == 0 || header[3] == 0 || header[3] > 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad IDX magic number 0x%02x%02x%02x%02x (expected 0x0000TTDD: type 08/09/0B/0C/0D/0E, "
        "1-4 dims)",
        path, header[0], header[1], header[2], header[3]));
  }
  IdxArray out;
  out.type = header[2];
  out.dims.resize(header[3]);
  for (auto& dim : out.dims) {
    uint8_t b[4];
    if (ReadFully(file.get(), b, 4) != 4) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": truncated IDX header"));
    }
    dim = BigEndian32(b);
  }
  if (max_items >= 0 && out.dims[0] > max_items) out.dims[0] = max_items;
  int64_t count = 1;
  for (int64_t dim : out.dims) {
    if (dim <= 0 || count > (int64_t{1} << 40) / dim) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": IDX dimension ", dim, " out of range"));
    }
    count *= dim;
  }
  const int64_t bytes = count * elem;
  std::vector<uint8_t> raw(static_cast<size_t>(bytes));
  const int64_t got = ReadFully(file.get(), raw.data(), bytes);
  if (got < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt gzip stream"));
  }
  if (got != bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated IDX payload: expected ",
                                                   bytes, " bytes, got ", got));
  }
  out.values.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out.values[i] = DecodeElement(raw.data() + i * elem, out.type);
  return out;
}

namespace {

absl::Status WriteIdx(const std::string& path, uint8_t type, const std::vector<int64_t>& dims,
                      const void* payload, size_t payload_bytes, bool gzip) {
  std::string header = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (int64_t dim : dims) {
    const uint32_t d = static_cast<uint32_t>(dim);
    header += {static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8), static_cast<char>(d)};
  }
  if (gzip) {
    // Level 1: 25 MB of Fashion-MNIST rows become 6.2 MB in 0.3 s; ReadIdx
    // reads both forms.
    GzFile out(gzopen(path.c_str(), "wb1"));
    if (!out) return absl::UnavailableError(absl::StrCat(path, ": cannot write"));
    const auto* p = static_cast<const char*>(payload);
    bool ok = gzwrite(out.get(), header.data(), static_cast<unsigned>(header.size())) == static_cast<int>(header.size());
    for (size_t done = 0; ok && done < payload_bytes;) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(payload_bytes - done, 1 << 24));
      ok = gzwrite(out.get(), p + done, chunk) == static_cast<int>(chunk);
      done += chunk;
    }
    if (gzclose(out.release()) != Z_OK || !ok) return absl::UnavailableError(absl::StrCat(path, ": write failed"));
    return absl::OkStatus();
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat(path, ": cannot write"));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(payload), static_cast<std::streamsize>(payload_bytes));
  out.flush();
  if (!out) return absl::UnavailableError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

template <typename T>
std::vector<uint8_t> ToBigEndian(const T* values, size_t n) {
  std::vector<uint8_t> bytes(n * sizeof(T));
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + b] = static_cast<uint8_t>(bits >> (24 - 8 * b));
  }
  return bytes;
}

}  // namespace

absl::Status WriteIdxFloat(const std::string& path, const std::vector<int64_t>& dims,
                           const float* values, bool gzip) {
  size_t n = 1;
  for (int64_t d : dims) n *= static_cast<size_t>(d);
  const std::vector<uint8_t> bytes = ToBigEndian(values, n);
  return WriteIdx(path, 0x0D, dims, bytes.data(), bytes.size(), gzip);
}

absl::Status WriteIdxInt32(const std::string& path, const std::vector<int32_t>& values, bool gzip) {
  const std::vector<uint8_t> bytes = ToBigEndian(values.data(), values.size());
  return WriteIdx(path, 0x0C, {static_cast<int64_t>(values.size())}, bytes.data(), bytes.size(), gzip);
}

absl::StatusOr<Dataset> LoadIdxDataset(const std::string& images_path,
                                       const std::string& labels_path, int64_t max_rows,
                                       std::vector<std::string> class_names) {
  MLIOT_ASSIGN_OR_RETURN(IdxArray images, ReadIdx(images_path, max_rows));
  MLIOT_ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(labels_path, max_rows));
  if (images.dims.size() < 2 || images.dims.size() > 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        images_path, ": IDX images need 2 or 3 dimensions, got ", images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        labels_path, ": IDX labels need 1 dimension, got ", labels.dims.size()));
  }
  if (labels.dims[0] != images.dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat(labels_path, ": ", labels.dims[0],
                                                   " labels for ", images.dims[0], " images in ",
                                                   images_path));
  }
  Dataset ds;
  ds.source = images_path;
  ds.rows = images.dims[0];
  ds.cols = images.dims[1] * (images.dims.size() == 3 ? images.dims[2] : 1);
  if (images.dims.size() == 3) {
    ds.shape = ImageShape{static_cast<int>(images.dims[1]), static_cast<int>(images.dims[2])};
  }
  ds.features = std::move(images.values);
  if (images.type == 0x08) {
    for (float& v : ds.features) v *= 1.0f / 255.0f;
  }
  int max_label = 0;
  ds.labels.resize(static_cast<size_t>(ds.rows));
  for (int64_t i = 0; i < ds.rows; ++i) {
    const float v = labels.values[i];
    if (v < 0 || v != static_cast<float>(static_cast<int32_t>(v)) || v > 100000) {
      return absl::InvalidArgumentError(
          absl::StrCat(labels_path, ": item ", i, ": label ", v, " is not a class number"));
    }
    ds.labels[i] = static_cast<int32_t>(v);
    max_label = std::max(max_label, ds.labels[i]);
  }
  if (class_names.empty()) {
    for (int c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));
  } else if (static_cast<int>(class_names.size()) <= max_label) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_path, ": label ", max_label, " has no class name"));
  }
  ds.class_names = std::move(class_names);
  return ds;
}

}  // namespace mliot
