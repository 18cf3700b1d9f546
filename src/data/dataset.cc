#include "data/dataset.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace mliot {

Dataset Dataset::Subset(std::span<const int64_t> indices) const {
  Dataset out;
  out.rows = static_cast<int64_t>(indices.size());
  out.cols = cols;
  out.class_names = class_names;
  out.feature_names = feature_names;
  out.shape = shape;
  out.source = source;
  out.features.resize(static_cast<size_t>(out.rows * cols));
  out.labels.resize(indices.size());
  if (!groups.empty()) out.groups.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    std::copy_n(row(indices[i]), cols, out.features.data() + static_cast<int64_t>(i) * cols);
    out.labels[i] = labels[static_cast<size_t>(indices[i])];
    if (!groups.empty()) out.groups[i] = groups[static_cast<size_t>(indices[i])];
  }
  return out;
}

absl::Status Dataset::Append(const Dataset& other) {
  if (other.rows == 0) return absl::OkStatus();
  if (rows > 0 && other.cols != cols) {
    return absl::InvalidArgumentError(absl::StrCat(other.source, ": rows have ", other.cols,
                                                   " features, expected ", cols));
  }
  if (rows == 0) {
    cols = other.cols;
    shape = other.shape;
    if (feature_names.empty()) feature_names = other.feature_names;
  }
  absl::flat_hash_map<std::string, int32_t> index;
  for (size_t i = 0; i < class_names.size(); ++i) index[class_names[i]] = static_cast<int32_t>(i);
  // Only classes that rows of `other` use are added (in class order).
  std::vector<bool> used(other.class_names.size(), false);
  for (int32_t label : other.labels) {
    if (label >= 0) used[label] = true;
  }
  std::vector<int32_t> map(other.class_names.size(), -1);
  for (size_t i = 0; i < other.class_names.size(); ++i) {
    auto it = index.find(other.class_names[i]);
    if (it != index.end()) {
      map[i] = it->second;
    } else if (used[i]) {
      map[i] = static_cast<int32_t>(class_names.size());
      index[other.class_names[i]] = map[i];
      class_names.push_back(other.class_names[i]);
    }
  }
  features.insert(features.end(), other.features.begin(), other.features.end());
  for (int32_t label : other.labels) labels.push_back(label < 0 ? label : map[label]);
  // Groups stay distinct: other's groups are numbered after this set's.
  if (!groups.empty() || !other.groups.empty()) {
    int32_t offset = 0;
    if (groups.empty()) {
      groups.resize(static_cast<size_t>(rows));
      for (int64_t i = 0; i < rows; ++i) groups[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    }
    for (int32_t g : groups) offset = std::max(offset, g + 1);
    for (int64_t i = 0; i < other.rows; ++i) {
      groups.push_back(offset + (other.groups.empty() ? static_cast<int32_t>(i)
                                                      : other.groups[static_cast<size_t>(i)]));
    }
  }
  rows += other.rows;
  return absl::OkStatus();
}

std::vector<int64_t> Dataset::ClassCounts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (int32_t label : labels) {
    if (label >= 0 && label < num_classes()) ++counts[label];
  }
  return counts;
}

absl::Status Dataset::Validate() const {
  if (rows < 0 || cols <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no feature columns"));
  }
  if (features.size() != static_cast<size_t>(rows * cols) ||
      labels.size() != static_cast<size_t>(rows)) {
    return absl::InternalError(absl::StrCat(source, ": inconsistent dataset sizes"));
  }
  if (!groups.empty() && groups.size() != static_cast<size_t>(rows)) {
    return absl::InternalError(absl::StrCat(source, ": inconsistent group count"));
  }
  if (shape && static_cast<int64_t>(shape->height) * shape->width != cols) {
    return absl::InternalError(absl::StrCat(source, ": image shape does not match columns"));
  }
  for (int32_t label : labels) {
    if (label < -1 || label >= num_classes()) {
      return absl::InternalError(absl::StrCat(source, ": label index out of range"));
    }
  }
  return absl::OkStatus();
}

int64_t RemapLabels(Dataset& data, const std::vector<std::string>& class_names) {
  absl::flat_hash_map<std::string, int32_t> index;
  for (size_t i = 0; i < class_names.size(); ++i) index[class_names[i]] = static_cast<int32_t>(i);
  int64_t unknown = 0;
  for (int32_t& label : data.labels) {
    if (label < 0) {
      ++unknown;
      continue;
    }
    auto it = index.find(data.class_names[label]);
    if (it == index.end()) {
      label = -1;
      ++unknown;
    } else {
      label = it->second;
    }
  }
  data.class_names = class_names;
  return unknown;
}

namespace {

// The units a split assigns: one row each, or every row of a group. Units
// are listed per class (a group's class is its most frequent label) and
// shuffled within each class.
std::vector<std::vector<std::vector<int64_t>>> ShuffledUnitsByClass(const Dataset& data,
                                                                     uint64_t seed) {
  std::vector<std::vector<std::vector<int64_t>>> by_class(data.class_names.size());
  if (data.groups.empty()) {
    for (int64_t i = 0; i < data.rows; ++i) {
      const int32_t label = data.labels[static_cast<size_t>(i)];
      if (label >= 0) by_class[label].push_back({i});
    }
  } else {
    std::map<int32_t, std::vector<int64_t>> members;  // ordered: deterministic
    for (int64_t i = 0; i < data.rows; ++i) {
      if (data.labels[static_cast<size_t>(i)] >= 0) members[data.groups[static_cast<size_t>(i)]].push_back(i);
    }
    for (auto& [group, rows] : members) {
      std::vector<int64_t> count(data.class_names.size(), 0);
      for (int64_t r : rows) ++count[data.labels[static_cast<size_t>(r)]];
      const auto majority = std::max_element(count.begin(), count.end()) - count.begin();
      by_class[majority].push_back(std::move(rows));
    }
  }
  std::mt19937_64 rng(seed);
  for (auto& units : by_class) std::shuffle(units.begin(), units.end(), rng);
  return by_class;
}

}  // namespace

std::pair<std::vector<int64_t>, std::vector<int64_t>> StratifiedSplit(const Dataset& data,
                                                                      double second_fraction,
                                                                      uint64_t seed) {
  std::vector<int64_t> first, second;
  for (const auto& units : ShuffledUnitsByClass(data, seed)) {
    // Every class with at least two units keeps at least one on each side.
    int64_t n_second = static_cast<int64_t>(std::llround(second_fraction * units.size()));
    if (units.size() >= 2) n_second = std::clamp<int64_t>(n_second, 1, units.size() - 1);
    else n_second = 0;
    for (size_t i = 0; i < units.size(); ++i) {
      std::vector<int64_t>& side = static_cast<int64_t>(i) < n_second ? second : first;
      side.insert(side.end(), units[i].begin(), units[i].end());
    }
  }
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  return {std::move(first), std::move(second)};
}

std::vector<int> StratifiedFolds(const Dataset& data, int k, uint64_t seed) {
  std::vector<int> fold(static_cast<size_t>(data.rows), 0);
  int next = 0;
  for (const auto& units : ShuffledUnitsByClass(data, seed)) {
    for (const std::vector<int64_t>& unit : units) {
      for (int64_t row : unit) fold[static_cast<size_t>(row)] = next;
      next = (next + 1) % k;
    }
  }
  return fold;
}

}  // namespace mliot
