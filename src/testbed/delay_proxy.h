// DelayProxy: a TCP proxy that adds a round-trip time to every connection
// through it, for the emulated testbed (this kernel has no netem).
//
// It listens on a free port of `listen_host` and forwards each connection
// to `target`; bytes in each direction are held for rtt_ms / 2 from the
// moment the proxy reads them, so a request and its answer take rtt_ms
// longer, whatever their size, while the connection's throughput is
// unchanged (a delay line, not a rate limit). Connection set-up itself is
// not delayed (the proxy accepts at once; the first bytes wait).
//
//   absl::StatusOr<std::unique_ptr<DelayProxy>> p = DelayProxy::Start("127.0.0.1:7071", 40);
//   (*p)->address();   // "127.0.0.1:PORT": give this to clients
//
// Each connection costs four threads (a reader and a writer per direction);
// the testbed has a handful of gRPC connections per node. Stop() (or the
// destructor) closes every connection and joins every thread.
#ifndef MLIOT_TESTBED_DELAY_PROXY_H_
#define MLIOT_TESTBED_DELAY_PROXY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mliot {

class DelayProxy {
 public:
  // InvalidArgument for a target that is not HOST:PORT or a negative rtt;
  // Unavailable when it cannot listen.
  static absl::StatusOr<std::unique_ptr<DelayProxy>> Start(
      const std::string& target, double rtt_ms, const std::string& listen_host = "127.0.0.1");
  ~DelayProxy();

  // HOST:PORT clients connect to.
  std::string address() const;
  int port() const;
  double rtt_ms() const;
  // Connections accepted so far.
  int64_t connections() const;

  void Stop();

 private:
  struct State;
  explicit DelayProxy(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mliot

#endif  // MLIOT_TESTBED_DELAY_PROXY_H_
