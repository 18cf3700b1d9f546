#include "bench/training_setup.h"

#include "absl/strings/str_cat.h"
#include "bench/kit.h"
#include "data/source.h"
#include "stream/device_simulator.h"

namespace mliot::bench {

absl::StatusOr<std::unique_ptr<stream::SgdModel>> SgdBenchModel::Make(const Dataset& data) const {
  stream::SgdOptions o;
  o.kind = model;
  o.features = data.cols;
  if (data.shape.has_value()) {
    o.height = data.shape->height;
    o.width = data.shape->width;
  }
  o.classes = data.num_classes();
  o.hidden = hidden;
  o.learning_rate = learning_rate;
  o.threads = threads;
  o.seed = seed;
  return stream::SgdModel::Create(o);
}

stream::StreamTrainOptions SgdBenchModel::TrainOptions(const Dataset& train, int epochs) const {
  stream::StreamTrainOptions o;
  o.class_names = train.class_names;
  o.epoch_samples = train.rows;
  o.epochs = epochs;
  o.batch = batch;
  o.seed = seed;
  return o;
}

absl::StatusOr<Dataset> LoadTestLike(const std::string& spec, const Dataset& train) {
  LoadOptions lo;
  lo.for_training = false;
  absl::StatusOr<Dataset> test = LoadDataset(spec, lo);
  if (!test.ok()) return test.status();
  if (test->cols != train.cols) {
    return absl::InvalidArgumentError(absl::StrCat("--test ", spec, ": ", test->cols,
                                                   " features, training data has ", train.cols));
  }
  RemapLabels(*test, train.class_names);
  return test;
}

absl::StatusOr<nlohmann::json> RunOnTrainAndTest(
    const std::string& data, const SgdBenchModel& model, int repeat,
    const std::function<absl::StatusOr<nlohmann::json>(const Dataset& train, const Dataset& test)>&
        once) {
  absl::StatusOr<Dataset> train = LoadDataset(data);
  if (!train.ok()) return train.status();
  absl::StatusOr<Dataset> test = LoadTestLike(model.test, *train);
  if (!test.ok()) return test.status();
  return RunRepeated(repeat, [&] { return once(*train, *test); });
}

int64_t SampleBytes(const Dataset& data) {
  stream::SimulateOptions so;
  so.task = "bench";
  return static_cast<int64_t>(stream::RowToSample(data, 0, 0, so).SerializeAsString().size());
}

namespace {

nlohmann::json TierJson(const stream::TierStats& t) {
  return {{"hits", t.hits},
          {"misses", t.misses},
          {"bytes", t.bytes},
          {"read_us_per_hit", t.hits > 0 ? 1e6 * t.read_s / static_cast<double>(t.hits) : 0.0}};
}

}  // namespace

nlohmann::json CacheJson(const stream::CacheStats& s) {
  return {{"requests", s.requests},
          {"substituted", s.substituted},
          {"ram", TierJson(s.tiers[0])},
          {"disk", TierJson(s.tiers[1])},
          {"archive", TierJson(s.tiers[2])}};
}

}  // namespace mliot::bench
