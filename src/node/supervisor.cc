#include "node/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

extern char** environ;

namespace mliot {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string GroupName(const std::string& id) { return absl::StrReplaceAll(id, {{"/", "-"}}); }

}  // namespace

bool ProcessUsage(pid_t pid, uint64_t* cpu_ticks, double* rss_mb) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  // Fields after the command name (which may contain spaces) start at ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  int64_t rss_pages = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
    if (i == 24) {
      rss_pages = std::stoll(field);
      break;
    }
  }
  *cpu_ticks = utime + stime;
  *rss_mb = static_cast<double>(rss_pages) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
  return true;
}

Supervisor::~Supervisor() { StopAll(); }

absl::Status Supervisor::Spawn(Worker& w) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!w.spec.log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, w.spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  std::vector<char*> argv;
  for (std::string& a : w.spec.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("spawning ", w.spec.argv[0], ": ", std::strerror(rc)));
  }
  w.state.pid = pid;
  w.started_at = Now();
  w.last_cpu_ticks = 0;
  w.last_sample_at = w.started_at;
  w.restart_at = 0;
  if (limiter_ != nullptr) {
    absl::Status s = limiter_->Apply(GroupName(w.spec.id), pid, w.spec.limits);
    if (!s.ok()) std::fprintf(stderr, "worker %s: limits not applied: %s\n", w.spec.id.c_str(), std::string(s.message()).c_str());
  }
  return absl::OkStatus();
}

absl::Status Supervisor::Start(const WorkerSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (workers_.count(spec.id)) return absl::AlreadyExistsError(absl::StrCat("worker ", spec.id, " exists"));
  Worker& w = workers_[spec.id];
  w.spec = spec;
  w.state.id = spec.id;
  absl::Status s = Spawn(w);
  if (!s.ok()) workers_.erase(spec.id);
  return s;
}

void Supervisor::Stop(const std::string& id) {
  pid_t pid = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(id);
    if (it == workers_.end()) return;
    pid = it->second.state.pid;
    workers_.erase(it);
  }
  if (pid > 0) {
    kill(pid, SIGTERM);
    for (int i = 0; i < 50; ++i) {  // up to 5 s of grace
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  if (limiter_ != nullptr) (void)limiter_->Remove(GroupName(id));
}

void Supervisor::StopAll() {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, w] : workers_) ids.push_back(id);
  }
  for (const std::string& id : ids) Stop(id);
}

bool Supervisor::Has(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  return workers_.count(id) > 0;
}

void Supervisor::Poll() {
  absl::MutexLock lock(&mu_);
  const double now = Now();
  const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (auto& [id, w] : workers_) {
    if (w.state.pid > 0) {
      int status = 0;
      if (waitpid(w.state.pid, &status, WNOHANG) == w.state.pid) {
        w.state.pid = 0;
        w.state.cpu_percent = 0;
        w.state.rss_mb = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
          w.state.finished = true;
          continue;
        }
        if (now - w.started_at > 60) w.backoff_s = 1;  // it had been healthy
        w.restart_at = now + w.backoff_s;
        std::fprintf(stderr, "worker %s exited (%s %d); restarting in %.0fs\n", id.c_str(),
                     WIFSIGNALED(status) ? "signal" : "status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), w.backoff_s);
        w.backoff_s = std::min(30.0, w.backoff_s * 2);
        continue;
      }
      uint64_t ticks = 0;
      double rss = 0;
      if (ProcessUsage(w.state.pid, &ticks, &rss)) {
        const double dt = now - w.last_sample_at;
        if (dt > 0 && w.last_cpu_ticks > 0) {
          w.state.cpu_percent = 100.0 * static_cast<double>(ticks - w.last_cpu_ticks) / ticks_per_s / dt;
        }
        w.last_cpu_ticks = ticks;
        w.last_sample_at = now;
        w.state.rss_mb = rss;
      }
    } else if (!w.state.finished && w.restart_at > 0 && now >= w.restart_at) {
      ++w.state.restarts;
      if (!Spawn(w).ok()) w.restart_at = now + w.backoff_s;
    }
  }
}

std::vector<WorkerState> Supervisor::States() const {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerState> out;
  for (const auto& [id, w] : workers_) out.push_back(w.state);
  return out;
}

}  // namespace mliot
