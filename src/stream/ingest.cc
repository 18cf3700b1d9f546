#include "stream/ingest.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

namespace mliot::stream {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Ingestor::Ingestor(std::unique_ptr<Subscriber> subscriber, Sink sink, double ttl_s)
    : subscriber_(std::move(subscriber)), sink_(std::move(sink)), reassembler_(ttl_s) {}

Ingestor::~Ingestor() { Stop(); }

absl::Status Ingestor::Start() {
  return subscriber_->Start([this](const Message& m) { OnMessage(m); });
}

void Ingestor::Stop() {
  if (subscriber_) subscriber_->Stop();
}

IngestCounters Ingestor::counters() const {
  absl::MutexLock lock(&mu_);
  return reassembler_.counters();
}

void Ingestor::OnMessage(const Message& m) {
  if (thread_nice_ != 0) {
    thread_local bool reniced = false;
    if (!reniced) {
      reniced = true;
      // Linux: a thread id as `who` changes that thread alone.
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), getpriority(PRIO_PROCESS, 0) + thread_nice_);
    }
  }
  std::vector<v1::Sample> samples;
  {
    absl::MutexLock lock(&mu_);
    const double now = NowSeconds();
    samples = reassembler_.AddMessage(m.payload, now);
    if (now - last_expire_s_ > 1) {
      reassembler_.Expire(now);
      last_expire_s_ = now;
    }
  }
  for (v1::Sample& s : samples) sink_(std::move(s));
}

}  // namespace mliot::stream
