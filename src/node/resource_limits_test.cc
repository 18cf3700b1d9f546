// Real cgroups, real processes: the limits are checked by what the kernel lets
// a child do, measured from /proc rather than through the code under test.
// Needs root and writable cgroups; elsewhere the isolation tests skip and say
// why.
#include "node/resource_limits.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::StartsWith;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct MountEntry {
  std::string dir, type, options;
};

std::vector<MountEntry> CgroupMounts() {
  std::vector<MountEntry> out;
  for (absl::string_view line : absl::StrSplit(ReadAll("/proc/self/mounts"), '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() >= 4 && (f[2] == "cgroup" || f[2] == "cgroup2")) out.push_back({f[1], f[2], f[3]});
  }
  return out;
}

bool HasOption(const MountEntry& m, absl::string_view option) {
  for (absl::string_view o : absl::StrSplit(m.options, ',')) {
    if (o == option) return true;
  }
  return false;
}

// Whether this machine should give a root process cgroup limits, judged
// independently of ResourceLimiter; `why` says why not.
bool MachineOffersWritableCgroups(std::string* why) {
  if (geteuid() != 0) {
    *why = "not running as root";
    return false;
  }
  bool v1_cpu = false, v1_memory = false;
  for (const MountEntry& m : CgroupMounts()) {
    if (HasOption(m, "ro")) continue;
    if (m.type == "cgroup") {
      v1_cpu = v1_cpu || HasOption(m, "cpu");
      v1_memory = v1_memory || HasOption(m, "memory");
    } else {
      const std::string controllers = ReadAll(m.dir + "/cgroup.controllers");
      std::vector<std::string> c = absl::StrSplit(controllers, absl::ByAnyChar(" \n"));
      auto has = [&](const char* x) { return std::find(c.begin(), c.end(), x) != c.end(); };
      if (has("cpu") && has("memory")) return true;
    }
  }
  if (v1_cpu && v1_memory) return true;
  *why = "no writable cgroup v1 cpu+memory or cgroup2 with cpu+memory in /proc/self/mounts";
  return false;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Every <mount>/<relative> that exists, over all cgroup hierarchies.
std::vector<std::string> DirsInAnyHierarchy(const std::string& relative) {
  std::vector<std::string> found;
  for (const MountEntry& m : CgroupMounts()) {
    const std::string dir = m.dir + "/" + relative;
    if (IsDir(dir)) found.push_back(dir);
  }
  return found;
}

// CPU time (user + system) of one process, from /proc/<pid>/stat.
double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadAll(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> f = absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  if (f.size() < 13) return -1;
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Child bodies. They run after fork() in a single-threaded test process, and
// use only mmap and plain loops.
[[noreturn]] void SpinForever() {
  volatile uint64_t x = 0;
  for (;;) x = x + 1;
}

// Maps and touches `mb` megabytes; 0 on success, 3 if the mapping failed.
int TouchMegabytes(int64_t mb) {
  const size_t bytes = static_cast<size_t>(mb) << 20;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 3;
  volatile char* c = static_cast<volatile char*>(p);
  for (size_t i = 0; i < bytes; i += 4096) c[i] = 1;
  munmap(p, bytes);
  return 0;
}

class ResourceLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = absl::StrCat("mliot-test-", getpid());
    limiter_ = ResourceLimiter::Detect(prefix_);
  }

  void TearDown() override {
    for (pid_t pid : children_) Kill(pid);
    for (const std::string& name : names_) limiter_->Remove(name).IgnoreError();
    limiter_.reset();
    // Whatever a failed test left behind.
    for (const std::string& name : names_) {
      for (const std::string& dir : DirsInAnyHierarchy(prefix_ + "/" + name)) rmdir(dir.c_str());
    }
    for (const std::string& dir : DirsInAnyHierarchy(prefix_)) rmdir(dir.c_str());
  }

  // Forks a child that waits for Release(), then runs `body` and exits with
  // its result. The child dies with the test process, and after 60 s anyway.
  pid_t Fork(std::function<int()> body) {
    int fds[2];
    if (pipe(fds) != 0) ADD_FAILURE() << "pipe: " << strerror(errno);
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      alarm(60);
      close(fds[1]);
      char c;
      if (read(fds[0], &c, 1) != 1) _exit(4);
      _exit(body());
    }
    close(fds[0]);
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << strerror(errno);
      close(fds[1]);
      return -1;
    }
    children_.push_back(pid);
    go_fds_[pid] = fds[1];
    return pid;
  }

  void Release(pid_t pid) {
    const int fd = go_fds_[pid];
    ASSERT_EQ(write(fd, "g", 1), 1);
    close(fd);
    go_fds_.erase(pid);
  }

  // Waits up to `timeout` for the child; returns its wait status, or -1 if it
  // was still running (then it is killed).
  int Wait(pid_t pid, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        Forget(pid);
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill(pid);
    return -1;
  }

  void Kill(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Forget(pid);
  }

  void Forget(pid_t pid) {
    std::erase(children_, pid);
    auto it = go_fds_.find(pid);
    if (it != go_fds_.end()) {
      close(it->second);
      go_fds_.erase(it);
    }
  }

  // The child's CPU seconds per wall second over a `window`.
  static double CpuShare(pid_t pid, std::chrono::milliseconds window) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = ProcessCpuSeconds(pid);
    std::this_thread::sleep_for(window);
    const double c1 = ProcessCpuSeconds(pid);
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - t0;
    return (c1 - c0) / wall.count();
  }

  std::string Group(const std::string& name) {
    names_.push_back(name);
    return name;
  }

  std::string prefix_;
  std::unique_ptr<ResourceLimiter> limiter_;
  std::vector<pid_t> children_;
  std::map<pid_t, int> go_fds_;
  std::vector<std::string> names_;
};

