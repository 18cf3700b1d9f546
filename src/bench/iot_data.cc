#include "bench/iot_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "data/audio_file.h"
#include "data/source.h"
#include "features/raw_source.h"
#include "features/resample.h"
#include "ml/hpo/strategy.h"
#include "nlohmann/json.hpp"
#include "train/trainer.h"

namespace mliot::bench {
namespace fs = std::filesystem;

// DCASE split by clip: every fourth clip of a class (in name order) is a test clip.
absl::Status SplitDcase(const std::string& src, const std::string& train, const std::string& test) {
  std::error_code ec;
  for (const fs::directory_entry& cls : fs::directory_iterator(src, ec)) {
    if (!cls.is_directory()) continue;
    std::vector<fs::path> clips;
    for (const fs::directory_entry& c : fs::directory_iterator(cls.path())) {
      if (c.is_regular_file()) clips.push_back(c.path());
    }
    std::sort(clips.begin(), clips.end());
    const std::string name = cls.path().filename().string();
    fs::create_directories(train + "/" + name);
    fs::create_directories(test + "/" + name);
    for (size_t i = 0; i < clips.size(); ++i) {
      fs::create_symlink(fs::absolute(clips[i]), ((i % 4 == 3) ? test : train) + "/" + name + "/" +
                                                     clips[i].filename().string());
    }
  }
  return ec ? absl::UnavailableError(absl::StrCat(src, ": ", ec.message())) : absl::OkStatus();
}

// sp-sw-har split by subject: s01-s16 train, s17-s23 test.
absl::Status SplitHar(const std::string& src, const std::string& train, const std::string& test) {
  fs::create_directories(train);
  fs::create_directories(test);
  std::error_code ec;
  for (const fs::directory_entry& s : fs::directory_iterator(src + "/DATA", ec)) {
    const std::string name = s.path().filename().string();
    if (!s.is_directory() || name.size() != 3 || name[0] != 's') continue;
    const int subject = std::atoi(name.c_str() + 1);
    fs::create_symlink(fs::absolute(s.path()), (subject <= 16 ? train : test) + "/" + name);
  }
  return ec ? absl::UnavailableError(absl::StrCat(src, ": ", ec.message())) : absl::OkStatus();
}

// Rows as the peers read them: PREFIX.x (float32, rows x cols), PREFIX.y
// (one class name per line), PREFIX.json (rows, cols, shape).
absl::Status WriteRows(const Dataset& d, const std::string& prefix) {
  std::ofstream x(prefix + ".x", std::ios::binary);
  x.write(reinterpret_cast<const char*>(d.features.data()),
          static_cast<std::streamsize>(d.features.size() * 4));
  std::ofstream y(prefix + ".y");
  for (int32_t l : d.labels) y << (l >= 0 ? d.class_names[l] : "") << "\n";
  nlohmann::json meta = {{"rows", d.rows}, {"cols", d.cols}};
  if (d.shape) meta["shape"] = {d.shape->height, d.shape->width};
  std::ofstream(prefix + ".json") << meta.dump();
  return x && y ? absl::OkStatus() : absl::UnavailableError(absl::StrCat(prefix, ": cannot write"));
}

// Room background: white and brown noise at a random level (seeded).
Signal RoomNoise(double seconds, double rate, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> level(0.002, 0.02);
  std::normal_distribution<double> white(0, 1);
  const double w = level(rng), b = level(rng);
  Signal s;
  s.sample_rate = rate;
  double brown = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(seconds * rate); ++i) {
    brown = 0.995 * brown + 0.05 * white(rng);
    s.samples.push_back(static_cast<float>(w * white(rng) + b * brown));
  }
  return s;
}

absl::Status TrainWithBackground(const std::string& train, const std::string& out, double budget_s,
                                 std::mt19937_64& rng) {
  const std::string bg_dir = train + "/background";
  fs::create_directories(bg_dir);
  std::uniform_real_distribution<double> length(0.5, 3.0);
  for (int i = 0; i < 40; ++i) {
    MLIOT_RETURN_IF_ERROR(
        WriteWavFile(absl::StrCat(bg_dir, "/bg", i, ".wav"), RoomNoise(length(rng), 16000, rng)));
  }
  absl::StatusOr<RawDataset> raw =
      LoadRawDataset("audio:" + train, FeaturizerConfig{.name = "logmel"}, {});
  fs::remove_all(bg_dir);
  if (!raw.ok()) return raw.status();
  TrainOptions t;
  t.budget_s = budget_s;
  t.background_class = "background";
  t.out_dir = out;
  t.featurizer = raw->featurizer;
  Trainer trainer(BuiltinModels(), BuiltinStrategies());
  return trainer.Train(raw->data, t).status();
}

