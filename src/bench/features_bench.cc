#include "bench/features_bench.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/kit.h"
#include "common/status_util.h"
#include "data/audio_file.h"
#include "data/sensor_recording.h"
#include "features/featurizer.h"
#include "features/fft.h"

namespace mliot::bench {
namespace fs = std::filesystem;
namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A clip of `seconds` at `rate`: a tone, a chirp and noise, as PCM16 would hold it.
Signal MakeClip(double seconds, double rate, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> hz(200, 4000);
  std::normal_distribution<double> noise(0, 0.05);
  const double f0 = hz(rng), f1 = hz(rng);
  Signal s;
  s.sample_rate = rate;
  const int64_t n = static_cast<int64_t>(seconds * rate);
  s.samples.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = i / rate;
    const double v = 0.3 * std::sin(2 * std::numbers::pi * f0 * t) +
                     0.2 * std::sin(2 * std::numbers::pi * (f1 * t + 300 * t * t)) + noise(rng);
    s.samples[i] = static_cast<float>(std::round(std::clamp(v, -1.0, 1.0) * 32767) / 32768);
  }
  return s;
}

struct Inputs {
  std::string audio_dir;
  std::vector<Signal> clips;      // 16 kHz, as read back from the files
  std::vector<Signal> clips_44k;  // the same lengths at 44.1 kHz
  double audio_s = 0;
  std::string sensor_csv;
  Signal sensor;                  // the recording on its 50 Hz clock
};

absl::StatusOr<Inputs> MakeInputs(const FeaturesBenchOptions& o, const std::string& dir) {
  Inputs in;
  in.audio_dir = dir + "/audio";
  fs::create_directories(in.audio_dir);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> length(0.5, 3.0);
  for (int i = 0; in.audio_s < o.audio_s; ++i) {
    const double seconds = std::min(length(rng), o.audio_s - in.audio_s + 0.05);
    Signal clip = MakeClip(seconds, 16000, rng);
    const std::string path = absl::StrFormat("%s/clip%04d.wav", in.audio_dir, i);
    MLIOT_RETURN_IF_ERROR(WriteWavFile(path, clip));
    MLIOT_ASSIGN_OR_RETURN(Signal back, ReadAudioFile(path));
    in.audio_s += back.seconds();
    in.clips_44k.push_back(MakeClip(seconds, 44100, rng));
    in.clips.push_back(std::move(back));
  }
  // The sensor recording: 50 Hz exactly, so that its clock is the featurizer's.
  in.sensor_csv = dir + "/sensor.csv";
  {
    std::ofstream out(in.sensor_csv);
    out << "x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label\n";
    std::normal_distribution<double> noise(0, 0.3);
    const int64_t frames = static_cast<int64_t>(o.sensor_windows + 1) * 50;
    for (int64_t i = 0; i < frames; ++i) {
      const double t = i / 50.0;
      out << absl::StrFormat("%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d,A\n", std::sin(2 * t) + noise(rng),
                             std::cos(3 * t) + noise(rng), 9.8 + noise(rng), 0.1 * noise(rng),
                             std::sin(7 * t) * 0.2 + noise(rng), noise(rng), 1700000000000 + i * 20);
    }
  }
  MLIOT_ASSIGN_OR_RETURN(SensorRecording r, ReadSensorCsv(in.sensor_csv, "timestamp", "label", false));
  MLIOT_ASSIGN_OR_RETURN(AlignedRecording aligned, AlignRecordings({r}, {""}, 50));
  in.sensor = std::move(aligned.signal);
  return in;
}

