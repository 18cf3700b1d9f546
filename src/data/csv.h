// CSV data sets: a header row, one row per example, one column holding the
// label (numbers or strings), every other column numeric.
//
// Fields are separated by ',' (';' or a tab when the header has no comma);
// RFC 4180 quoting is understood. Empty fields and NA/NaN/? are missing
// values, kept as NaN and imputed by the trainer's preprocessing. Errors
// name the file, the line and the column: a ragged row, a non-numeric
// feature, a missing label column, fewer than two classes.
#ifndef MLIOT_DATA_CSV_H_
#define MLIOT_DATA_CSV_H_

#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace mliot {

struct CsvOptions {
  std::string label_column = "label";
  // When false, a file without the label column loads with every row
  // unlabelled (label -1), for prediction requests.
  bool require_label = true;
  // When true (training data), fewer than two classes is an error.
  bool require_two_classes = true;
};

absl::StatusOr<Dataset> LoadCsv(const std::string& path, const CsvOptions& options);

// A CSV file with a timestamp column (a sensor recording). The timestamps are
// read as float64 (float32 cannot hold UNIX milliseconds) and are not among
// the features. Errors name the file and line: no column `time_column`, a
// missing or non-numeric timestamp.
struct TimedCsv {
  Dataset data;
  std::vector<double> times;  // one per row
};
absl::StatusOr<TimedCsv> LoadTimedCsv(const std::string& path, const CsvOptions& options,
                                      const std::string& time_column);

}  // namespace mliot

#endif  // MLIOT_DATA_CSV_H_
