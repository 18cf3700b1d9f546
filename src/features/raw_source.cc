#include "features/raw_source.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_util.h"
#include "common/thread_pool.h"
#include "data/audio_file.h"
#include "data/sensor_recording.h"

namespace mliot {
namespace {

// One recording, read and featurized.
struct Piece {
  Signal signal;
  std::string name;
  std::vector<FrameRange> windows;
  std::vector<float> rows;
  std::vector<std::string> labels;  // per window ("" when unlabelled)
};

// The label of most frames in [begin, end); ties go to the earliest.
std::string MajorityLabel(const std::vector<std::string>& labels, FrameRange w) {
  std::map<std::string, int64_t> count;
  for (int64_t i = w.begin; i < w.end; ++i) ++count[labels[i]];
  std::string best;
  int64_t best_count = -1;
  for (int64_t i = w.begin; i < w.end; ++i) {
    const int64_t c = count[labels[i]];
    if (c > best_count) {
      best_count = c;
      best = labels[i];
    }
  }
  return best;
}

// Runs `read` for every index on a pool; the first error wins.
template <typename Fn>
absl::Status ForEachParallel(size_t n, int threads, Fn read) {
  absl::Mutex mu;
  absl::Status first;
  {
    ThreadPool pool(std::max(1, std::min<int>(threads > 0 ? threads : ThreadPool::DefaultSize(),
                                               static_cast<int>(n))));
    for (size_t i = 0; i < n; ++i) {
      pool.Schedule([&, i] {
        absl::Status s = read(i);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first.ok()) first = s;
        }
      });
    }
    pool.Wait();
  }
  return first;
}

absl::StatusOr<std::vector<Piece>> ReadAudio(const std::string& dir, const Featurizer& f,
                                             const RawSourceOptions& o) {
  MLIOT_ASSIGN_OR_RETURN(std::vector<AudioClipFile> clips, ListAudioFolder(dir, !o.for_training));
  std::vector<Piece> pieces(clips.size());
  MLIOT_RETURN_IF_ERROR(ForEachParallel(clips.size(), o.threads, [&](size_t i) -> absl::Status {
    Piece& p = pieces[i];
    p.name = clips[i].path;
    MLIOT_ASSIGN_OR_RETURN(p.signal, ReadAudioFile(clips[i].path));
    int64_t rows = 0;
    absl::StatusOr<std::vector<float>> featurized = f.FeaturizeAll(p.signal, &rows);
    if (!featurized.ok()) return Annotate(featurized.status(), clips[i].path);
    p.rows = *std::move(featurized);
    p.windows = f.Windows(p.signal.frames(), p.signal.sample_rate);
    p.labels.assign(p.windows.size(), clips[i].class_name);
    return absl::OkStatus();
  }));
  return pieces;
}

absl::StatusOr<std::vector<Piece>> ReadSensors(const std::string& dir, FeaturizerConfig& config,
                                               const RawSourceOptions& o) {
  MLIOT_ASSIGN_OR_RETURN(std::vector<SensorRecordingFiles> files, ListSensorFolder(dir, config.devices));
  MLIOT_ASSIGN_OR_RETURN(const FeaturizerConfig complete, CompleteFeaturizerConfig(config));
  const double rate = complete.params.Double("rate_hz");
  std::vector<Piece> pieces(files.size());
  std::vector<AlignedRecording> aligned(files.size());
  MLIOT_RETURN_IF_ERROR(ForEachParallel(files.size(), o.threads, [&](size_t i) -> absl::Status {
    std::vector<SensorRecording> devices;
    for (const std::string& path : files[i].paths) {
      MLIOT_ASSIGN_OR_RETURN(SensorRecording r,
                             ReadSensorCsv(path, o.time_column, o.label_column, o.for_training));
      devices.push_back(std::move(r));
    }
    MLIOT_ASSIGN_OR_RETURN(aligned[i], AlignRecordings(devices, config.devices, rate));
    return absl::OkStatus();
  }));
  // The channels: the trained ones (from a bundle) or the first recording's.
  if (config.channels.empty()) config.channels = aligned[0].signal.channel_names;
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Featurizer> f, MakeFeaturizer(config));
  MLIOT_RETURN_IF_ERROR(ForEachParallel(files.size(), o.threads, [&](size_t i) -> absl::Status {
    Piece& p = pieces[i];
    p.name = files[i].stem;
    p.signal = std::move(aligned[i].signal);
    const std::string where = absl::StrJoin(files[i].paths, " + ");
    if (p.signal.channel_names != config.channels) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": channels (", absl::StrJoin(p.signal.channel_names, ", "),
                                                     ") differ from ", absl::StrJoin(config.channels, ", ")));
    }
    p.windows = f->Windows(p.signal.frames(), p.signal.sample_rate);
    if (p.windows.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": recording shorter than one window (",
                                                     p.signal.seconds(), " s)"));
    }
    int64_t rows = 0;
    absl::StatusOr<std::vector<float>> featurized = f->FeaturizeAll(p.signal, &rows);
    if (!featurized.ok()) return Annotate(featurized.status(), where);
    p.rows = *std::move(featurized);
    for (const FrameRange& w : p.windows) {
      p.labels.push_back(aligned[i].labels.empty() ? "" : MajorityLabel(aligned[i].labels, w));
    }
    return absl::OkStatus();
  }));
  return pieces;
}

}  // namespace

