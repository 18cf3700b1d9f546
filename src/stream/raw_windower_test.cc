// A chunked raw stream gives the windows featurizing the whole recording
// gives; lost chunks restart a device's windows; labels follow the frames.
#include "stream/raw_windower.h"

#include "features/iot_data_for_tests.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot::stream {
namespace {

v1::Sample Chunk(const Signal& s, int64_t begin, int64_t end, const std::string& device, const std::string& label,
                 bool pcm16) {
  v1::Sample c;
  c.set_id(device + "-" + std::to_string(begin));
  c.set_device(device);
  c.set_label(label);
  c.set_sample_rate(s.sample_rate);
  c.set_stream_offset(begin);
  c.add_shape(static_cast<int32_t>(end - begin));
  c.add_shape(s.channels);
  for (const std::string& n : s.channel_names) c.add_channel_names(n);
  if (pcm16) {
    c.set_dtype(v1::DTYPE_PCM16);
    std::string bytes;
    for (int64_t i = begin * s.channels; i < end * s.channels; ++i) {
      const auto v = static_cast<int16_t>(std::lround(std::clamp(s.samples[i], -1.0f, 32767.0f / 32768) * 32768));
      bytes.push_back(static_cast<char>(v & 0xff));
      bytes.push_back(static_cast<char>((v >> 8) & 0xff));
    }
    c.set_payload(bytes);
  } else {
    c.set_dtype(v1::DTYPE_FLOAT32);
    c.set_payload(std::string(reinterpret_cast<const char*>(s.samples.data() + begin * s.channels),
                              static_cast<size_t>((end - begin) * s.channels) * sizeof(float)));
  }
  return c;
}

TEST(RawWindowerTest, ChunkedAudioGivesTheRecordingsWindows) {
  Signal s = testing::Tone(700, 3.5, 22050);
  // Round to what PCM16 holds, so both paths see the same samples.
  for (float& v : s.samples) v = static_cast<float>(std::lround(v * 32768)) / 32768;
  RawWindower w(FeaturizerConfig{.name = "logmel"});
  std::vector<FeaturizedWindow> got;
  for (int64_t b = 0; b < s.frames(); b += 2205) {  // 0.1 s chunks
    auto windows = w.Add(Chunk(s, b, std::min(s.frames(), b + 2205), "mic", "tone", true));
    ASSERT_TRUE(windows.ok()) << windows.status();
    got.insert(got.end(), windows->begin(), windows->end());
  }
  auto f = MakeFeaturizer(FeaturizerConfig{.name = "logmel"});
  ASSERT_TRUE(f.ok());
  const std::vector<FrameRange> full = (*f)->Windows(s.frames(), s.sample_rate);
  // 3.5 s: three full windows (the 0.62 s remainder needs the clip's end to be padded).
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    std::vector<float> row(static_cast<size_t>((*f)->num_features()));
    ASSERT_TRUE((*f)->FeaturizeWindow(s, full[i], row.data()).ok());
    EXPECT_EQ(got[i].first_frame, full[i].begin);
    EXPECT_EQ(got[i].end_frame, full[i].end);
    for (size_t j = 0; j < row.size(); ++j) ASSERT_NEAR(got[i].row[j], row[j], 1e-4) << i << " " << j;
    EXPECT_EQ(got[i].label, "tone");
  }
  EXPECT_EQ(WindowId(got[1]), "mic-f21168-42667");  // 15360 and 30960 samples at 16 kHz, scaled to 22.05 kHz
  const v1::Sample as_sample = w.ToSample(got[0], "t");
  EXPECT_EQ(as_sample.shape_size(), 2);
  EXPECT_EQ(as_sample.shape(0), 96);
  EXPECT_EQ(as_sample.label(), "tone");
}

TEST(RawWindowerTest, SensorWindowsTakeTheMajorityLabelAndGapsRestart) {
  Signal s;
  s.channel_names = {"x_acc", "y_acc", "z_acc"};
  s.channels = 3;
  s.sample_rate = 50;
  for (int i = 0; i < 50 * 10; ++i) s.samples.insert(s.samples.end(), {std::sin(i * 0.3f), 1.0f, 9.8f});
  RawWindower w(FeaturizerConfig{.name = "sensor_stats"});  // channels from the first chunk
  std::vector<FeaturizedWindow> got;
  for (int64_t b = 0; b < 250; b += 25) {
    auto windows = w.Add(Chunk(s, b, b + 25, "board", b < 75 ? "idle" : "walk", false));
    ASSERT_TRUE(windows.ok()) << windows.status();
    got.insert(got.end(), windows->begin(), windows->end());
  }
  // 5 s, windows of 2 s every 1 s: [0,2) [1,3) [2,4) [3,5).
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].label, "idle");  // 1.5 s of 2 s idle
  EXPECT_EQ(got[1].label, "walk");  // 0.5 s idle, 1.5 s walk
  EXPECT_EQ(got[0].row.size(), (3u + 1u) * 14u);
  // A lost chunk (frames 250-275 never arrive): the device starts afresh.
  auto after = w.Add(Chunk(s, 275, 300, "board", "walk", false));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(w.counters().restarts, 1);
  // A chunk without a rate is refused by name, and the stream goes on.
  v1::Sample bad = Chunk(s, 300, 325, "board", "walk", false);
  bad.set_sample_rate(0);
  EXPECT_THAT(w.Add(bad).status().message(), ::testing::HasSubstr("sample_rate"));
  EXPECT_EQ(w.counters().rejected, 1);
}

}  // namespace
}  // namespace mliot::stream
