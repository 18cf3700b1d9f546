// An IoT device, simulated: publishes each row of a data set as a Sample
// (raw uint8 pixels for images, float32 features otherwise; the label as the
// message key and in the sample), at a fixed rate or as fast as the transport
// takes them. `mliot device simulate` and `mliot bench transport` use it.
#ifndef MLIOT_STREAM_DEVICE_SIMULATOR_H_
#define MLIOT_STREAM_DEVICE_SIMULATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "mliot/v1/sample.pb.h"
#include "stream/transport.h"

namespace mliot::stream {

struct SimulateOptions {
  std::string task;
  std::string device = "device-1";
  double rate = 0;            // samples per second; 0 = as fast as possible
  int64_t count = 0;          // samples to send; 0 = every row once
  size_t max_payload = 64 * 1024;  // larger payloads are chunked
  double report_every_s = 5;  // progress callback period
  // The message key: the label (Kafka keeps a label's samples in one
  // partition, in order), or the sample id (spreads them over partitions,
  // e.g. for consumers in a group that should each get a mix).
  bool key_by_label = true;
  // Samples packed into one message (Sample.batch); 1: a message each. A
  // sample too large for one message is sent alone, in chunks. A batch holds
  // several labels, so it is keyed by its first sample's id.
  int batch = 1;
};

struct SimulateReport {
  int64_t samples = 0;
  int64_t messages = 0;
  int64_t bytes = 0;
  double elapsed_s = 0;
};

// Row `i` of `data` as a Sample with id "<device>-<sequence>".
v1::Sample RowToSample(const Dataset& data, int64_t row, int64_t sequence, const SimulateOptions& options);

// The payload bytes of a sample back as float features (uint8 / 255 or float32).
absl::StatusOr<std::vector<float>> SampleFeatures(const v1::Sample& sample);

absl::StatusOr<SimulateReport> Simulate(const Dataset& data, Publisher& publisher, const SimulateOptions& options,
                                        const std::atomic<bool>& stop,
                                        const std::function<void(const SimulateReport&)>& progress = nullptr);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_DEVICE_SIMULATOR_H_
