// Featurizers: raw IoT data (audio, sensor readings) -> rows of features,
// registered by name with their parameters declared as data (ml/params.h),
// like model kinds.
//
//   logmel        the VGGish front end: 96x64 log-mel patches of 16 kHz audio
//   sensor_stats  per window and channel: the Mites statistical set plus
//                 spectral features, also on the magnitude of 3-axis sensors
//
// A featurizer cuts a Signal into windows and turns each window into one
// row. The same featurizer (name, parameters, input channels) is stored in
// the bundle, so that the serving worker featurizes raw input exactly as
// training did:
//
//   MLIOT_ASSIGN_OR_RETURN(auto f, MakeFeaturizer(config));
//   for (FrameRange w : f->Windows(clip.frames(), clip.sample_rate))
//     MLIOT_RETURN_IF_ERROR(f->FeaturizeWindow(clip, w, row));
//
// Thread-safety: a Featurizer is immutable; FeaturizeWindow may be called
// concurrently.
#ifndef MLIOT_FEATURES_FEATURIZER_H_
#define MLIOT_FEATURES_FEATURIZER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/signal.h"
#include "ml/params.h"

namespace mliot {

// What a bundle stores: enough to build the same featurizer again.
struct FeaturizerConfig {
  std::string name;
  Params params;                      // complete (every declared parameter)
  std::vector<std::string> channels;  // input channels it was built for (sensors); empty for audio
  std::vector<std::string> devices;   // devices of a multimodal recording, in order
};

// Frames [begin, end) of a signal.
struct FrameRange {
  int64_t begin = 0;
  int64_t end = 0;
};

class Featurizer {
 public:
  virtual ~Featurizer() = default;

  const FeaturizerConfig& config() const { return config_; }
  // Length of one row; `shape()` is set when rows are 2-D (logmel: 96x64).
  virtual int64_t num_features() const = 0;
  virtual std::optional<ImageShape> shape() const { return std::nullopt; }
  virtual std::vector<std::string> feature_names() const { return {}; }
  // The sample rate windows are cut at (sensor_stats: its rate_hz), or 0 when
  // any rate is accepted and converted (logmel).
  virtual double required_rate() const { return 0; }
  // Seconds of input one window covers; `hop_seconds()` between windows.
  virtual double window_seconds() const = 0;
  virtual double hop_seconds() const = 0;

  // The k-th window (k >= 0) of an endless stream at `rate`, in the stream's
  // frames: how a device's stream is cut (stream/raw_windower.h). The full
  // windows of Windows() are these.
  virtual FrameRange WindowAt(int64_t k, double rate) const = 0;

  // The windows of a signal of `frames` frames at `rate`, one row each.
  // Empty when the signal is too short for one.
  virtual std::vector<FrameRange> Windows(int64_t frames, double rate) const = 0;

  // Featurizes frames `window` of `signal` into num_features() floats.
  // Errors (InvalidArgument): a channel count or rate the featurizer was not
  // built for.
  virtual absl::Status FeaturizeWindow(const Signal& signal, FrameRange window, float* row) const = 0;

  // Every window of `signal`: rows x num_features() floats.
  absl::StatusOr<std::vector<float>> FeaturizeAll(const Signal& signal, int64_t* rows) const;

 protected:
  explicit Featurizer(FeaturizerConfig config) : config_(std::move(config)) {}
  // Checks `signal` against the channels (and rate) the featurizer was built for.
  absl::Status CheckInput(const Signal& signal) const;

 private:
  FeaturizerConfig config_;
};

struct FeaturizerKind {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  std::function<absl::StatusOr<std::unique_ptr<Featurizer>>(FeaturizerConfig)> create;
};

class FeaturizerRegistry {
 public:
  absl::Status Register(FeaturizerKind kind);
  // NotFound lists the registered names.
  absl::StatusOr<const FeaturizerKind*> Find(const std::string& name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, FeaturizerKind> kinds_;
};

// Registers every built-in featurizer (logmel, sensor_stats).
void RegisterBuiltinFeaturizers(FeaturizerRegistry& registry);
const FeaturizerRegistry& BuiltinFeaturizers();

// `config` with every declared parameter (missing ones at their defaults).
// Errors: an unknown name (listing the known ones), a bad value naming the
// parameter.
absl::StatusOr<FeaturizerConfig> CompleteFeaturizerConfig(FeaturizerConfig config,
                                                         const FeaturizerRegistry& registry = BuiltinFeaturizers());

// Builds a featurizer from a config whose params may be partial (missing
// ones take their defaults); errors name the parameter.
absl::StatusOr<std::unique_ptr<Featurizer>> MakeFeaturizer(const FeaturizerConfig& config,
                                                           const FeaturizerRegistry& registry = BuiltinFeaturizers());

// Parses "NAME" or "NAME:key=value,key=value" (the --features flag).
absl::StatusOr<FeaturizerConfig> ParseFeaturizerText(const std::string& text,
                                                     const FeaturizerRegistry& registry = BuiltinFeaturizers());

// A human-readable description of a featurizer's parameters
// (`mliot train --help-featurizer NAME`).
absl::StatusOr<std::string> DescribeFeaturizer(const std::string& name,
                                               const FeaturizerRegistry& registry = BuiltinFeaturizers());

}  // namespace mliot

#endif  // MLIOT_FEATURES_FEATURIZER_H_
