// Test data for the streaming-training tests: 8x8 "images" of three
// classes, a bright row band at a class-specific height plus uniform noise,
// pixels in [0, 1]; and small model and training options for them. Header-only, tests only.
#ifndef MLIOT_STREAM_TOY_DATA_FOR_TESTS_H_
#define MLIOT_STREAM_TOY_DATA_FOR_TESTS_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "data/dataset.h"
#include "stream/sgd_model.h"
#include "stream/stream_trainer.h"

namespace mliot::stream {

// `noise`: the largest noise added to a pixel; `band`: the band's brightness.
inline Dataset ToyImages(int64_t rows, uint64_t seed, float noise = 0.4f, float band = 0.6f) {
  Dataset d;
  d.rows = rows;
  d.cols = 64;
  d.shape = ImageShape{8, 8};
  d.class_names = {"top", "middle", "bottom"};
  d.source = "toy";
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> pixel_noise(0.0f, noise);
  for (int64_t i = 0; i < rows; ++i) {
    const int label = static_cast<int>(i % 3);
    d.labels.push_back(label);
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) d.features.push_back(std::min(1.0f, (y / 3 == label ? band : 0.0f) + pixel_noise(rng)));
    }
  }
  return d;
}

inline SgdOptions ToyModelOptions(const std::string& kind) {
  SgdOptions o;
  o.kind = kind;
  o.features = 64;
  o.height = 8;
  o.width = 8;
  o.classes = 3;
  o.hidden = 32;
  o.learning_rate = 3e-3;
  return o;
}

// Three epochs over `d` in batches of 32.
inline StreamTrainOptions ToyTrainOptions(const Dataset& d) {
  StreamTrainOptions o;
  o.class_names = d.class_names;
  o.epoch_samples = d.rows;
  o.epochs = 3;
  o.batch = 32;
  return o;
}

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_TOY_DATA_FOR_TESTS_H_
