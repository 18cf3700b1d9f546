#include "data/sensor_recording.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_util.h"
#include "data/csv.h"

namespace mliot {
namespace fs = std::filesystem;

absl::StatusOr<SensorRecording> ReadSensorCsv(const std::string& path, const std::string& time_column,
                                              const std::string& label_column, bool require_label) {
  CsvOptions options;
  options.label_column = label_column;
  options.require_label = require_label;
  options.require_two_classes = false;
  MLIOT_ASSIGN_OR_RETURN(TimedCsv csv, LoadTimedCsv(path, options, time_column));
  SensorRecording r;
  r.path = path;
  r.t_ms = std::move(csv.times);
  r.channels = csv.data.feature_names;
  r.values = std::move(csv.data.features);
  for (size_t i = 1; i < r.t_ms.size(); ++i) {
    if (r.t_ms[i] < r.t_ms[i - 1]) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: timestamps do not increase at reading %d (%.0f then %.0f)", path, i + 1, r.t_ms[i - 1], r.t_ms[i]));
    }
  }
  // A reading with the same timestamp as the one before (sensors batch
  // readings; real recordings have them) is dropped: the first one stands.
  {
    const size_t nc = r.channels.size();
    size_t kept = 0;
    std::vector<int32_t> label_index = csv.data.labels;
    for (size_t i = 0; i < r.t_ms.size(); ++i) {
      if (i > 0 && r.t_ms[i] == r.t_ms[kept - 1]) continue;
      r.t_ms[kept] = r.t_ms[i];
      std::copy_n(r.values.begin() + i * nc, nc, r.values.begin() + kept * nc);
      if (!label_index.empty()) label_index[kept] = label_index[i];
      ++kept;
    }
    r.t_ms.resize(kept);
    r.values.resize(kept * nc);
    if (!label_index.empty()) label_index.resize(kept);
    csv.data.labels = std::move(label_index);
  }
  if (r.t_ms.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": fewer than two readings"));
  }
  for (float v : r.values) {
    if (std::isnan(v)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a missing channel value (sensor recordings must be complete)"));
    }
  }
  for (int32_t label : csv.data.labels) {
    if (label >= 0) r.labels.push_back(csv.data.class_names[label]);
  }
  if (!r.labels.empty() && r.labels.size() != r.t_ms.size()) r.labels.clear();
  return r;
}

namespace {

// Linear interpolation of channel c of `r` at time t (inside its span).
// `cursor` only moves forward, so a pass over increasing times is linear.
float Interpolate(const SensorRecording& r, size_t c, double t, size_t& cursor) {
  const size_t nc = r.channels.size();
  while (cursor + 2 < r.t_ms.size() && r.t_ms[cursor + 1] <= t) ++cursor;
  const double t0 = r.t_ms[cursor], t1 = r.t_ms[cursor + 1];
  const double w = std::clamp((t - t0) / (t1 - t0), 0.0, 1.0);
  const float a = r.values[cursor * nc + c], b = r.values[(cursor + 1) * nc + c];
  return static_cast<float>(a + w * (b - a));
}

}  // namespace

absl::StatusOr<AlignedRecording> AlignRecordings(const std::vector<SensorRecording>& devices,
                                                 const std::vector<std::string>& device_names,
                                                 double rate_hz) {
  if (devices.empty() || !(rate_hz > 0)) return absl::InvalidArgumentError("nothing to align");
  double start = -INFINITY, end = INFINITY;
  for (const SensorRecording& d : devices) {
    start = std::max(start, d.t_ms.front());
    end = std::min(end, d.t_ms.back());
  }
  const double step_ms = 1000.0 / rate_hz;
  const int64_t frames = end > start ? static_cast<int64_t>(std::floor((end - start) / step_ms)) + 1 : 0;
  if (frames < 2) {
    std::string names;
    for (const SensorRecording& d : devices) absl::StrAppend(&names, names.empty() ? "" : ", ", d.path);
    return absl::InvalidArgumentError(absl::StrCat(names, ": the devices' recordings do not overlap in time"));
  }
  AlignedRecording out;
  Signal& s = out.signal;
  s.sample_rate = rate_hz;
  for (size_t d = 0; d < devices.size(); ++d) {
    for (const std::string& c : devices[d].channels) {
      s.channel_names.push_back(devices.size() > 1 ? absl::StrCat(device_names[d], ".", c) : c);
    }
  }
  s.channels = static_cast<int>(s.channel_names.size());
  s.samples.resize(static_cast<size_t>(frames * s.channels));
  int offset = 0;
  for (const SensorRecording& d : devices) {
    for (size_t c = 0; c < d.channels.size(); ++c) {
      size_t cursor = 0;
      for (int64_t f = 0; f < frames; ++f) {
        s.samples[f * s.channels + offset + c] = Interpolate(d, c, start + f * step_ms, cursor);
      }
    }
    offset += static_cast<int>(d.channels.size());
  }
  const SensorRecording& first = devices.front();
  if (!first.labels.empty()) {
    size_t cursor = 0;
    out.labels.reserve(static_cast<size_t>(frames));
    for (int64_t f = 0; f < frames; ++f) {
      const double t = start + f * step_ms;
      while (cursor + 1 < first.t_ms.size() && first.t_ms[cursor + 1] <= t) ++cursor;
      const bool next_nearer = cursor + 1 < first.t_ms.size() &&
                               first.t_ms[cursor + 1] - t < t - first.t_ms[cursor];
      out.labels.push_back(first.labels[next_nearer ? cursor + 1 : cursor]);
    }
  }
  return out;
}

absl::StatusOr<std::vector<SensorRecordingFiles>> ListSensorFolder(const std::string& dir,
                                                                   const std::vector<std::string>& devices) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory (expected CSV recordings)"));
  }
  // stem -> path per device
  std::map<std::string, std::map<std::string, std::string>> stems;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || !absl::EndsWith(name, ".csv")) continue;
    const std::string path = it->path().string();
    if (devices.empty()) {
      stems[path.substr(0, path.size() - 4)][""] = path;
      continue;
    }
    for (const std::string& d : devices) {
      const std::string suffix = absl::StrCat("_", d, ".csv");
      if (absl::EndsWith(path, suffix)) stems[path.substr(0, path.size() - suffix.size())][d] = path;
    }
  }
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": ", ec.message()));
  std::vector<SensorRecordingFiles> out;
  for (auto& [stem, by_device] : stems) {
    SensorRecordingFiles files{stem, {}};
    if (devices.empty()) {
      files.paths.push_back(by_device[""]);
    } else {
      for (const std::string& d : devices) {
        auto found = by_device.find(d);
        if (found == by_device.end()) {
          return absl::InvalidArgumentError(absl::StrCat(stem, "_", d, ".csv: missing (recording ", stem,
                                                         " has no file for device '", d, "')"));
        }
        files.paths.push_back(found->second);
      }
    }
    out.push_back(std::move(files));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": no sensor recordings (*.csv",
                                                   devices.empty() ? "" : ", STEM_<device>.csv", ")"));
  }
  return out;
}

}  // namespace mliot
