#include "features/logmel.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "features/fft.h"
#include "features/resample.h"

namespace mliot {

std::vector<float> PeriodicHann(int n) {
  std::vector<float> w(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    w[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / n));
  }
  return w;
}

double HertzToMel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

std::vector<float> MelMatrix(int bands, int fft_size, double rate, double low_hz, double high_hz) {
  const int bins = fft_size / 2 + 1;
  const double low = HertzToMel(low_hz), high = HertzToMel(high_hz);
  std::vector<float> w(static_cast<size_t>(bins) * bands, 0.0f);
  for (int k = 1; k < bins; ++k) {  // bin 0 (DC) keeps no weight
    const double mel = HertzToMel(rate / 2.0 * k / (bins - 1));
    for (int b = 0; b < bands; ++b) {
      const double lo = low + (high - low) * b / (bands + 1);
      const double center = low + (high - low) * (b + 1) / (bands + 1);
      const double hi = low + (high - low) * (b + 2) / (bands + 1);
      const double v = std::min((mel - lo) / (center - lo), (hi - mel) / (hi - center));
      w[static_cast<size_t>(k) * bands + b] = static_cast<float>(std::max(0.0, v));
    }
  }
  return w;
}

namespace {

class LogMel : public Featurizer {
 public:
  explicit LogMel(FeaturizerConfig config)
      : Featurizer(std::move(config)), hann_(PeriodicHann(kLogMelFrame)), fft_(kLogMelFft) {
    // The mel matrix is sparse (each bin feeds at most two bands): keep, per
    // band, its first bin and the weights of its bins.
    const std::vector<float> dense = MelMatrix(kLogMelBands, kLogMelFft, kLogMelRate, 125.0, 7500.0);
    const int bins = kLogMelFft / 2 + 1;
    for (int b = 0; b < kLogMelBands; ++b) {
      Band band;
      for (int k = 0; k < bins; ++k) {
        const float v = dense[static_cast<size_t>(k) * kLogMelBands + b];
        if (v == 0.0f) continue;
        if (band.weights.empty()) band.first_bin = k;
        band.weights.resize(static_cast<size_t>(k - band.first_bin + 1), 0.0f);
        band.weights.back() = v;
      }
      bands_.push_back(std::move(band));
    }
  }

  int64_t num_features() const override { return int64_t{kLogMelPatch} * kLogMelBands; }
  std::optional<ImageShape> shape() const override { return ImageShape{kLogMelPatch, kLogMelBands}; }
  double window_seconds() const override { return kLogMelPatchSamples / kLogMelRate; }
  double hop_seconds() const override { return kLogMelPatchHop / kLogMelRate; }

  FrameRange WindowAt(int64_t k, double rate) const override {
    const double scale = rate / kLogMelRate;
    return {std::llround(static_cast<double>(k) * kLogMelPatchHop * scale),
            std::llround((static_cast<double>(k) * kLogMelPatchHop + kLogMelPatchSamples) * scale)};
  }

  std::vector<FrameRange> Windows(int64_t frames, double rate) const override {
    std::vector<FrameRange> out;
    if (frames <= 0 || !(rate > 0)) return out;
    const double scale = rate / kLogMelRate;  // source frames per 16 kHz sample
    const auto at = [&](double samples16k) {
      return std::min<int64_t>(frames, static_cast<int64_t>(std::llround(samples16k * scale)));
    };
    const double n16 = static_cast<double>(frames) / scale;
    const double hop = kLogMelPatchHop;
    if (n16 < kLogMelPatchSamples) return {{0, frames}};
    const int64_t full = 1 + static_cast<int64_t>((n16 - kLogMelPatchSamples) / hop);
    for (int64_t i = 0; i < full; ++i) {
      const FrameRange w = WindowAt(i, rate);
      out.push_back({w.begin, std::min(frames, w.end)});
    }
    const double rest_start = full * hop;
    // The remainder: samples after the last full window's hop span.
    if (n16 - rest_start >= 0.5 * kLogMelPatchSamples) out.push_back({at(rest_start), frames});
    return out;
  }

  absl::Status FeaturizeWindow(const Signal& signal, FrameRange window, float* row) const override {
    MLIOT_RETURN_IF_ERROR(CheckInput(signal));
    thread_local std::vector<float> mono, audio;
    const int64_t n = std::max<int64_t>(0, std::min(window.end, signal.frames()) - window.begin);
    const float* src = signal.samples.data() + window.begin * signal.channels;
    if (signal.channels > 1) {
      MixToMono(src, n, signal.channels, &mono);
      src = mono.data();
    }
    if (signal.sample_rate != kLogMelRate) {
      MLIOT_RETURN_IF_ERROR(Resample(src, n, signal.sample_rate, kLogMelRate, &audio));
    } else {
      audio.assign(src, src + n);
    }
    audio.resize(kLogMelPatchSamples, 0.0f);  // pad (or trim rounding) to one window
    Patch(audio.data(), row);
    return absl::OkStatus();
  }

 private:
  struct Band {
    int first_bin = 0;
    std::vector<float> weights;
  };

  // 96 frames of `x` (15600 samples at 16 kHz) -> 96x64 log-mel values.
  void Patch(const float* x, float* row) const {
    float frame[kLogMelFft];
    std::complex<float> spectrum[kLogMelFft / 2 + 1];
    float magnitude[kLogMelFft / 2 + 1];
    std::fill(frame + kLogMelFrame, frame + kLogMelFft, 0.0f);
    for (int f = 0; f < kLogMelPatch; ++f) {
      const float* in = x + f * kLogMelHop;
      for (int i = 0; i < kLogMelFrame; ++i) frame[i] = in[i] * hann_[i];
      fft_.Forward(frame, spectrum);
      for (int k = 0; k <= kLogMelFft / 2; ++k) magnitude[k] = std::abs(spectrum[k]);
      float* out = row + f * kLogMelBands;
      for (int b = 0; b < kLogMelBands; ++b) {
        const Band& band = bands_[b];
        float sum = 0;
        for (size_t j = 0; j < band.weights.size(); ++j) sum += band.weights[j] * magnitude[band.first_bin + j];
        out[b] = std::log(sum + 0.01f);
      }
    }
  }

  std::vector<float> hann_;
  RealFft fft_;
  std::vector<Band> bands_;
};

}  // namespace

FeaturizerKind LogMelKind() {
  FeaturizerKind kind;
  kind.name = "logmel";
  kind.description =
      "VGGish log-mel patches: mono, 16 kHz, 25 ms periodic-Hann frames (10 ms hop), |FFT| 512, "
      "64 HTK-mel bands 125-7500 Hz, log(mel + 0.01), 96-frame patches (0.96 s) -> one 96x64 row "
      "each; a clip shorter than one patch is zero-padded, a remainder >= 0.48 s becomes one more "
      "padded patch. Fixed by the VGGish definition: no parameters.";
  kind.create = [](FeaturizerConfig config) -> absl::StatusOr<std::unique_ptr<Featurizer>> {
    config.channels.clear();  // any channel count: mixed to mono
    return std::unique_ptr<Featurizer>(new LogMel(std::move(config)));
  };
  return kind;
}

}  // namespace mliot
