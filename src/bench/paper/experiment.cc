#include "bench/paper/experiment.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/kit.h"
#include "common/status_util.h"
#include "data/audio_file.h"

namespace mliot::bench::paper {
namespace fs = std::filesystem;
using nlohmann::json;

absl::StatusOr<const FeaturizedSplit*> Context::Data(const std::string& type) {
  if (auto it = data.find(type); it != data.end()) return &it->second;
  Say(absl::StrCat("loading ", type, " data"));
  MLIOT_ASSIGN_OR_RETURN(FeaturizedSplit split,
                         LoadFeaturizedSplit(type, options.data_dir, work + "/data"));
  return &data.emplace(type, std::move(split)).first->second;
}

void Say(const std::string& line) { Progress("paper", line); }

json Claim(const std::string& claim, json paper, json mliot, bool held) {
  return {
      {"claim", claim}, {"paper", std::move(paper)}, {"mliot", std::move(mliot)}, {"held", held}};
}

Dataset Sample(const Dataset& data, int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(data.rows));
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), std::mt19937_64(seed));
  idx.resize(static_cast<size_t>(std::min(n, data.rows)));
  std::sort(idx.begin(), idx.end());
  return data.Subset(idx);
}

absl::Status WriteToneClips(const std::string& dir, int per_class, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.02);
  for (const auto& [name, hz] : {std::pair<const char*, double>{"low", 440}, {"high", 2000}}) {
    fs::create_directories(absl::StrCat(dir, "/", name));
    for (int i = 0; i < per_class; ++i) {
      Signal s;
      s.sample_rate = 16000;
      for (int j = 0; j < 16000; ++j) {
        s.samples.push_back(static_cast<float>(
            0.4 * std::sin(2 * M_PI * (hz + 10 * i) * j / 16000.0) + noise(rng)));
      }
      MLIOT_RETURN_IF_ERROR(WriteWavFile(absl::StrCat(dir, "/", name, "/", name, i, ".wav"), s));
    }
  }
  return absl::OkStatus();
}

}  // namespace mliot::bench::paper
