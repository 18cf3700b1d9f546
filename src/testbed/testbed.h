// The emulated testbed: several devices on one machine, to try placement
// policies before buying hardware (`mliot up --testbed FILE.yaml`).
//
// Each device is one `mliot node` process under real cgroup CPU and memory
// limits, with its labels, declaring its size and its round-trip time, and
// with a delaying TCP proxy (testbed/delay_proxy.h) in front of every port
// it and its workers listen on, so that clients and the coordinator see
// that round-trip time on every connection to it.
//
// The file (docs/TESTBED.md has the full format):
//
//   devices:
//     - name: M1                # the node's name
//       cores: 0.125            # CPU quota, in cores of this machine (> 0)
//       memory_mb: 1536         # memory limit (> 0)
//       rtt_ms: 3               # added round-trip time (>= 0; default 0)
//       declared_cores: 4       # what the node declares to placement (default: ceil(cores))
//       labels: {locality: local}
//       gpu: false
#ifndef MLIOT_TESTBED_TESTBED_H_
#define MLIOT_TESTBED_TESTBED_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

struct TestbedDevice {
  std::string name;
  double cores = 0;
  int64_t memory_mb = 0;
  double rtt_ms = 0;
  int declared_cores = 0;
  std::map<std::string, std::string> labels;
  bool gpu = false;
};

struct Testbed {
  std::vector<TestbedDevice> devices;
};

// Parses a testbed file's text. Errors are one line naming the key
// ("devices[1].cores: must be > 0, got -1"); `source` prefixes them.
absl::StatusOr<Testbed> ParseTestbed(const std::string& yaml,
                                     const std::string& source = "testbed");
absl::StatusOr<Testbed> LoadTestbed(const std::string& path);

struct TestbedRunOptions {
  std::string coordinator;  // the coordinator's address (already running)
  std::string data_dir;     // each device keeps its state in DATA_DIR/NAME
  std::string self_exe;     // the mliot binary
  std::string benchmark = "quick";
  std::string join_token_file;  // the coordinator's join.token (each node joins with it)
};

// Starts one node process per device under its limits, waits until `stop`,
// then stops them (SIGTERM, then SIGKILL after 10 s) and removes their
// control groups. Fails (having stopped what it started) when a node
// cannot be started or limited; a node that exits early is reported and
// the others keep running.
absl::Status RunTestbed(const Testbed& testbed, const TestbedRunOptions& options,
                        const std::atomic<bool>& stop);

}  // namespace mliot

#endif  // MLIOT_TESTBED_TESTBED_H_
