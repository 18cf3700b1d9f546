// Real child processes for integration tests: spawn `mliot` roles, run
// client commands to completion, kill with any signal.
#ifndef MLIOT_TESTS_PROCESS_H_
#define MLIOT_TESTS_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace mliot::testing {

// The binary under test ($MLIOT_BINARY) and the source tree ($MLIOT_SOURCE_DIR).
std::string MliotBinary();
std::string SourceDir();

// A loopback TCP port that was free a moment ago.
int FreePort();

// A long-running child; stdout and stderr go to `log`. Killed (SIGKILL) and
// reaped on destruction unless already stopped.
class Process {
 public:
  Process() = default;
  Process(const std::vector<std::string>& argv, const std::string& log);
  // Any program (argv[0] is the executable, looked up in PATH), not mliot.
  static Process Program(const std::vector<std::string>& argv, const std::string& log);
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signal` and waits for the exit; returns the wait status.
  int Stop(int signal);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::string log_;
};

struct RunResult {
  bool exited = false;  // false: killed by a signal or timed out
  int exit_code = -1;   // -1 unless exited
  int signal = 0;
  std::string out, err;
};

// Runs `mliot ARGS...` to completion (killed after `timeout`), stdin from
// /dev/null. stdout and stderr go through files in `io_dir` (default: unique
// names under /tmp, removed afterwards). Safe to call from several threads.
RunResult RunMliot(const std::vector<std::string>& args,
                   std::chrono::seconds timeout = std::chrono::seconds(120), const std::string& io_dir = "");

// Runs any program to completion (stdin /dev/null); its stdout, stderr and
// exit code.
RunResult RunProgram(const std::vector<std::string>& argv,
                     std::chrono::seconds timeout = std::chrono::seconds(120));

// The last non-empty line of `text`.
std::string LastLine(const std::string& text);

}  // namespace mliot::testing

#endif  // MLIOT_TESTS_PROCESS_H_
