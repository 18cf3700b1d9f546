#include "data/source.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_util.h"
#include "data/csv.h"
#include "data/idx.h"

namespace mliot {
namespace {

std::string FashionMnistDir() {
  const char* dir = std::getenv("MLIOT_FASHION_MNIST_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/share/datasets/fashion-mnist";
}

absl::StatusOr<Dataset> LoadFashionMnist(absl::string_view rest, absl::string_view spec) {
  std::vector<absl::string_view> parts = absl::StrSplit(rest, ':');
  if (parts.empty() || parts.size() > 2 || (parts[0] != "train" && parts[0] != "test")) {
    return absl::InvalidArgumentError(
        absl::StrCat("data spec '", spec, "': expected fashion-mnist:train[:N] or fashion-mnist:test[:N]"));
  }
  int64_t max_rows = -1;
  if (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &max_rows) || max_rows <= 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data spec '", spec, "': row count '", parts[1], "' is not a positive integer"));
  }
  const std::string dir = FashionMnistDir();
  const std::string prefix = parts[0] == "train" ? "train" : "t10k";
  MLIOT_ASSIGN_OR_RETURN(
      Dataset ds,
      LoadIdxDataset(absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte.gz"),
                     absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte.gz"), max_rows,
                     {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"}));
  ds.source = std::string(spec);
  return ds;
}

}  // namespace

std::string DataSpecForms() {
  return "fashion-mnist:train[:N], fashion-mnist:test[:N], idx:IMAGES,LABELS, csv:PATH, audio:DIR, sensor:DIR";
}

absl::StatusOr<Dataset> LoadDataset(absl::string_view spec, const LoadOptions& options) {
  const size_t colon = spec.find(':');
  const absl::string_view scheme = colon == absl::string_view::npos ? "" : spec.substr(0, colon);
  const absl::string_view rest = colon == absl::string_view::npos ? spec : spec.substr(colon + 1);
  absl::StatusOr<Dataset> ds;
  if (scheme == "fashion-mnist") {
    ds = LoadFashionMnist(rest, spec);
  } else if (scheme == "idx") {
    std::vector<std::string> paths = absl::StrSplit(rest, ',');
    if (paths.size() != 2 || paths[0].empty() || paths[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("data spec '", spec, "': expected idx:IMAGES,LABELS"));
    }
    ds = LoadIdxDataset(paths[0], paths[1]);
  } else if (scheme == "csv") {
    if (rest.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("data spec '", spec, "': expected csv:PATH"));
    }
    CsvOptions csv;
    csv.label_column = options.label_column;
    csv.require_label = options.for_training;
    csv.require_two_classes = options.for_training;
    ds = LoadCsv(std::string(rest), csv);
  } else if (scheme == "audio" || scheme == "sensor") {
    return absl::InvalidArgumentError(absl::StrCat(
        "data spec '", spec, "': raw ", scheme,
        " data is featurized by train, eval, predict and device simulate, not by this command"));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("data spec '", spec,
                                                   "': unknown source; valid forms: ",
                                                   DataSpecForms()));
  }
  if (!ds.ok()) return ds.status();
  if (options.for_training && ds->num_classes() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(ds->source, ": fewer than two classes; a classifier needs at least two"));
  }
  if (options.for_training) {
    int present = 0;
    for (int64_t count : ds->ClassCounts()) present += count > 0 ? 1 : 0;
    if (present < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          ds->source, ": fewer than two classes present; a classifier needs at least two"));
    }
  }
  MLIOT_RETURN_IF_ERROR(ds->Validate());
  return ds;
}

}  // namespace mliot
