// The real data sets the benchmarks use (../shared/data; never the tests):
// DCASE 2016 task 2 (audio) and sp-sw-har (phone + watch inertial sensors),
// split the same way everywhere, and Fashion-MNIST (images, a Debian
// package). bench iot and bench paper share these.
#ifndef MLIOT_BENCH_IOT_DATA_H_
#define MLIOT_BENCH_IOT_DATA_H_

#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/signal.h"
#include "features/featurizer.h"

namespace mliot::bench {

// DCASE split by clip: every fourth clip of a class (in name order) is a
// test clip. TRAIN and TEST become folders of symlinks (TRAIN/<class>/<clip>).
absl::Status SplitDcase(const std::string& src, const std::string& train, const std::string& test);

// sp-sw-har split by subject: s01-s16 train, s17-s23 test (symlinks).
absl::Status SplitHar(const std::string& src, const std::string& train, const std::string& test);

// Rows as the Python peers read them: PREFIX.x (float32, rows x cols),
// PREFIX.y (one class name per line), PREFIX.json (rows, cols, shape).
absl::Status WriteRows(const Dataset& d, const std::string& prefix);

// Room background: white and brown noise at a random level (seeded).
Signal RoomNoise(double seconds, double rate, std::mt19937_64& rng);

// Trains on the audio clips of TRAIN (class folders) plus a `background`
// class of 40 room-noise clips, with --background-class background (two-stage
// serving), into OUT. The noise clips are removed again.
absl::Status TrainWithBackground(const std::string& train, const std::string& out, double budget_s,
                                 std::mt19937_64& rng);

// A continuous 16 kHz stream: every clip of TEST after `gap_s` of room
// noise, with the true label of every frame ("background" for the noise).
struct LabelledStream {
  Signal signal;
  std::vector<std::string> labels;  // one per frame
  // The label most frames of `window` carry.
  std::string MajorityLabel(FrameRange window) const;
};
absl::StatusOr<LabelledStream> BackgroundHeavyStream(const std::string& test, double gap_s,
                                                     std::mt19937_64& rng);

// One data type of the paper's evaluation, featurized: image (Fashion-MNIST,
// 784 pixels), audio (DCASE log-mel patches, 96x64), sensor (sp-sw-har,
// sensor_stats of phone + watch).
struct FeaturizedSplit {
  std::string type;  // image | audio | sensor
  Dataset train, test;
  std::optional<FeaturizerConfig> featurizer;  // audio, sensor
  std::string train_dir, test_dir;             // audio, sensor: the split's raw recordings
};

// `data_dir` holds dcase2016-task2/ and sp-sw-har/; `work` receives the
// splits. NotFound naming the folder when a data set is missing.
absl::StatusOr<FeaturizedSplit> LoadFeaturizedSplit(const std::string& type,
                                                    const std::string& data_dir,
                                                    const std::string& work);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_IOT_DATA_H_
