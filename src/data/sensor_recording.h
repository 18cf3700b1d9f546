// Sensor recordings: CSV files of timestamped readings (accelerometer,
// gyroscope, temperature, light, ...), one file per recording and device.
//
//   timestamp (ms, --time-column), numeric channel columns, a label column
//
// One recording may come from several devices (a phone and a watch): files
// STEM_sp.csv and STEM_sw.csv with devices {sp, sw}. Their clocks and rates
// differ, so AlignRecordings resamples every device onto one clock.
#ifndef MLIOT_DATA_SENSOR_RECORDING_H_
#define MLIOT_DATA_SENSOR_RECORDING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/signal.h"

namespace mliot {

struct SensorRecording {
  std::string path;
  std::vector<double> t_ms;           // strictly increasing
  std::vector<std::string> channels;  // the numeric columns, in file order
  std::vector<float> values;          // readings x channels
  std::vector<std::string> labels;    // per reading; empty when the file has no label column
};

// Errors name the file (and line): unreadable, no time column, no label
// column (when `require_label`), fewer than two readings, timestamps that do
// not increase.
absl::StatusOr<SensorRecording> ReadSensorCsv(const std::string& path, const std::string& time_column,
                                              const std::string& label_column, bool require_label);

// Readings of one or more devices on one clock.
struct AlignedRecording {
  Signal signal;                    // at the requested rate
  std::vector<std::string> labels;  // per frame (the first device's nearest reading); empty if unlabelled
};

// Resamples every device linearly onto a clock at `rate_hz` over the time
// span all devices cover. With more than one device, channel names become
// "DEVICE.channel". Errors: the devices' spans do not overlap, or the overlap
// is shorter than two frames.
absl::StatusOr<AlignedRecording> AlignRecordings(const std::vector<SensorRecording>& devices,
                                                 const std::vector<std::string>& device_names,
                                                 double rate_hz);

// The files of one recording: one path per device (in `devices` order), or
// one path when no devices are named.
struct SensorRecordingFiles {
  std::string stem;  // path without the device suffix and ".csv"
  std::vector<std::string> paths;
};

// Every recording under `dir` (recursively; sorted by stem). Without
// devices every *.csv file is one recording; with devices {sp, sw} the files
// STEM_sp.csv and STEM_sw.csv form one, and a stem that lacks one device's
// file is an error naming the missing file.
absl::StatusOr<std::vector<SensorRecordingFiles>> ListSensorFolder(const std::string& dir,
                                                                   const std::vector<std::string>& devices);

}  // namespace mliot

#endif  // MLIOT_DATA_SENSOR_RECORDING_H_