absl::StatusOr<nlohmann::json> MeasureMliot(const Inputs& in) {
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Featurizer> logmel, MakeFeaturizer(FeaturizerConfig{.name = "logmel"}));
  int64_t patches = 0, rows = 0;
  auto start = std::chrono::steady_clock::now();
  for (const Signal& clip : in.clips) {
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> out, logmel->FeaturizeAll(clip, &rows));
    patches += rows;
  }
  const double audio_s = Seconds(start);
  start = std::chrono::steady_clock::now();
  double audio_44k_s = 0;
  for (const Signal& clip : in.clips_44k) {
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> out, logmel->FeaturizeAll(clip, &rows));
    audio_44k_s += clip.seconds();
  }
  const double resampled_s = Seconds(start);
  FeaturizerConfig sensor_config{.name = "sensor_stats", .channels = in.sensor.channel_names};
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Featurizer> stats, MakeFeaturizer(sensor_config));
  start = std::chrono::steady_clock::now();
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> out, stats->FeaturizeAll(in.sensor, &rows));
  const double sensor_s = Seconds(start);
  return nlohmann::json{
      {"logmel",
       {{"realtime_factor", in.audio_s / audio_s},
        {"ms_per_s_audio", 1000 * audio_s / in.audio_s},
        {"ms_per_s_audio_44k", 1000 * resampled_s / audio_44k_s},
        {"audio_s", in.audio_s},
        {"clips", in.clips.size()},
        {"patches", patches},
        {"fft", FftBackendName(DefaultFftBackend())}}},
      {"sensor_stats",
       {{"windows_per_s", rows / sensor_s}, {"windows", rows}, {"channels", in.sensor.channels}}}};
}

}  // namespace

void MakeQuick(FeaturesBenchOptions& o) {
  o.audio_s = 10;
  o.sensor_windows = 200;
  o.repeat = 1;
}

absl::StatusOr<nlohmann::json> RunFeaturesBench(const FeaturesBenchOptions& o) {
  const bool temporary = o.work_dir.empty();
  const std::string dir = temporary ? (fs::temp_directory_path() / absl::StrCat("mliot-bench-features-", getpid())).string()
                                    : o.work_dir;
  fs::create_directories(dir);
  absl::StatusOr<Inputs> in = MakeInputs(o, dir);
  if (!in.ok()) return in.status();
  std::vector<Step> steps = {[&] { return MeasureMliot(*in); }};
  std::string peer_error;
  if (o.peer) {
    steps.push_back([&]() -> absl::StatusOr<nlohmann::json> {
      PeerRun run{.script = "features_peer.py",
                  .args = {"--audio-dir", in->audio_dir, "--sensor-csv", in->sensor_csv},
                  .timeout = std::chrono::seconds(600),
                  .source_dir = o.source_dir};
      absl::StatusOr<nlohmann::json> peer = RunPeer(run);
      if (!peer.ok()) {
        peer_error = std::string(peer.status().message());
        return nlohmann::json::object();
      }
      return peer;
    });
  }
  std::vector<std::vector<nlohmann::json>> runs;
  absl::Status status = RunInterleaved(o.repeat, steps, &runs);
  if (temporary) fs::remove_all(dir);
  MLIOT_RETURN_IF_ERROR(status);
  // One report per round: mliot's figures, the peer's beside them, the ratio.
  std::vector<nlohmann::json> rounds;
  for (size_t i = 0; i < runs[0].size(); ++i) {
    nlohmann::json r = runs[0][i];
    if (o.peer && peer_error.empty()) {
      const nlohmann::json& p = runs[1][i];
      r["logmel"]["peer"] = {{"ms_per_s_audio", p["logmel"]["ms_per_s_audio"]}};
      r["sensor_stats"]["peer"] = {{"windows_per_s", p["sensor_stats"]["windows_per_s"]}};
      r["logmel"]["speedup_vs_peer"] =
          p["logmel"]["ms_per_s_audio"].get<double>() / r["logmel"]["ms_per_s_audio"].get<double>();
      r["sensor_stats"]["speedup_vs_peer"] =
          r["sensor_stats"]["windows_per_s"].get<double>() / p["sensor_stats"]["windows_per_s"].get<double>();
      r["peer_versions"] = p.value("versions", nlohmann::json::object());
    }
    rounds.push_back(std::move(r));
  }
  nlohmann::json report = Summarize(rounds);
  if (!peer_error.empty()) report["peer_error"] = peer_error;
  report["threads"] = 1;
  report["machine"] = MachineFacts();
  return report;
}

}  // namespace mliot::bench
