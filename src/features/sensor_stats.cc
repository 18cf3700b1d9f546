#include "features/sensor_stats.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "features/fft.h"

namespace mliot {

std::vector<AxisTriple> AxisTriples(const std::vector<std::string>& channels) {
  std::vector<AxisTriple> out;
  const auto index = [&](const std::string& name) {
    auto it = std::find(channels.begin(), channels.end(), name);
    return it == channels.end() ? -1 : static_cast<int>(it - channels.begin());
  };
  for (size_t i = 0; i < channels.size(); ++i) {
    const size_t dot = channels[i].rfind('.');
    const std::string prefix = dot == std::string::npos ? "" : channels[i].substr(0, dot + 1);
    const std::string base = channels[i].substr(prefix.size());
    if (!absl::StartsWith(base, "x_")) continue;
    const std::string rest = base.substr(2);
    const int y = index(absl::StrCat(prefix, "y_", rest)), z = index(absl::StrCat(prefix, "z_", rest));
    if (y >= 0 && z >= 0) out.push_back({absl::StrCat(prefix, "mag_", rest), static_cast<int>(i), y, z});
  }
  return out;
}

namespace {

constexpr const char* kStats[] = {"min", "max", "range", "mean", "sum", "std", "centroid"};
constexpr int kNumStats = 7;

class SensorStats : public Featurizer {
 public:
  explicit SensorStats(FeaturizerConfig config)
      : Featurizer(std::move(config)),
        rate_(this->config().params.Double("rate_hz")),
        window_(std::max<int64_t>(2, std::llround(this->config().params.Double("window_s") * rate_))),
        hop_(std::max<int64_t>(1, std::llround(this->config().params.Double("hop_s") * rate_))),
        bands_(static_cast<int>(this->config().params.Int("bands"))),
        triples_(AxisTriples(this->config().channels)),
        fft_(static_cast<int>(window_)) {}

  int per_channel() const { return kNumStats + bands_ + 3; }
  int64_t num_features() const override {
    return static_cast<int64_t>(config().channels.size() + triples_.size()) * per_channel();
  }
  double required_rate() const override { return rate_; }
  double window_seconds() const override { return static_cast<double>(window_) / rate_; }
  double hop_seconds() const override { return static_cast<double>(hop_) / rate_; }

  std::vector<std::string> feature_names() const override {
    std::vector<std::string> channels = config().channels;
    for (const AxisTriple& t : triples_) channels.push_back(t.name);
    std::vector<std::string> names;
    for (const std::string& c : channels) {
      for (const char* s : kStats) names.push_back(absl::StrCat(c, ".", s));
      for (int b = 0; b < bands_; ++b) names.push_back(absl::StrCat(c, ".band", b));
      for (const char* s : {"dominant_hz", "spectral_centroid_hz", "spectral_entropy"}) {
        names.push_back(absl::StrCat(c, ".", s));
      }
    }
    return names;
  }

  FrameRange WindowAt(int64_t k, double rate) const override { return {k * hop_, k * hop_ + window_}; }

  std::vector<FrameRange> Windows(int64_t frames, double rate) const override {
    std::vector<FrameRange> out;
    for (int64_t start = 0; start + window_ <= frames; start += hop_) out.push_back({start, start + window_});
    return out;
  }

  absl::Status FeaturizeWindow(const Signal& signal, FrameRange window, float* row) const override {
    MLIOT_RETURN_IF_ERROR(CheckInput(signal));
    if (window.end - window.begin != window_ || window.begin < 0 || window.end > signal.frames()) {
      return absl::InvalidArgumentError(absl::StrCat("sensor_stats: a window has ", window_,
                                                     " readings at ", rate_, " Hz; got ",
                                                     std::min(window.end, signal.frames()) - window.begin));
    }
    thread_local std::vector<float> x;
    x.resize(static_cast<size_t>(window_));
    const int nc = signal.channels;
    const float* base = signal.samples.data() + window.begin * nc;
    float* out = row;
    for (int c = 0; c < nc; ++c) {
      for (int64_t i = 0; i < window_; ++i) x[i] = base[i * nc + c];
      Channel(x.data(), out);
      out += per_channel();
    }
    for (const AxisTriple& t : triples_) {
      for (int64_t i = 0; i < window_; ++i) {
        const float* f = base + i * nc;
        x[i] = std::sqrt(f[t.x] * f[t.x] + f[t.y] * f[t.y] + f[t.z] * f[t.z]);
      }
      Channel(x.data(), out);
      out += per_channel();
    }
    return absl::OkStatus();
  }

