#include "node/serve_cost.h"

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mliot {
namespace {

double Ewma(double old, double sample, double alpha) {
  return old > 0 ? alpha * sample + (1 - alpha) * old : sample;
}

}  // namespace

absl::StatusOr<ServeStats> ParseServeStats(absl::string_view text) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  ServeStats s;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &s.requests) ||
      !absl::SimpleAtod(parts[1], &s.cpu_s) || s.requests < 0 || s.cpu_s < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("serve.stats: expected 'REQUESTS CPU_S', got '", text, "'"));
  }
  return s;
}

void ServeCost::Observe(const std::string& task, bool image, const ServeStats& now) {
  auto [it, inserted] = workers_.try_emplace(task);
  Worker& w = it->second;
  const int64_t requests = now.requests - w.base.requests;
  const double cpu_s = now.cpu_s - w.base.cpu_s;
  w.base = now;
  // A new worker, a restarted one (counters went back) or an interval of
  // too few requests (mostly idle: its CPU is not the requests') teaches
  // nothing; the next interval starts here.
  if (inserted || requests < kMinRequests || cpu_s < 0) return;
  const double ms = 1000 * cpu_s / static_cast<double>(requests);
  // Short intervals weigh less: the idle part of their second is in them.
  const double alpha = kAlpha * std::min(1.0, static_cast<double>(requests) / kFullRequests);
  w.ms = Ewma(w.ms, ms, alpha);
  double& node = image ? image_ms_ : sensor_ms_;
  node = Ewma(node, ms, alpha);
}

double ServeCost::TaskMs(const std::string& task) const {
  auto it = workers_.find(task);
  return it == workers_.end() ? 0 : it->second.ms;
}

}  // namespace mliot
