// A Mosquitto broker process on a loopback port, for benchmarks and tests:
// started with a config that keeps every QoS-1 message
// (`max_queued_messages 0`), killed and restarted on demand.
#ifndef MLIOT_STREAM_MOSQUITTO_BROKER_H_
#define MLIOT_STREAM_MOSQUITTO_BROKER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mliot::stream {

class MosquittoBroker {
 public:
  // Starts `mosquitto` (from PATH or /usr/sbin) on 127.0.0.1:`port` (0: a
  // free port), with its config and log under `dir`; waits until it accepts.
  // `allow_anonymous` false: clients without credentials are refused.
  static absl::StatusOr<std::unique_ptr<MosquittoBroker>> Start(const std::string& dir, int port = 0,
                                                                bool allow_anonymous = true);
  ~MosquittoBroker();

  int port() const { return port_; }
  std::string Uri(const std::string& topic) const;  // mqtt://127.0.0.1:PORT/TOPIC
  void Kill();                 // SIGKILL, as a crash
  absl::Status Restart();      // same port and config
  std::string Log() const;     // the broker's log so far

 private:
  absl::Status Spawn();
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_MOSQUITTO_BROKER_H_
