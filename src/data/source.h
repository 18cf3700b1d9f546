// Data specs: the text users write to name a data set.
//
//   fashion-mnist:train[:N]   the Fashion-MNIST training images (first N)
//   fashion-mnist:test[:N]    the Fashion-MNIST test images
//   idx:IMAGES,LABELS         IDX files, gzipped or plain
//   csv:PATH                  a CSV file with a header row (see data/csv.h)
//
// Fashion-MNIST is read from $MLIOT_FASHION_MNIST_DIR, else
// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
#ifndef MLIOT_DATA_SOURCE_H_
#define MLIOT_DATA_SOURCE_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace mliot {

struct LoadOptions {
  std::string label_column = "label";
  // Training data must have labels and at least two classes; prediction and
  // evaluation data may lack either (unlabelled rows get label -1).
  bool for_training = true;
};

absl::StatusOr<Dataset> LoadDataset(absl::string_view spec, const LoadOptions& options = {});

// One line per accepted form, for help and error messages.
std::string DataSpecForms();

}  // namespace mliot

#endif  // MLIOT_DATA_SOURCE_H_