std::string LabelledStream::MajorityLabel(FrameRange w) const {
  std::map<std::string, int64_t> count;
  for (int64_t i = w.begin; i < w.end && i < static_cast<int64_t>(labels.size()); ++i)
    ++count[labels[i]];
  if (count.empty()) return "";
  return std::max_element(count.begin(), count.end(),
                          [](auto& a, auto& b) { return a.second < b.second; })
      ->first;
}

absl::StatusOr<LabelledStream> BackgroundHeavyStream(const std::string& test, double gap_s,
                                                     std::mt19937_64& rng) {
  MLIOT_ASSIGN_OR_RETURN(std::vector<AudioClipFile> clips, ListAudioFolder(test));
  LabelledStream out;
  out.signal.sample_rate = 16000;
  const auto append = [&](const Signal& s, const std::string& label) -> absl::Status {
    std::vector<float> mono, at16;
    MixToMono(s.samples.data(), s.frames(), s.channels, &mono);
    MLIOT_RETURN_IF_ERROR(
        Resample(mono.data(), static_cast<int64_t>(mono.size()), s.sample_rate, 16000, &at16));
    out.signal.samples.insert(out.signal.samples.end(), at16.begin(), at16.end());
    out.labels.insert(out.labels.end(), at16.size(), label);
    return absl::OkStatus();
  };
  for (const AudioClipFile& c : clips) {
    MLIOT_RETURN_IF_ERROR(append(RoomNoise(gap_s, 16000, rng), "background"));
    MLIOT_ASSIGN_OR_RETURN(Signal clip, ReadAudioFile(c.path));
    MLIOT_RETURN_IF_ERROR(append(clip, c.class_name));
  }
  return out;
}

absl::StatusOr<FeaturizedSplit> LoadFeaturizedSplit(const std::string& type,
                                                    const std::string& data_dir,
                                                    const std::string& work) {
  FeaturizedSplit out;
  out.type = type;
  if (type == "image") {
    MLIOT_ASSIGN_OR_RETURN(out.train, LoadDataset("fashion-mnist:train"));
    LoadOptions lo;
    lo.for_training = false;
    MLIOT_ASSIGN_OR_RETURN(out.test, LoadDataset("fashion-mnist:test", lo));
    return out;
  }
  if (type != "audio" && type != "sensor") {
    return absl::InvalidArgumentError(
        absl::StrCat("data type '", type, "': valid: image, audio, sensor"));
  }
  const bool audio = type == "audio";
  const std::string name = audio ? "dcase2016-task2" : "sp-sw-har";
  const std::string src = data_dir + "/" + name;
  if (!fs::is_directory(src)) {
    return absl::NotFoundError(absl::StrCat(src, ": not found; the ", type,
                                            " experiments need the real data sets "
                                            "(--data-dir, default ../shared/data)"));
  }
  const std::string train = work + "/" + name + "/train", test = work + "/" + name + "/test";
  fs::remove_all(work + "/" + name);
  MLIOT_RETURN_IF_ERROR(audio ? SplitDcase(src, train, test) : SplitHar(src, train, test));
  const std::string prefix = audio ? "audio:" : "sensor:";
  FeaturizerConfig f{.name = audio ? "logmel" : "sensor_stats"};
  if (!audio) f.devices = {"sp", "sw"};
  MLIOT_ASSIGN_OR_RETURN(RawDataset raw, LoadRawDataset(prefix + train, f, {}));
  RawSourceOptions test_options;
  test_options.for_training = false;
  MLIOT_ASSIGN_OR_RETURN(RawDataset raw_test,
                         LoadRawDataset(prefix + test, raw.featurizer, test_options));
  out.train = std::move(raw.data);
  out.test = std::move(raw_test.data);
  RemapLabels(out.test, out.train.class_names);
  out.featurizer = raw.featurizer;
  out.train_dir = train;
  out.test_dir = test;
  return out;
}

}  // namespace mliot::bench
