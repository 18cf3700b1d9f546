#include "stream/device_simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "stream/sample_codec.h"

namespace mliot::stream {

v1::Sample RowToSample(const Dataset& data, int64_t row, int64_t sequence, const SimulateOptions& o) {
  v1::Sample s;
  s.set_id(absl::StrCat(o.device, "-", sequence));
  s.set_task(o.task);
  s.set_device(o.device);
  s.set_timestamp_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
  const int32_t label = data.labels.empty() ? -1 : data.labels[static_cast<size_t>(row)];
  if (label >= 0) s.set_label(data.class_names[static_cast<size_t>(label)]);
  const float* x = data.row(row);
  if (data.shape.has_value()) {
    // Images travel as the device produced them: one byte per pixel.
    s.add_shape(data.shape->height);
    s.add_shape(data.shape->width);
    s.set_dtype(v1::DTYPE_UINT8);
    std::string bytes(static_cast<size_t>(data.cols), '\0');
    for (int64_t j = 0; j < data.cols; ++j) {
      bytes[static_cast<size_t>(j)] = static_cast<char>(static_cast<uint8_t>(std::lround(std::clamp(x[j], 0.0f, 1.0f) * 255.0f)));
    }
    s.set_payload(std::move(bytes));
  } else {
    s.add_shape(static_cast<int32_t>(data.cols));
    s.set_dtype(v1::DTYPE_FLOAT32);
    s.set_payload(std::string(reinterpret_cast<const char*>(x), static_cast<size_t>(data.cols) * sizeof(float)));
  }
  return s;
}

absl::StatusOr<std::vector<float>> SampleFeatures(const v1::Sample& s) {
  int64_t n = 1;
  for (int32_t d : s.shape()) n *= d;
  std::vector<float> out;
  if (s.dtype() == v1::DTYPE_UINT8) {
    if (static_cast<int64_t>(s.payload().size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", s.id(), ": ", s.payload().size(),
                                                     " payload bytes for shape of ", n, " uint8 values"));
    }
    out.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(s.payload()[static_cast<size_t>(i)]) / 255.0f;
  } else if (s.dtype() == v1::DTYPE_FLOAT32) {
    if (static_cast<int64_t>(s.payload().size()) != n * 4) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", s.id(), ": ", s.payload().size(),
                                                     " payload bytes for shape of ", n, " float32 values"));
    }
    out.resize(static_cast<size_t>(n));
    std::memcpy(out.data(), s.payload().data(), s.payload().size());
  } else {
    return absl::InvalidArgumentError(absl::StrCat("sample ", s.id(), ": unknown dtype ", s.dtype()));
  }
  return out;
}

absl::StatusOr<SimulateReport> Simulate(const Dataset& data, Publisher& publisher, const SimulateOptions& o,
                                        const std::atomic<bool>& stop,
                                        const std::function<void(const SimulateReport&)>& progress) {
  if (data.rows == 0) return absl::InvalidArgumentError(absl::StrCat(data.source, ": no rows to send"));
  const int64_t count = o.count > 0 ? o.count : data.rows;
  SimulateReport r;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  std::vector<v1::Sample> pending;  // the batch being filled
  auto send_batch = [&]() -> absl::Status {
    if (pending.empty()) return absl::OkStatus();
    // A batch holds several labels: keyed by its first sample's id.
    const std::string key = pending.front().id();
    std::string m = EncodeBatch(std::move(pending));
    pending.clear();
    ++r.messages;
    r.bytes += static_cast<int64_t>(m.size());
    return publisher.Publish(key, m);
  };
  for (int64_t i = 0; i < count && !stop.load(); ++i) {
    if (o.rate > 0) {
      std::this_thread::sleep_until(start + std::chrono::duration<double>(static_cast<double>(i) / o.rate));
    }
    v1::Sample s = RowToSample(data, i % data.rows, i, o);
    if (o.batch > 1 && s.payload().size() <= o.max_payload) {
      pending.push_back(std::move(s));
      if (static_cast<int>(pending.size()) >= o.batch || i + 1 == count) MLIOT_RETURN_IF_ERROR(send_batch());
    } else {
      MLIOT_RETURN_IF_ERROR(send_batch());
      for (const std::string& m : EncodeChunks(s, o.max_payload)) {
        if (absl::Status st = publisher.Publish(o.key_by_label ? s.label() : s.id(), m); !st.ok()) return st;
        ++r.messages;
        r.bytes += static_cast<int64_t>(m.size());
      }
    }
    ++r.samples;
    const auto now = std::chrono::steady_clock::now();
    if (progress && std::chrono::duration<double>(now - last_report).count() >= o.report_every_s) {
      r.elapsed_s = std::chrono::duration<double>(now - start).count();
      progress(r);
      last_report = now;
    }
  }
  MLIOT_RETURN_IF_ERROR(send_batch());  // stopped early
  if (absl::Status st = publisher.Flush(60); !st.ok()) return st;
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace mliot::stream
