// A Mosquitto broker process on a loopback port, for benchmarks and tests:
// started with a config that keeps every QoS-1 message
// (`max_queued_messages 0`), stopped (SIGTERM), killed (SIGKILL) and
// restarted on demand. With `persistence` the broker keeps its sessions,
// subscriptions and queued QoS-1 messages in `DIR/mosquitto.db` across
// restarts: always written at a graceful Stop, and also while running per
// `autosave_interval` (seconds, or changes with `autosave_on_changes`), which
// is all that survives a Kill.
#ifndef MLIOT_STREAM_MOSQUITTO_BROKER_H_
#define MLIOT_STREAM_MOSQUITTO_BROKER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mliot::stream {

struct MosquittoOptions {
  int port = 0;                      // 0: a free loopback port
  bool allow_anonymous = true;       // false: clients without credentials are refused
  bool persistence = false;          // keep sessions and queued messages across restarts
  int autosave_interval = 0;         // seconds; 0: the database is written only when the broker exits
  bool autosave_on_changes = false;  // autosave_interval counts changes instead: 1 = save after every change
};

class MosquittoBroker {
 public:
  // Starts `mosquitto` (from PATH or /usr/sbin) on 127.0.0.1:`port` (0: a
  // free port), with its config and log under `dir`; waits until it accepts.
  // `allow_anonymous` false: clients without credentials are refused.
  static absl::StatusOr<std::unique_ptr<MosquittoBroker>> Start(const std::string& dir, int port = 0,
                                                                bool allow_anonymous = true);
  static absl::StatusOr<std::unique_ptr<MosquittoBroker>> Start(const std::string& dir,
                                                                const MosquittoOptions& options);
  ~MosquittoBroker();

  int port() const { return port_; }
  std::string Uri(const std::string& topic) const;  // mqtt://127.0.0.1:PORT/TOPIC
  void Kill();                 // SIGKILL, as a crash: only what was autosaved survives
  // SIGTERM, as a service stop: mosquitto writes its persistence database
  // (when enabled) and exits; SIGKILL after `timeout_s`.
  absl::Status Stop(double timeout_s = 10);
  absl::Status Restart();      // Kill if running, then start on the same port and config
  std::string Log() const;     // the broker's log so far

 private:
  absl::Status Spawn();
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_MOSQUITTO_BROKER_H_
