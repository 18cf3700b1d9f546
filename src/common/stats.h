// Small statistics helpers for latency reporting.
#ifndef MLIOT_COMMON_STATS_H_
#define MLIOT_COMMON_STATS_H_

#include <vector>

namespace mliot {

// The q-quantile (0 <= q <= 1) of `values` by linear interpolation between
// closest ranks (numpy's default). Returns 0 for an empty input.
double Percentile(std::vector<double> values, double q);

// Peak resident set size of this process in MiB (from getrusage).
double PeakRssMiB();

}  // namespace mliot

#endif  // MLIOT_COMMON_STATS_H_
