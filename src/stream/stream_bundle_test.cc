// A streaming model published as an engine bundle must serve exactly what
// the streaming model predicts: the weights are written in the engine kind's
// format and the preprocessing reproduces the model's input mapping, so a
// mistake in either (layer order, transposition, input scale, the cnn's
// flattening) shows up as predictions that disagree.
#include "stream/stream_bundle.h"

#include <unistd.h>

#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "serve/servable.h"
#include "stream/stream_trainer.h"
#include "stream/toy_data_for_tests.h"

namespace mliot::stream {
namespace {

TEST(StreamBundleTest, ServesWhatTheStreamingModelPredicts) {
  // Noisier than the trainer tests' images, so the model is not certain everywhere.
  const Dataset train = ToyImages(300, 1, 0.7f, 0.4f), test = ToyImages(600, 2, 0.7f, 0.4f);
  for (const std::string kind : {"mlp", "cnn"}) {
    const SgdOptions so = ToyModelOptions(kind);
    auto model = SgdModel::Create(so);
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(TrainInRam(train, **model, ToyTrainOptions(train)).ok());
    const double model_accuracy = (*model)->Accuracy(test);

    const std::string dir = (std::filesystem::temp_directory_path() /
                             absl::StrCat("mliot-stream-bundle-test-", getpid(), "-", kind))
                                .string();
    std::filesystem::remove_all(dir);
    StreamBundleInfo info{train.class_names, "mqtt://127.0.0.1:1883/t", dir + "/scratch"};
    absl::StatusOr<int64_t> v = PublishStreamBundle(dir + "/bundle", **model, info);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 1);
    EXPECT_TRUE(std::filesystem::exists(absl::StrCat(dir, "/bundle/1/", kStreamCheckpointFile)));

    absl::StatusOr<std::unique_ptr<Servable>> servable = Servable::Load(dir + "/bundle");
    ASSERT_TRUE(servable.ok()) << servable.status();
    EXPECT_EQ((*servable)->class_names(), train.class_names);
    EXPECT_EQ((*servable)->num_features(), 64);
    // Per row, on the test images and on pure noise (where the answer
    // hangs on the exact weights): the served label is the label the
    // streaming model predicts (Accuracy of a one-row set labelled with it).
    Dataset probe = test;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    for (int i = 0; i < 300; ++i) {
      for (int j = 0; j < 64; ++j) probe.features.push_back(pixel(rng));
      probe.labels.push_back(0);
      ++probe.rows;
    }
    int64_t agree = 0;
    std::vector<float> cert(3);
    for (int64_t r = 0; r < probe.rows; ++r) {
      const Answer a = (*servable)->Predict(probe.row(r), cert.data());
      EXPECT_NEAR(cert[0] + cert[1] + cert[2], 1.0f, 1e-4f);
      std::vector<int64_t> one = {r};
      Dataset row = probe.Subset(one);
      row.labels[0] = a.label;
      agree += (*model)->Accuracy(row) == 1.0 ? 1 : 0;
    }
    // A near-tie may flip a row between libtorch and the Eigen serving path.
    EXPECT_GE(agree, probe.rows - 2) << kind << ": served and streaming predictions differ";
    // The checkpoint in the version restores the streaming model itself.
    auto resumed = SgdModel::Create(so);
    ASSERT_TRUE(resumed.ok());
    ASSERT_TRUE((*resumed)->LoadCheckpoint(absl::StrCat(dir, "/bundle/1/", kStreamCheckpointFile)).ok());
    EXPECT_DOUBLE_EQ((*resumed)->Accuracy(test), model_accuracy);
    // The next publication is the next version.
    v = PublishStreamBundle(dir + "/bundle", **model, info);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, 2);
    std::printf("%s: accuracy %.4f; served = streaming prediction on %lld of %lld rows\n", kind.c_str(),
                model_accuracy, static_cast<long long>(agree), static_cast<long long>(probe.rows));
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
}  // namespace mliot::stream
