// Audio files through libsndfile: WAV, FLAC, OGG/Vorbis and the other
// formats it reads, any sample rate and channel count.
//
//   MLIOT_ASSIGN_OR_RETURN(Signal clip, ReadAudioFile("knock/03.wav"));
//
// Samples are float32 in [-1, 1] as libsndfile scales them.
#ifndef MLIOT_DATA_AUDIO_FILE_H_
#define MLIOT_DATA_AUDIO_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/signal.h"

namespace mliot {

// Errors: NotFound when the file cannot be opened; InvalidArgument, naming
// the file and libsndfile's reason, when it is not audio libsndfile reads or
// holds no samples.
absl::StatusOr<Signal> ReadAudioFile(const std::string& path);

// Writes `signal` as a WAV file, 16-bit PCM or float32.
absl::Status WriteWavFile(const std::string& path, const Signal& signal, bool pcm16 = true);

// One labelled clip of an audio folder.
struct AudioClipFile {
  std::string path;
  std::string class_name;
};

// The clips of a folder with one sub-folder per class (DIR/<class>/<clip>),
// sorted by class, then path. Hidden entries are skipped. Files directly in
// DIR are unlabelled clips (class "") when `allow_unlabelled`, else an error
// naming one. Errors: DIR missing, no clips.
absl::StatusOr<std::vector<AudioClipFile>> ListAudioFolder(const std::string& dir,
                                                           bool allow_unlabelled = false);

}  // namespace mliot

#endif  // MLIOT_DATA_AUDIO_FILE_H_
