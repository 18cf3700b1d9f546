#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/grpc_util.h"

extern char** environ;

namespace mliot::testing {
namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t SpawnTo(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
              bool search_path = false) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (err == out) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = -1;
  const int rc = search_path ? posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ)
                             : posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  if (rc != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

std::string MliotBinary() { return Env("MLIOT_BINARY", "build/mliot"); }
std::string SourceDir() { return Env("MLIOT_SOURCE_DIR", "."); }

int FreePort() { return FreeLoopbackPort(); }

Process::Process(const std::vector<std::string>& argv, const std::string& log) : log_(log) {
  std::vector<std::string> full = {MliotBinary()};
  full.insert(full.end(), argv.begin(), argv.end());
  pid_ = SpawnTo(full, log, log);
}

Process Process::Program(const std::vector<std::string>& argv, const std::string& log) {
  Process p;
  p.log_ = log;
  p.pid_ = SpawnTo(argv, log, log, /*search_path=*/true);
  return p;
}

Process::Process(Process&& other) noexcept : pid_(other.pid_), log_(std::move(other.log_)) { other.pid_ = -1; }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Stop(SIGKILL);
    pid_ = other.pid_;
    log_ = std::move(other.log_);
    other.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0) Stop(SIGKILL);
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int Process::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::string Process::Log() const { return ReadAll(log_); }

namespace {

RunResult RunArgv(const std::vector<std::string>& full, bool search_path, std::chrono::seconds timeout,
                  const std::string& io_dir) {
  static std::atomic<int> counter{0};
  const std::string base = io_dir.empty() ? "/tmp/mliot-test-run-" + std::to_string(getpid()) + "-" +
                                                std::to_string(counter.fetch_add(1))
                                          : io_dir + "/";
  const std::string out_path = base + (io_dir.empty() ? ".out" : "stdout");
  const std::string err_path = base + (io_dir.empty() ? ".err" : "stderr");
  unlink(out_path.c_str());
  RunResult r;
  const pid_t pid = SpawnTo(full, out_path, err_path, search_path);
  if (pid <= 0) {
    r.err = "posix_spawn failed for " + full[0];
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool timed_out = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.exited = !timed_out && WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  r.out = ReadAll(out_path);
  r.err = timed_out ? "timed out" : ReadAll(err_path);
  if (io_dir.empty()) {
    unlink(out_path.c_str());
    unlink(err_path.c_str());
  }
  return r;
}

}  // namespace

RunResult RunMliot(const std::vector<std::string>& args, std::chrono::seconds timeout, const std::string& io_dir) {
  std::vector<std::string> full = {MliotBinary()};
  full.insert(full.end(), args.begin(), args.end());
  return RunArgv(full, false, timeout, io_dir);
}

RunResult RunProgram(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  return RunArgv(argv, true, timeout, "");
}

std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of("\n");
  if (end == std::string::npos) return "";
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace mliot::testing