// The isolation tests need real cgroups; elsewhere they skip with the reason.
class IsolatedTest : public ResourceLimitsTest {
 protected:
  void SetUp() override {
    ResourceLimitsTest::SetUp();
    if (absl::StartsWith(limiter_->isolation(), "none")) GTEST_SKIP() << limiter_->isolation();
  }
};

TEST_F(ResourceLimitsTest, DetectFindsWritableCgroupsWhenTheMachineHasThem) {
  const std::string isolation = limiter_->isolation();
  std::cout << "Detect(): " << isolation << "\n";
  std::string why;
  if (!MachineOffersWritableCgroups(&why)) {
    GTEST_SKIP() << why << "; Detect() said: " << isolation;
  }
  EXPECT_THAT(isolation, AnyOf("cgroup-v1", "cgroup-v2"));
  EXPECT_FALSE(DirsInAnyHierarchy(prefix_).empty()) << "Detect() made no prefix directory";
}

TEST_F(ResourceLimitsTest, InvalidPrefixFallsBackToNoneAndSaysWhy) {
  std::unique_ptr<ResourceLimiter> none = ResourceLimiter::Detect("../escape");
  EXPECT_THAT(none->isolation(), StartsWith("none: "));
  EXPECT_THAT(none->isolation(), HasSubstr("../escape"));
  EXPECT_TRUE(DirsInAnyHierarchy("escape").empty());

  // Without isolation Apply enforces nothing, but the process is still read.
  const pid_t pid = Fork([]() -> int { SpinForever(); });
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(none->Apply("w", pid, Limits{.cpus = 0.25, .memory_mb = 64}).ok());
  Release(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  absl::StatusOr<Usage> usage = none->Read("w");
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_GT(usage->cpu_seconds, 0.1);
  EXPECT_GT(usage->memory_bytes, 0);
  EXPECT_TRUE(none->Remove("w").ok());
  EXPECT_EQ(none->Read("w").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ResourceLimitsTest, RejectsNamesThatAreNotOneDirectory) {
  for (const std::string name : {"", ".", "..", "a/b", "../x", "x/..", "/abs", "new\nline"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(limiter_->Apply(name, getpid(), Limits{}).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(limiter_->Read(name).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(limiter_->Remove(name).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(DirsInAnyHierarchy("x").empty());
}

TEST_F(ResourceLimitsTest, RejectsNonsenseLimitsAndPids) {
  EXPECT_EQ(limiter_->Apply("w", getpid(), Limits{.cpus = -1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter_->Apply("w", getpid(), Limits{.memory_mb = -5}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter_->Apply("w", 0, Limits{}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DirsInAnyHierarchy(prefix_ + "/w").empty());
}

TEST_F(IsolatedTest, CpuLimitHoldsASpinningChildToItsQuota) {
  // One child at a time, so the two do not compete for the two cores.
  const pid_t limited = Fork([]() -> int { SpinForever(); });
  ASSERT_GT(limited, 0);
  absl::Status applied = limiter_->Apply(Group("cpu-quarter"), limited, Limits{.cpus = 0.25});
  ASSERT_TRUE(applied.ok()) << applied;
  Release(limited);
  const double limited_share = CpuShare(limited, std::chrono::milliseconds(1000));
  Kill(limited);

  // The control runs outside any group at nice -10 in a session (and so a
  // scheduler autogroup) of its own, so that other jobs on the machine (a CI
  // build) do not starve it; and it takes the best of three windows.
  const pid_t unlimited = Fork([]() -> int {
    setsid();
    if (FILE* f = fopen("/proc/self/autogroup", "w")) {  // root may lower it
      fputs("-10", f);
      fclose(f);
    }
    setpriority(PRIO_PROCESS, 0, -10);
    SpinForever();
  });
  ASSERT_GT(unlimited, 0);
  Release(unlimited);
  double unlimited_share = 0;
  for (int i = 0; i < 3 && unlimited_share < 0.8; ++i) {
    unlimited_share =
        std::max(unlimited_share, CpuShare(unlimited, std::chrono::milliseconds(1000)));
  }
  Kill(unlimited);

  std::cout << "CPU seconds per wall second: limited to 0.25 -> " << limited_share
            << ", unlimited -> " << unlimited_share << "\n";
  EXPECT_LE(limited_share, 0.4);
  EXPECT_GE(unlimited_share, 0.8);
}

TEST_F(IsolatedTest, MemoryLimitStopsAChildThatAllocatesPastIt) {
  const pid_t greedy = Fork([] { return TouchMegabytes(256); });
  ASSERT_GT(greedy, 0);
  absl::Status applied = limiter_->Apply(Group("mem-64"), greedy, Limits{.memory_mb = 64});
  ASSERT_TRUE(applied.ok()) << applied;
  Release(greedy);
  const int status = Wait(greedy, std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "the child neither finished nor died in 30 s";
  std::cout << "256 MB under a 64 MB limit: "
            << (WIFSIGNALED(status) ? absl::StrCat("killed by signal ", WTERMSIG(status))
                                    : absl::StrCat("exited with ", WEXITSTATUS(status)))
            << "\n";
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child touched 256 MB inside a 64 MB group";

  const pid_t modest = Fork([] { return TouchMegabytes(32); });
  ASSERT_GT(modest, 0);
  applied = limiter_->Apply(Group("mem-256"), modest, Limits{.memory_mb = 256});
  ASSERT_TRUE(applied.ok()) << applied;
  Release(modest);
  const int ok_status = Wait(modest, std::chrono::seconds(30));
  EXPECT_TRUE(WIFEXITED(ok_status) && WEXITSTATUS(ok_status) == 0)
      << "32 MB under a 256 MB limit: wait status " << ok_status;
}

TEST_F(IsolatedTest, ReadsUsageOfALiveGroupAndRemoveCleansUp) {
  const std::string name = Group("reader");
  const pid_t pid = Fork([]() -> int {
    static char resident[4 << 20];  // touched after the move: charged to the group
    volatile char* touch = resident;
    for (size_t i = 0; i < sizeof(resident); i += 4096) touch[i] = 1;
    SpinForever();
  });
  ASSERT_GT(pid, 0);
  absl::Status applied = limiter_->Apply(name, pid, Limits{.cpus = 1, .memory_mb = 128});
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_FALSE(DirsInAnyHierarchy(prefix_ + "/" + name).empty());
  Release(pid);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  absl::StatusOr<Usage> first = limiter_->Read(name);
  ASSERT_TRUE(first.ok()) << first.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  absl::StatusOr<Usage> second = limiter_->Read(name);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(first->cpu_seconds, 0);
  EXPECT_GT(second->cpu_seconds, first->cpu_seconds);
  EXPECT_GT(second->memory_bytes, 0);

  // A group with a live process is not removed, and is left whole.
  EXPECT_EQ(limiter_->Remove(name).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(limiter_->Read(name).ok());

  Kill(pid);
  absl::Status removed = limiter_->Remove(name);
  EXPECT_TRUE(removed.ok()) << removed;
  EXPECT_TRUE(DirsInAnyHierarchy(prefix_ + "/" + name).empty());
  EXPECT_EQ(limiter_->Read(name).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(limiter_->Remove(name).code(), absl::StatusCode::kNotFound);

  // The limiter takes its (now empty) prefix directories with it.
  limiter_.reset();
  EXPECT_TRUE(DirsInAnyHierarchy(prefix_).empty());
  limiter_ = ResourceLimiter::Detect(prefix_);  // for TearDown
}

// The limit files as the kernel reports them, found independently of the
// limiter: "<file>=<value>" for each limit file present in the group.
std::vector<std::string> LimitFiles(const std::string& group) {
  std::vector<std::string> out;
  for (const std::string& dir : DirsInAnyHierarchy(group)) {
    for (const char* file :
         {"cpu.cfs_quota_us", "memory.limit_in_bytes", "cpu.max", "memory.max"}) {
      const std::string value = ReadAll(dir + "/" + file);
      if (!value.empty()) out.push_back(absl::StrCat(file, "=", absl::StripAsciiWhitespace(value)));
    }
  }
  return out;
}

TEST_F(IsolatedTest, ApplyAgainChangesTheLimitsEitherWay) {
  const std::string name = Group("changing");
  const pid_t pid = Fork([] { return 0; });
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(limiter_->Apply(name, pid, Limits{.cpus = 0.5, .memory_mb = 64}).ok());
  std::vector<std::string> files = LimitFiles(prefix_ + "/" + name);
  EXPECT_THAT(files,
              AnyOf(IsSupersetOf({"cpu.cfs_quota_us=50000", "memory.limit_in_bytes=67108864"}),
                    IsSupersetOf({"cpu.max=50000 100000", "memory.max=67108864"})));

  // Raising memory past memory.memsw.limit_in_bytes needs the writes in the
  // other order.
  absl::Status raised = limiter_->Apply(name, pid, Limits{.cpus = 2, .memory_mb = 256});
  EXPECT_TRUE(raised.ok()) << raised;
  files = LimitFiles(prefix_ + "/" + name);
  EXPECT_THAT(files,
              AnyOf(IsSupersetOf({"cpu.cfs_quota_us=200000", "memory.limit_in_bytes=268435456"}),
                    IsSupersetOf({"cpu.max=200000 100000", "memory.max=268435456"})));

  absl::Status lifted = limiter_->Apply(name, pid, Limits{});
  EXPECT_TRUE(lifted.ok()) << lifted;
  files = LimitFiles(prefix_ + "/" + name);
  EXPECT_THAT(files, AnyOf(Contains("cpu.cfs_quota_us=-1"), Contains("cpu.max=max 100000")));
  EXPECT_THAT(files, AnyOf(Contains("memory.max=max"),
                           Contains(StartsWith("memory.limit_in_bytes=92233720368"))));
  Release(pid);
  Wait(pid, std::chrono::seconds(10));
}

TEST_F(IsolatedTest, ApplyToAMissingProcessIsNotFound) {
  const pid_t pid = Fork([] { return 0; });
  ASSERT_GT(pid, 0);
  Kill(pid);  // reaped: the pid is free
  EXPECT_EQ(limiter_->Apply(Group("ghost"), pid, Limits{}).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mliot