 private:
  void Channel(const float* x, float* out) const {
    const int64_t n = window_;
    double lo = x[0], hi = x[0], sum = 0, abs_sum = 0, weighted = 0;
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min<double>(lo, x[i]);
      hi = std::max<double>(hi, x[i]);
      sum += x[i];
      abs_sum += std::abs(x[i]);
      weighted += static_cast<double>(i) * std::abs(x[i]);
    }
    const double mean = sum / n;
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    out[0] = static_cast<float>(lo);
    out[1] = static_cast<float>(hi);
    out[2] = static_cast<float>(hi - lo);
    out[3] = static_cast<float>(mean);
    out[4] = static_cast<float>(sum);
    out[5] = static_cast<float>(std::sqrt(var / n));
    out[6] = static_cast<float>(abs_sum > 0 ? weighted / abs_sum / (n - 1) : 0.5);

    thread_local std::vector<float> centred;
    thread_local std::vector<std::complex<float>> spectrum;
    centred.resize(static_cast<size_t>(n));
    spectrum.resize(static_cast<size_t>(n / 2 + 1));
    for (int64_t i = 0; i < n; ++i) centred[i] = static_cast<float>(x[i] - mean);
    fft_.Forward(centred.data(), spectrum.data());
    // Power of the non-DC bins 1 .. n/2.
    const int64_t m = n / 2;
    double total = 0, peak = -1, centroid = 0;
    int64_t peak_bin = 1;
    for (int64_t k = 1; k <= m; ++k) {
      const double p = std::norm(spectrum[k]);
      total += p;
      centroid += p * k;
      if (p > peak) {
        peak = p;
        peak_bin = k;
      }
    }
    float* bands = out + kNumStats;
    for (int b = 0; b < bands_; ++b) {
      const int64_t first = b * m / bands_, last = (b + 1) * m / bands_;  // bins [first, last) of 1..m
      double e = 0;
      for (int64_t j = first; j < last; ++j) e += std::norm(spectrum[j + 1]);
      bands[b] = static_cast<float>(std::log1p(e));
    }
    float* spectral = bands + bands_;
    const double hz_per_bin = rate_ / n;
    if (total > 0) {
      double entropy = 0;
      for (int64_t k = 1; k <= m; ++k) {
        const double q = std::norm(spectrum[k]) / total;
        if (q > 0) entropy -= q * std::log(q);
      }
      spectral[0] = static_cast<float>(peak_bin * hz_per_bin);
      spectral[1] = static_cast<float>(centroid / total * hz_per_bin);
      spectral[2] = static_cast<float>(m > 1 ? entropy / std::log(static_cast<double>(m)) : 0.0);
    } else {
      spectral[0] = spectral[1] = spectral[2] = 0.0f;
    }
  }

  double rate_;
  int64_t window_;
  int64_t hop_;
  int bands_;
  std::vector<AxisTriple> triples_;
  RealFft fft_;
};

}  // namespace

FeaturizerKind SensorStatsKind() {
  FeaturizerKind kind;
  kind.name = "sensor_stats";
  kind.description =
      "per window and channel (and per 3-axis magnitude): min, max, range, mean, sum, std, "
      "centroid, log band energies of |FFT|^2, dominant frequency, spectral centroid, spectral "
      "entropy. Devices are resampled onto one clock at rate_hz first.";
  kind.params = {
      {.name = "window_s", .type = ParamType::kDouble, .default_value = 2.0, .min = 0.05, .max = 600,
       .help = "window length, seconds"},
      {.name = "hop_s", .type = ParamType::kDouble, .default_value = 1.0, .min = 0.01, .max = 600,
       .help = "hop between windows, seconds"},
      {.name = "rate_hz", .type = ParamType::kDouble, .default_value = 50.0, .min = 1, .max = 10000,
       .help = "the clock readings are resampled onto"},
      {.name = "bands", .type = ParamType::kInt, .default_value = int64_t{4}, .min = 1, .max = 64,
       .help = "spectral band energies per channel"},
  };
  kind.create = [](FeaturizerConfig config) -> absl::StatusOr<std::unique_ptr<Featurizer>> {
    if (config.channels.empty()) {
      return absl::InvalidArgumentError("sensor_stats: no input channels");
    }
    const double window = config.params.Double("window_s") * config.params.Double("rate_hz");
    if (window < 4) {
      return absl::InvalidArgumentError("features sensor_stats: window_s * rate_hz must be >= 4 readings");
    }
    return std::unique_ptr<Featurizer>(new SensorStats(std::move(config)));
  };
  return kind;
}

}  // namespace mliot
