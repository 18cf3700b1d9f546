#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <spawn.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace mliot {

std::string SelfExe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "mliot";
}

absl::StatusOr<pid_t> Spawn(SpawnOptions o) {
  if (o.args.empty()) return absl::InvalidArgumentError("spawn: no program");
  const std::string program = o.args.front();
  if (o.nice > 0) o.args.insert(o.args.begin(), {"nice", "-n", std::to_string(o.nice)});
  std::vector<char*> argv;
  for (std::string& s : o.args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (o.stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, o.stdin_fd, 0);
  } else if (!o.stdin_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 0, o.stdin_path.c_str(), O_RDONLY, 0);
  }
  if (o.stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, o.stdout_fd, 1);
  } else if (!o.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, o.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (o.stderr_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, o.stderr_fd, 2);
  } else if (!o.stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, o.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = 0;
  const int rc = o.nice > 0 ? posix_spawnp(&pid, "nice", &actions, nullptr, argv.data(), environ)
                            : posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return absl::InternalError(absl::StrCat("cannot start ", program, ": ", std::strerror(rc)));
  return pid;
}

void StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  kill(pid, signal);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace mliot
