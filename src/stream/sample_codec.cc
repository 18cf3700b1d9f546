#include "stream/sample_codec.h"

#include <algorithm>

namespace mliot::stream {

std::vector<std::string> EncodeChunks(const v1::Sample& sample, size_t max_payload) {
  max_payload = std::max<size_t>(1, max_payload);
  const std::string& payload = sample.payload();
  const size_t count = std::max<size_t>(1, (payload.size() + max_payload - 1) / max_payload);
  std::vector<std::string> out;
  out.reserve(count);
  v1::Sample chunk = sample;
  chunk.set_chunk_count(static_cast<int32_t>(count));
  for (size_t i = 0; i < count; ++i) {
    chunk.set_chunk_index(static_cast<int32_t>(i));
    chunk.set_payload(payload.substr(i * max_payload, max_payload));
    out.push_back(chunk.SerializeAsString());
  }
  return out;
}

std::string EncodeBatch(std::vector<v1::Sample> samples) {
  v1::Sample outer;
  for (v1::Sample& s : samples) *outer.add_batch() = std::move(s);
  return outer.SerializeAsString();
}

std::vector<v1::Sample> Reassembler::AddMessage(const std::string& message, double now_s) {
  ++counters_.messages;
  std::vector<v1::Sample> out;
  v1::Sample s;
  if (!s.ParseFromString(message)) {
    ++counters_.malformed;
    return out;
  }
  if (s.batch_size() > 0) {
    ++counters_.batches;
    for (v1::Sample& inner : *s.mutable_batch()) {
      if (inner.id().empty() || inner.chunk_count() > 1 || inner.batch_size() > 0) {
        ++counters_.malformed;
        continue;
      }
      inner.set_chunk_index(0);
      inner.set_chunk_count(1);
      ++counters_.samples;
      out.push_back(std::move(inner));
    }
    return out;
  }
  if (std::optional<v1::Sample> one = AddParsed(std::move(s), now_s)) out.push_back(std::move(*one));
  return out;
}

std::optional<v1::Sample> Reassembler::Add(const std::string& message, double now_s) {
  ++counters_.messages;
  v1::Sample s;
  if (!s.ParseFromString(message) || s.batch_size() > 0) {
    ++counters_.malformed;
    return std::nullopt;
  }
  return AddParsed(std::move(s), now_s);
}

std::optional<v1::Sample> Reassembler::AddParsed(v1::Sample s, double now_s) {
  if (s.id().empty()) {
    ++counters_.malformed;
    return std::nullopt;
  }
  const int count = s.chunk_count() <= 0 ? 1 : s.chunk_count();
  if (s.chunk_index() < 0 || s.chunk_index() >= count || count > (1 << 20)) {
    ++counters_.malformed;
    return std::nullopt;
  }
  if (count == 1) {
    ++counters_.samples;
    s.set_chunk_index(0);
    s.set_chunk_count(1);
    return s;
  }
  if (recent_.count(s.id()) > 0) {
    ++counters_.duplicates;
    return std::nullopt;
  }
  auto [it, inserted] = pending_.try_emplace(s.id());
  Partial& p = it->second;
  if (inserted) {
    p.pieces.resize(static_cast<size_t>(count));
    p.have.assign(static_cast<size_t>(count), false);
    p.started_s = now_s;
  } else if (p.pieces.size() != static_cast<size_t>(count)) {
    ++counters_.malformed;  // the same id with another chunk count
    return std::nullopt;
  }
  const size_t index = static_cast<size_t>(s.chunk_index());
  if (p.have[index]) {
    ++counters_.duplicates;
    return std::nullopt;
  }
  p.have[index] = true;
  p.pieces[index] = std::move(*s.mutable_payload());
  s.clear_payload();
  if (p.received == 0) p.first = s;  // every chunk carries the metadata
  ++p.received;
  if (p.received < count) return std::nullopt;
  v1::Sample done = std::move(p.first);
  std::string payload;
  for (std::string& piece : p.pieces) payload += piece;
  done.set_payload(std::move(payload));
  done.set_chunk_index(0);
  done.set_chunk_count(1);
  Remember(it->first);
  pending_.erase(it);
  ++counters_.samples;
  return done;
}

void Reassembler::Remember(const std::string& id) {
  constexpr size_t kRecent = 4096;
  recent_.insert(id);
  recent_order_.push_back(id);
  if (recent_order_.size() > kRecent) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void Reassembler::Expire(double now_s) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_s - it->second.started_s > ttl_s_) {
      ++counters_.expired;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace mliot::stream
