// Starting child processes: this binary again (benchmark workers, simulated
// nodes, device simulators) or any program, with its stdio redirected.
#ifndef MLIOT_COMMON_PROCESS_H_
#define MLIOT_COMMON_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

// The running binary's path (/proc/self/exe); "mliot" when unknown.
std::string SelfExe();

struct SpawnOptions {
  std::vector<std::string> args;  // args[0] is the program (a path)
  int stdin_fd = -1;              // >= 0: the child's stdin
  std::string stdin_path;         // else, when set: stdin from this file (e.g. /dev/null)
  int stdout_fd = -1;             // >= 0: the child's stdout
  std::string stdout_path;        // else, when set: stdout to this file (truncated)
  int stderr_fd = -1;             // >= 0: the child's stderr
  std::string stderr_path;        // else, when set: stderr to this file (truncated)
  int nice = 0;                   // > 0: started under `nice -n NICE`
};

// Starts the process; its pid. Errors name the program.
absl::StatusOr<pid_t> Spawn(SpawnOptions options);

// Sends `signal`, reaps the child if it exits within `grace`, else kills it
// with SIGKILL and reaps it.
void StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace);

}  // namespace mliot

#endif  // MLIOT_COMMON_PROCESS_H_
