#include "stream/sample_codec.h"

#include <algorithm>
#include <random>

#include "gtest/gtest.h"
#include "stream/transport.h"

namespace mliot::stream {
namespace {

v1::Sample MakeSample(const std::string& id, size_t bytes) {
  v1::Sample s;
  s.set_id(id);
  s.set_task("t");
  s.set_label("shirt");
  s.add_shape(28);
  s.add_shape(28);
  s.set_dtype(v1::DTYPE_UINT8);
  s.set_device("dev-1");
  s.set_timestamp_ms(1234);
  std::string payload(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) payload[i] = static_cast<char>(i * 7 + id.size());
  s.set_payload(payload);
  return s;
}

TEST(SampleCodecTest, SmallSampleIsOneMessage) {
  const v1::Sample s = MakeSample("a", 784);
  const std::vector<std::string> msgs = EncodeChunks(s, 4096);
  ASSERT_EQ(msgs.size(), 1u);
  Reassembler r;
  std::optional<v1::Sample> out = r.Add(msgs[0], 0);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->payload(), s.payload());
  EXPECT_EQ(out->label(), "shirt");
  EXPECT_EQ(out->shape_size(), 2);
  EXPECT_EQ(r.counters().samples, 1);
}

TEST(SampleCodecTest, ChunksArriveOutOfOrderWithDuplicatesAndInterleaved) {
  const v1::Sample a = MakeSample("a", 10000), b = MakeSample("b", 2500);
  std::vector<std::string> msgs = EncodeChunks(a, 1000);
  ASSERT_EQ(msgs.size(), 10u);
  const std::vector<std::string> mb = EncodeChunks(b, 1000);
  ASSERT_EQ(mb.size(), 3u);
  msgs.insert(msgs.end(), mb.begin(), mb.end());
  msgs.push_back(msgs[3]);  // a QoS-1 redelivery
  std::shuffle(msgs.begin(), msgs.end(), std::mt19937(3));
  Reassembler r;
  std::map<std::string, v1::Sample> done;
  for (const std::string& m : msgs) {
    if (std::optional<v1::Sample> s = r.Add(m, 0)) done[s->id()] = *s;
  }
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done["a"].payload(), a.payload());
  EXPECT_EQ(done["b"].payload(), b.payload());
  EXPECT_EQ(done["a"].chunk_count(), 1);
  EXPECT_EQ(r.counters().samples, 2);
  EXPECT_EQ(r.counters().duplicates, 1);  // before or after "a" completed
  EXPECT_EQ(r.pending(), 0u);
}

TEST(SampleCodecTest, MalformedMessagesAreCountedAndSkipped) {
  Reassembler r;
  EXPECT_FALSE(r.Add("\xff\xff\xff not a protobuf", 0).has_value());
  v1::Sample no_id = MakeSample("", 10);
  EXPECT_FALSE(r.Add(no_id.SerializeAsString(), 0).has_value());
  v1::Sample bad_index = MakeSample("x", 10);
  bad_index.set_chunk_count(2);
  bad_index.set_chunk_index(5);
  EXPECT_FALSE(r.Add(bad_index.SerializeAsString(), 0).has_value());
  EXPECT_EQ(r.counters().malformed, 3);
  // Good samples still go through afterwards.
  EXPECT_TRUE(r.Add(MakeSample("y", 10).SerializeAsString(), 0).has_value());
}

TEST(SampleCodecTest, IncompleteSamplesExpireAndAreCounted) {
  Reassembler r(/*ttl_s=*/5);
  const std::vector<std::string> msgs = EncodeChunks(MakeSample("a", 3000), 1000);
  EXPECT_FALSE(r.Add(msgs[0], 0).has_value());
  EXPECT_FALSE(r.Add(msgs[1], 1).has_value());
  r.Expire(4);
  EXPECT_EQ(r.pending(), 1u);
  r.Expire(6);
  EXPECT_EQ(r.pending(), 0u);
  EXPECT_EQ(r.counters().expired, 1);
  // The last chunk arriving late starts a new partial, which expires too.
  EXPECT_FALSE(r.Add(msgs[2], 7).has_value());
  r.Expire(20);
  EXPECT_EQ(r.counters().expired, 2);
}

TEST(ReassemblerTest, BatchesYieldEverySampleAndBadMembersAreCounted) {
  std::vector<v1::Sample> samples;
  for (int i = 0; i < 3; ++i) {
    v1::Sample s;
    s.set_id("d-" + std::to_string(i));
    s.set_label("a");
    s.set_payload(std::string(4, static_cast<char>(i)));
    samples.push_back(s);
  }
  samples.push_back(v1::Sample());  // no id: malformed, the others still pass
  Reassembler r;
  const std::vector<v1::Sample> out = r.AddMessage(EncodeBatch(samples), 0);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].id(), "d-2");
  EXPECT_EQ(out[2].payload(), std::string(4, '\2'));
  EXPECT_EQ(r.counters().samples, 3);
  EXPECT_EQ(r.counters().batches, 1);
  EXPECT_EQ(r.counters().malformed, 1);
  // A single sample through the same entry point.
  EXPECT_EQ(r.AddMessage(EncodeChunks(samples[0], 1024).front(), 0).size(), 1u);
  // Add() takes single samples only.
  EXPECT_FALSE(r.Add(EncodeBatch({samples[0]}), 0).has_value());
}

TEST(BrokerUriTest, ParsesAndNamesTheBadPart) {
  absl::StatusOr<BrokerUri> u = BrokerUri::Parse("mqtt://127.0.0.1:1883/mliot/kitchen/samples");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme, "mqtt");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 1883);
  EXPECT_EQ(u->topic, "mliot/kitchen/samples");
  EXPECT_EQ(u->ToString(), "mqtt://127.0.0.1:1883/mliot/kitchen/samples");
  EXPECT_TRUE(BrokerUri::Parse("kafka://localhost:9092/t").ok());
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {"amqp://h:1/t", "valid: mqtt, kafka"},
           {"mqtt://h/t", "HOST:PORT"},
           {"mqtt://h:99999/t", "HOST:PORT"},
           {"mqtt://h:1883", "no topic"},
           {"h:1883/t", "expected mqtt://"}}) {
    absl::StatusOr<BrokerUri> b = BrokerUri::Parse(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find(says), std::string::npos) << b.status();
  }
}

}  // namespace
}  // namespace mliot::stream
