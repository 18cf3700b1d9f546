#include "data/audio_file.h"

#include <sndfile.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace mliot {
namespace fs = std::filesystem;

absl::StatusOr<Signal> ReadAudioFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such audio file"));
  }
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unreadable audio (", sf_strerror(nullptr), ")"));
  }
  Signal s;
  s.channels = info.channels;
  s.sample_rate = info.samplerate;
  if (info.channels <= 0 || info.samplerate <= 0 || info.frames <= 0) {
    sf_close(file);
    return absl::InvalidArgumentError(absl::StrCat(path, ": audio holds no samples"));
  }
  s.samples.resize(static_cast<size_t>(info.frames) * info.channels);
  const sf_count_t got = sf_readf_float(file, s.samples.data(), info.frames);
  sf_close(file);
  if (got <= 0) return absl::InvalidArgumentError(absl::StrCat(path, ": audio holds no samples"));
  s.samples.resize(static_cast<size_t>(got) * info.channels);
  return s;
}

absl::Status WriteWavFile(const std::string& path, const Signal& signal, bool pcm16) {
  SF_INFO info{};
  info.channels = signal.channels;
  info.samplerate = static_cast<int>(signal.sample_rate);
  info.format = SF_FORMAT_WAV | (pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot write audio (", sf_strerror(nullptr), ")"));
  }
  const sf_count_t wrote = sf_writef_float(file, signal.samples.data(), signal.frames());
  sf_close(file);
  if (wrote != signal.frames()) return absl::UnavailableError(absl::StrCat(path, ": short write"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AudioClipFile>> ListAudioFolder(const std::string& dir, bool allow_unlabelled) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory (expected DIR/<class>/<clip>)"));
  }
  std::vector<AudioClipFile> clips;
  for (const fs::directory_entry& cls : fs::directory_iterator(dir, ec)) {
    const std::string name = cls.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!cls.is_directory() && allow_unlabelled) {
      clips.push_back({cls.path().string(), ""});
      continue;
    }
    if (!cls.is_directory()) {
      return absl::InvalidArgumentError(absl::StrCat(
          cls.path().string(), ": a file directly in the audio folder; clips go in DIR/<class>/"));
    }
    for (const fs::directory_entry& clip : fs::directory_iterator(cls.path(), ec)) {
      const std::string file = clip.path().filename().string();
      if (file.empty() || file[0] == '.' || !clip.is_regular_file()) continue;
      clips.push_back({clip.path().string(), name});
    }
  }
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": ", ec.message()));
  if (clips.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": no clips (expected DIR/<class>/<clip>)"));
  }
  std::sort(clips.begin(), clips.end(), [](const AudioClipFile& a, const AudioClipFile& b) {
    return std::tie(a.class_name, a.path) < std::tie(b.class_name, b.path);
  });
  return clips;
}

}  // namespace mliot