bool IsRawDataSpec(absl::string_view spec) {
  return absl::StartsWith(spec, "audio:") || absl::StartsWith(spec, "sensor:");
}

absl::StatusOr<RawDataset> LoadRawDataset(absl::string_view spec, FeaturizerConfig config,
                                          const RawSourceOptions& o) {
  const bool audio = absl::StartsWith(spec, "audio:");
  if (!IsRawDataSpec(spec)) {
    return absl::InvalidArgumentError(absl::StrCat("data spec '", spec, "': expected audio:DIR or sensor:DIR"));
  }
  const std::string dir(spec.substr(spec.find(':') + 1));
  if (dir.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("data spec '", spec, "': expected ", audio ? "audio" : "sensor", ":DIR"));
  }
  if (config.name.empty()) config.name = audio ? "logmel" : "sensor_stats";
  std::vector<Piece> pieces;
  std::unique_ptr<Featurizer> featurizer;
  if (audio) {
    MLIOT_ASSIGN_OR_RETURN(featurizer, MakeFeaturizer(config));
    if (featurizer->required_rate() > 0) {
      return absl::InvalidArgumentError(absl::StrCat("features ", config.name, " is for sensor data, not audio:"));
    }
    MLIOT_ASSIGN_OR_RETURN(pieces, ReadAudio(dir, *featurizer, o));
  } else {
    if (config.name == "logmel") {
      return absl::InvalidArgumentError("features logmel is for audio data, not sensor:");
    }
    MLIOT_ASSIGN_OR_RETURN(pieces, ReadSensors(dir, config, o));
    MLIOT_ASSIGN_OR_RETURN(featurizer, MakeFeaturizer(config));
  }
  RawDataset out;
  out.featurizer = featurizer->config();
  out.featurizer.devices = config.devices;
  Dataset& ds = out.data;
  ds.source = std::string(spec);
  ds.cols = featurizer->num_features();
  ds.shape = featurizer->shape();
  ds.feature_names = featurizer->feature_names();
  std::vector<std::string> names;
  for (const Piece& p : pieces) {
    for (const std::string& l : p.labels) {
      if (!l.empty()) names.push_back(l);
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  ds.class_names = names;
  for (size_t r = 0; r < pieces.size(); ++r) {
    Piece& p = pieces[r];
    ds.features.insert(ds.features.end(), p.rows.begin(), p.rows.end());
    for (size_t w = 0; w < p.windows.size(); ++w) {
      const std::string& l = p.labels[w];
      ds.labels.push_back(l.empty() ? -1 : static_cast<int32_t>(std::lower_bound(names.begin(), names.end(), l) - names.begin()));
      ds.groups.push_back(static_cast<int32_t>(r));
      out.windows.push_back({static_cast<int32_t>(r), p.windows[w]});
    }
    ds.rows += static_cast<int64_t>(p.windows.size());
    out.recordings.push_back(std::move(p.signal));
    out.recording_names.push_back(std::move(p.name));
  }
  if (o.for_training) {
    if (ds.rows == 0) return absl::InvalidArgumentError(absl::StrCat(spec, ": no rows"));
    if (names.size() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(spec, ": fewer than two classes (",
                                                     absl::StrJoin(names, ", "), "); a classifier needs at least two"));
    }
  }
  MLIOT_RETURN_IF_ERROR(ds.Validate());
  return out;
}

}  // namespace mliot
