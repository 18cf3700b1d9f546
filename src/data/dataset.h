// Dataset: a labelled table of float32 rows, the unit every loader produces
// and every trainer consumes.
//
//   features  rows x cols, row-major
//   labels    one class index per row, in [0, class_names.size())
//   shape     optional 2-D (height, width) with height * width == cols, set
//             for images and log-mel patches so that `cnn` can use the layout
//   groups    optional: the recording (audio clip, sensor recording) each row
//             was cut from; splits and folds keep a group on one side
//
// A Dataset is a plain value: copyable, movable, not thread-safe for writes.
#ifndef MLIOT_DATA_DATASET_H_
#define MLIOT_DATA_DATASET_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mliot {

struct ImageShape {
  int height = 0;
  int width = 0;
  bool operator==(const ImageShape&) const = default;
};

struct Dataset {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> features;
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;
  std::vector<std::string> feature_names;  // optional; empty or cols long
  std::vector<int32_t> groups;             // optional; empty or rows long
  std::optional<ImageShape> shape;
  std::string source;  // where it came from, for messages

  int num_classes() const { return static_cast<int>(class_names.size()); }
  const float* row(int64_t i) const { return features.data() + i * cols; }
  std::span<const float> row_span(int64_t i) const { return {row(i), static_cast<size_t>(cols)}; }

  // Rows at `indices`, in that order, with the same classes and shape.
  Dataset Subset(std::span<const int64_t> indices) const;
  // Appends the rows of `other` (same cols); its labels are re-mapped by class
  // name, adding classes this set has not seen (and `other` uses) at the end.
  absl::Status Append(const Dataset& other);
  // Number of rows per class.
  std::vector<int64_t> ClassCounts() const;
  // Checks the invariants above; the message names `source`.
  absl::Status Validate() const;
};

// Re-maps the labels of `data` onto `class_names` (matching by name). Rows
// whose class is not in `class_names` get label -1.
// Returns the number of such rows.
int64_t RemapLabels(Dataset& data, const std::vector<std::string>& class_names);

// A stratified split: returns (first, second) index lists with about
// `second_fraction` of each class in the second. Deterministic for a seed.
// When the data has groups, whole groups are assigned (stratified by each
// group's majority label), so no recording has rows on both sides.
std::pair<std::vector<int64_t>, std::vector<int64_t>> StratifiedSplit(
    const Dataset& data, double second_fraction, uint64_t seed);

// Stratified k-fold assignment: fold index per row, in [0, k). With groups,
// every row of a group is in the same fold.
std::vector<int> StratifiedFolds(const Dataset& data, int k, uint64_t seed);

}  // namespace mliot

#endif  // MLIOT_DATA_DATASET_H_
