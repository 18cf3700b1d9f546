#include "node/resource_limits.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status_util.h"

namespace mliot {
namespace {

constexpr int64_t kCpuPeriodUs = 100000;
constexpr int64_t kMinCpuQuotaUs = 1000;  // the kernel refuses less than 1 ms

// ---------------------------------------------------------------------------
// Files. Every error names the path and the errno text.

absl::Status ErrnoError(int err, absl::string_view op, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat(op, " ", path));
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, "read", path);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Cgroup files take a value in one write(); the kernel's answer (EINVAL,
// EBUSY, ESRCH, ...) comes back from that call.
absl::Status WriteFile(const std::string& path, absl::string_view value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoError(err, absl::StrCat("write '", value, "' to"), path);
  if (static_cast<size_t>(n) != value.size()) {
    return absl::InternalError(absl::StrCat("short write of '", value, "' to ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadInt(const std::string& path) {
  MLIOT_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) {
    return absl::DataLossError(absl::StrCat(path, " holds '", text, "', not an integer"));
  }
  return value;
}

absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return absl::OkStatus();
  return ErrnoError(errno, "mkdir", path);
}

// Removes an empty group directory. A group that still holds processes is the
// caller's to empty: FailedPrecondition, and nothing is moved.
absl::Status CheckEmpty(const std::string& dir) {
  MLIOT_ASSIGN_OR_RETURN(const std::string procs, ReadFile(dir + "/cgroup.procs"));
  const std::string pids = absl::StrJoin(
      absl::StrSplit(absl::StripAsciiWhitespace(procs), '\n', absl::SkipEmpty()), " ");
  if (!pids.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " still holds processes ", pids, "; stop them before Remove()"));
  }
  return absl::OkStatus();
}

absl::Status RemoveDir(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0) return absl::OkStatus();
  const int err = errno;
  if (err == EBUSY || err == ENOTEMPTY) {
    return absl::FailedPreconditionError(
        absl::StrCat("rmdir ", dir, ": ", strerror(err), " (processes or sub-groups remain)"));
  }
  return ErrnoError(err, "rmdir", dir);
}

// ---------------------------------------------------------------------------
// Names.

absl::Status ValidateComponent(absl::string_view what, absl::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (s == "." || s == "..") {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", s, "' is not a group name"));
  }
  for (char c : s) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", absl::CHexEscape(s), "' may not contain '/' or control characters"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateName(const std::string& name) { return ValidateComponent("group name", name); }

// A prefix may nest ("mliot/node-3"); each part is a plain directory name.
absl::Status ValidatePrefix(const std::string& prefix) {
  if (prefix.empty()) return absl::InvalidArgumentError("prefix is empty");
  for (absl::string_view part : absl::StrSplit(prefix, '/')) {
    absl::Status s = ValidateComponent("prefix part", part);
    if (!s.ok()) return Annotate(s, absl::StrCat("prefix '", prefix, "'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateApply(const std::string& name, pid_t pid, const Limits& limits) {
  MLIOT_RETURN_IF_ERROR(ValidateName(name));
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("pid ", pid, " is not a process"));
  if (!std::isfinite(limits.cpus) || limits.cpus < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.cpus = ", limits.cpus, "; want 0 (unlimited) or a positive number"));
  }
  if (limits.memory_mb < 0) {
    return absl::InvalidArgumentError(absl::StrCat("limits.memory_mb = ", limits.memory_mb,
                                                   "; want 0 (unlimited) or a positive number"));
  }
  return absl::OkStatus();
}

// Quota in microseconds per kCpuPeriodUs, or -1 for no limit.
int64_t CpuQuotaUs(const Limits& limits) {
  if (limits.cpus <= 0) return -1;
  const int64_t quota = std::llround(limits.cpus * static_cast<double>(kCpuPeriodUs));
  return std::max(kMinCpuQuotaUs, quota);
}

// Bytes, or -1 for no limit.
int64_t MemoryBytes(const Limits& limits) {
  return limits.memory_mb > 0 ? limits.memory_mb * 1024 * 1024 : -1;
}

// ---------------------------------------------------------------------------
// Mounts.

struct Mount {
  std::string dir;
  std::string type;
  std::vector<std::string> options;

  bool Has(absl::string_view option) const {
    for (const std::string& o : options) {
      if (o == option) return true;
    }
    return false;
  }
};

// /proc/self/mounts writes space, tab, newline and backslash as \ooo.
std::string UnescapeMountField(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const absl::string_view oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && oct[0] >= '0' && oct[0] <= '3' && oct[1] >= '0' && oct[1] <= '7' &&
          oct[2] >= '0' && oct[2] <= '7') {
        out.push_back(static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// The cgroup and cgroup2 mounts, in mount order; empty if /proc/self/mounts
// cannot be read.
std::vector<Mount> ReadCgroupMounts() {
  std::vector<Mount> mounts;
  absl::StatusOr<std::string> text = ReadFile("/proc/self/mounts");
  if (!text.ok()) return mounts;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 4 || (f[2] != "cgroup" && f[2] != "cgroup2")) continue;
    Mount m;
    m.dir = UnescapeMountField(f[1]);
    m.type = std::string(f[2]);
    for (absl::string_view o : absl::StrSplit(f[3], ',')) m.options.emplace_back(o);
    mounts.push_back(std::move(m));
  }
  return mounts;
}

// Creates <root>/<prefix> one part at a time; `visit` (if set) runs on every
// directory from <root> down to <root>/<prefix>, before its child is made.
template <typename Visit>
absl::Status MakePrefix(const std::string& root, const std::string& prefix, Visit visit) {
  std::string dir = root;
  MLIOT_RETURN_IF_ERROR(visit(dir));
  for (absl::string_view part : absl::StrSplit(prefix, '/')) {
    absl::StrAppend(&dir, "/", part);
    MLIOT_RETURN_IF_ERROR(MakeDir(dir));
    MLIOT_RETURN_IF_ERROR(visit(dir));
  }
  return absl::OkStatus();
}

absl::Status MakePrefix(const std::string& root, const std::string& prefix) {
  return MakePrefix(root, prefix, [](const std::string&) { return absl::OkStatus(); });
}

// Best effort: removes <root>/<prefix> and its parents up to <root> while they
// are empty.
void RemovePrefix(const std::string& root, const std::string& prefix) {
  std::vector<std::string> dirs;
  std::string dir = root;
  for (absl::string_view part : absl::StrSplit(prefix, '/')) {
    absl::StrAppend(&dir, "/", part);
    dirs.push_back(dir);
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (::rmdir(it->c_str()) != 0) break;
  }
}

bool HasTokens(absl::string_view text, std::initializer_list<absl::string_view> wanted) {
  std::vector<absl::string_view> tokens =
      absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  for (absl::string_view w : wanted) {
    bool found = false;
    for (absl::string_view t : tokens) found = found || t == w;
    if (!found) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// cgroup v2: one unified hierarchy.

class CgroupV2Limiter final : public ResourceLimiter {
 public:
  // Returns a limiter on the first usable cgroup2 mount, or why none is.
  static absl::StatusOr<std::unique_ptr<ResourceLimiter>> Probe(const std::vector<Mount>& mounts,
                                                                const std::string& prefix) {
    std::vector<std::string> roots;
    std::vector<std::string> reasons;
    for (const Mount& m : mounts) {
      if (m.type != "cgroup2") continue;
      if (m.Has("ro")) {
        reasons.push_back(absl::StrCat(m.dir, " is read-only"));
        continue;
      }
      // The whole of /sys/fs/cgroup being cgroup2 is the modern layout; try it first.
      if (m.dir == "/sys/fs/cgroup") {
        roots.insert(roots.begin(), m.dir);
      } else {
        roots.push_back(m.dir);
      }
    }
    if (mounts.empty()) roots = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    for (const std::string& root : roots) {
      absl::StatusOr<std::string> controllers = ReadFile(root + "/cgroup.controllers");
      if (!controllers.ok()) {
        reasons.emplace_back(controllers.status().message());
        continue;
      }
      if (!HasTokens(*controllers, {"cpu", "memory"})) {
        reasons.push_back(absl::StrCat(root, "/cgroup.controllers offers '",
                                       absl::StripAsciiWhitespace(*controllers),
                                       "', not cpu and memory"));
        continue;
      }
      auto limiter = std::unique_ptr<CgroupV2Limiter>(new CgroupV2Limiter(root, prefix));
      absl::Status s = limiter->EnsurePrefix();
      if (!s.ok()) {
        reasons.emplace_back(s.message());
        continue;
      }
      return std::unique_ptr<ResourceLimiter>(std::move(limiter));
    }
    if (reasons.empty()) reasons.push_back("no cgroup2 mount");
    return absl::UnavailableError(absl::StrCat("cgroup v2: ", absl::StrJoin(reasons, "; ")));
  }

  ~CgroupV2Limiter() override { RemovePrefix(root_, prefix_); }

  std::string isolation() const override { return "cgroup-v2"; }

  absl::Status Apply(const std::string& name, pid_t pid, const Limits& limits) override {
    MLIOT_RETURN_IF_ERROR(ValidateApply(name, pid, limits));
    absl::MutexLock lock(&mu_);
    if (!Exists(PrefixDir())) MLIOT_RETURN_IF_ERROR(EnsurePrefix());
    const std::string dir = GroupDir(name);
    MLIOT_RETURN_IF_ERROR(MakeDir(dir));
    const int64_t quota = CpuQuotaUs(limits);
    MLIOT_RETURN_IF_ERROR(
        WriteFile(dir + "/cpu.max",
                  absl::StrCat(quota < 0 ? "max" : absl::StrCat(quota), " ", kCpuPeriodUs)));
    const int64_t bytes = MemoryBytes(limits);
    MLIOT_RETURN_IF_ERROR(WriteFile(dir + "/memory.max", bytes < 0 ? "max" : absl::StrCat(bytes)));
    // Without swap.max a limited group could page out instead of being held to
    // its limit. Absent when the kernel has no swap accounting: best effort.
    const std::string swap = dir + "/memory.swap.max";
    if (Exists(swap)) WriteFile(swap, bytes < 0 ? "max" : "0").IgnoreError();
    return WriteFile(dir + "/cgroup.procs", absl::StrCat(pid));
  }

  absl::StatusOr<Usage> Read(const std::string& name) const override {
    MLIOT_RETURN_IF_ERROR(ValidateName(name));
    const std::string dir = GroupDir(name);
    if (!Exists(dir)) return absl::NotFoundError(absl::StrCat("no group ", dir));
    MLIOT_ASSIGN_OR_RETURN(const std::string stat, ReadFile(dir + "/cpu.stat"));
    Usage usage;
    bool found = false;
    for (absl::string_view line : absl::StrSplit(stat, '\n', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ' ');
      int64_t usec = 0;
      if (kv.first == "usage_usec" && absl::SimpleAtoi(kv.second, &usec)) {
        usage.cpu_seconds = static_cast<double>(usec) / 1e6;
        found = true;
      }
    }
    if (!found) return absl::DataLossError(absl::StrCat(dir, "/cpu.stat has no usage_usec"));
    MLIOT_ASSIGN_OR_RETURN(usage.memory_bytes, ReadInt(dir + "/memory.current"));
    return usage;
  }

  absl::Status Remove(const std::string& name) override {
    MLIOT_RETURN_IF_ERROR(ValidateName(name));
    absl::MutexLock lock(&mu_);
    const std::string dir = GroupDir(name);
    if (!Exists(dir)) return absl::NotFoundError(absl::StrCat("no group ", dir));
    MLIOT_RETURN_IF_ERROR(CheckEmpty(dir));
    return RemoveDir(dir);
  }

 private:
  CgroupV2Limiter(std::string root, std::string prefix)
      : root_(std::move(root)), prefix_(std::move(prefix)) {}

  std::string PrefixDir() const { return absl::StrCat(root_, "/", prefix_); }
  std::string GroupDir(const std::string& name) const {
    return absl::StrCat(root_, "/", prefix_, "/", name);
  }

  // Creates the prefix and enables cpu and memory for the children of every
  // directory from the root down, so groups under the prefix get both.
  absl::Status EnsurePrefix() {
    return MakePrefix(root_, prefix_, [](const std::string& dir) {
      const std::string control = dir + "/cgroup.subtree_control";
      MLIOT_ASSIGN_OR_RETURN(const std::string enabled, ReadFile(control));
      if (HasTokens(enabled, {"cpu", "memory"})) return absl::OkStatus();
      return WriteFile(control, "+cpu +memory");
    });
  }

  const std::string root_;
  const std::string prefix_;
  absl::Mutex mu_;  // serialises changes to the group directories
};

// ---------------------------------------------------------------------------
// cgroup v1: a hierarchy per controller (cpu and cpuacct often share one).

class CgroupV1Limiter final : public ResourceLimiter {
 public:
  static absl::StatusOr<std::unique_ptr<ResourceLimiter>> Probe(const std::vector<Mount>& mounts,
                                                                const std::string& prefix) {
    std::string cpu, cpuacct, memory;
    std::vector<std::string> read_only;
    for (const Mount& m : mounts) {
      if (m.type != "cgroup") continue;
      const bool wanted = (cpu.empty() && m.Has("cpu")) || (cpuacct.empty() && m.Has("cpuacct")) ||
                          (memory.empty() && m.Has("memory"));
      if (!wanted) continue;
      if (m.Has("ro")) {
        read_only.push_back(m.dir);
        continue;
      }
      if (cpu.empty() && m.Has("cpu")) cpu = m.dir;
      if (cpuacct.empty() && m.Has("cpuacct")) cpuacct = m.dir;
      if (memory.empty() && m.Has("memory")) memory = m.dir;
    }
    if (mounts.empty()) {  // no /proc: the usual places
      for (const char* dir : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
        if (cpu.empty() && Exists(absl::StrCat(dir, "/cpu.cfs_quota_us"))) cpu = dir;
      }
      for (const char* dir :
           {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu"}) {
        if (cpuacct.empty() && Exists(absl::StrCat(dir, "/cpuacct.usage"))) cpuacct = dir;
      }
      if (Exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) memory = "/sys/fs/cgroup/memory";
    }
    std::vector<std::string> missing;
    if (cpu.empty()) missing.push_back("cpu");
    if (cpuacct.empty()) missing.push_back("cpuacct");
    if (memory.empty()) missing.push_back("memory");
    if (!missing.empty()) {
      std::string why =
          absl::StrCat("cgroup v1: no writable ", absl::StrJoin(missing, ", "), " hierarchy");
      if (!read_only.empty())
        absl::StrAppend(&why, " (read-only: ", absl::StrJoin(read_only, ", "), ")");
      return absl::UnavailableError(why);
    }
    auto limiter = std::unique_ptr<CgroupV1Limiter>(
        new CgroupV1Limiter(std::move(cpu), std::move(cpuacct), std::move(memory), prefix));
    for (const std::string& root : limiter->Roots()) {
      absl::Status s = MakePrefix(root, prefix);
      if (!s.ok()) {
        limiter.reset();  // removes what was made
        return absl::UnavailableError(absl::StrCat("cgroup v1: ", s.message()));
      }
    }
    return std::unique_ptr<ResourceLimiter>(std::move(limiter));
  }

  ~CgroupV1Limiter() override {
    for (const std::string& root : Roots()) RemovePrefix(root, prefix_);
  }

  std::string isolation() const override { return "cgroup-v1"; }

  absl::Status Apply(const std::string& name, pid_t pid, const Limits& limits) override {
    MLIOT_RETURN_IF_ERROR(ValidateApply(name, pid, limits));
    absl::MutexLock lock(&mu_);
    for (const std::string& root : Roots()) {
      MLIOT_RETURN_IF_ERROR(MakePrefix(root, prefix_));
      MLIOT_RETURN_IF_ERROR(MakeDir(GroupDir(root, name)));
    }
    const std::string cpu = GroupDir(cpu_root_, name);
    MLIOT_RETURN_IF_ERROR(WriteFile(cpu + "/cpu.cfs_period_us", absl::StrCat(kCpuPeriodUs)));
    MLIOT_RETURN_IF_ERROR(WriteFile(cpu + "/cpu.cfs_quota_us", absl::StrCat(CpuQuotaUs(limits))));
    MLIOT_RETURN_IF_ERROR(SetMemoryLimit(GroupDir(memory_root_, name), MemoryBytes(limits)));
    for (const std::string& root : Roots()) {
      MLIOT_RETURN_IF_ERROR(WriteFile(GroupDir(root, name) + "/cgroup.procs", absl::StrCat(pid)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Usage> Read(const std::string& name) const override {
    MLIOT_RETURN_IF_ERROR(ValidateName(name));
    const std::string acct = GroupDir(cpuacct_root_, name);
    const std::string mem = GroupDir(memory_root_, name);
    if (!Exists(acct) || !Exists(mem)) {
      return absl::NotFoundError(absl::StrCat("no group ", acct, " and ", mem));
    }
    MLIOT_ASSIGN_OR_RETURN(const int64_t ns, ReadInt(acct + "/cpuacct.usage"));
    Usage usage;
    usage.cpu_seconds = static_cast<double>(ns) / 1e9;
    MLIOT_ASSIGN_OR_RETURN(usage.memory_bytes, ReadInt(mem + "/memory.usage_in_bytes"));
    return usage;
  }

  absl::Status Remove(const std::string& name) override {
    MLIOT_RETURN_IF_ERROR(ValidateName(name));
    absl::MutexLock lock(&mu_);
    std::vector<std::string> dirs;
    for (const std::string& root : Roots()) {
      const std::string dir = GroupDir(root, name);
      if (Exists(dir)) dirs.push_back(dir);
    }
    if (dirs.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no group '", name, "' under prefix '", prefix_, "'"));
    }
    // Check all before removing any, so a busy group is left whole.
    for (const std::string& dir : dirs) MLIOT_RETURN_IF_ERROR(CheckEmpty(dir));
    for (const std::string& dir : dirs) MLIOT_RETURN_IF_ERROR(RemoveDir(dir));
    return absl::OkStatus();
  }

 private:
  CgroupV1Limiter(std::string cpu, std::string cpuacct, std::string memory, std::string prefix)
      : cpu_root_(std::move(cpu)),
        cpuacct_root_(std::move(cpuacct)),
        memory_root_(std::move(memory)),
        prefix_(std::move(prefix)) {}

  // The distinct hierarchies a group lives in.
  std::vector<std::string> Roots() const {
    std::vector<std::string> roots = {cpu_root_};
    if (cpuacct_root_ != cpu_root_) roots.push_back(cpuacct_root_);
    if (memory_root_ != cpu_root_ && memory_root_ != cpuacct_root_) roots.push_back(memory_root_);
    return roots;
  }

  std::string GroupDir(const std::string& root, const std::string& name) const {
    return absl::StrCat(root, "/", prefix_, "/", name);
  }

  // memory.memsw.limit_in_bytes (memory + swap) must stay >= the memory
  // limit, so the order of the two writes depends on the direction of the
  // change. memsw is absent without swap accounting: best effort.
  static absl::Status SetMemoryLimit(const std::string& dir, int64_t bytes) {
    const std::string limit = dir + "/memory.limit_in_bytes";
    const std::string memsw = dir + "/memory.memsw.limit_in_bytes";
    const bool has_memsw = Exists(memsw);
    const std::string value = absl::StrCat(bytes);
    if (bytes < 0) {
      if (has_memsw) WriteFile(memsw, value).IgnoreError();
      return WriteFile(limit, value);
    }
    absl::Status s = WriteFile(limit, value);
    if (!s.ok() && has_memsw) {  // raising above the current memsw limit
      WriteFile(memsw, value).IgnoreError();
      s = WriteFile(limit, value);
    }
    MLIOT_RETURN_IF_ERROR(s);
    if (has_memsw) WriteFile(memsw, value).IgnoreError();
    return absl::OkStatus();
  }

  const std::string cpu_root_;
  const std::string cpuacct_root_;
  const std::string memory_root_;
  const std::string prefix_;
  absl::Mutex mu_;  // serialises changes to the group directories
};

// ---------------------------------------------------------------------------
// No cgroups: limits are not enforced; usage is the registered process's own,
// from /proc.

class NoIsolation final : public ResourceLimiter {
 public:
  explicit NoIsolation(std::string reason) : reason_(std::move(reason)) {}

  std::string isolation() const override { return reason_; }

  absl::Status Apply(const std::string& name, pid_t pid, const Limits& limits) override {
    MLIOT_RETURN_IF_ERROR(ValidateApply(name, pid, limits));
    absl::MutexLock lock(&mu_);
    pids_[name] = pid;
    return absl::OkStatus();
  }

  absl::StatusOr<Usage> Read(const std::string& name) const override {
    MLIOT_RETURN_IF_ERROR(ValidateName(name));
    pid_t pid;
    {
      absl::MutexLock lock(&mu_);
      auto it = pids_.find(name);
      if (it == pids_.end()) return absl::NotFoundError(absl::StrCat("no group '", name, "'"));
      pid = it->second;
    }
    const std::string proc = absl::StrCat("/proc/", pid);
    MLIOT_ASSIGN_OR_RETURN(const std::string stat, ReadFile(proc + "/stat"));
    // Fields after the parenthesised command name start at field 3 (state);
    // utime and stime are fields 14 and 15.
    const size_t paren = stat.rfind(')');
    std::vector<absl::string_view> f;
    if (paren != std::string::npos) {
      f = absl::StrSplit(absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
    }
    int64_t utime = 0, stime = 0;
    if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) || !absl::SimpleAtoi(f[12], &stime)) {
      return absl::DataLossError(absl::StrCat("cannot parse ", proc, "/stat"));
    }
    MLIOT_ASSIGN_OR_RETURN(const std::string statm, ReadFile(proc + "/statm"));
    std::vector<absl::string_view> m = absl::StrSplit(statm, ' ', absl::SkipEmpty());
    int64_t resident_pages = 0;
    if (m.size() < 2 || !absl::SimpleAtoi(m[1], &resident_pages)) {
      return absl::DataLossError(absl::StrCat("cannot parse ", proc, "/statm"));
    }
    Usage usage;
    usage.cpu_seconds =
        static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    usage.memory_bytes = resident_pages * ::sysconf(_SC_PAGESIZE);
    return usage;
  }

  absl::Status Remove(const std::string& name) override {
    MLIOT_RETURN_IF_ERROR(ValidateName(name));
    absl::MutexLock lock(&mu_);
    if (pids_.erase(name) == 0) return absl::NotFoundError(absl::StrCat("no group '", name, "'"));
    return absl::OkStatus();
  }

 private:
  const std::string reason_;
  mutable absl::Mutex mu_;
  std::map<std::string, pid_t> pids_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<ResourceLimiter> ResourceLimiter::Detect(const std::string& prefix) {
  absl::Status valid = ValidatePrefix(prefix);
  if (!valid.ok()) return std::make_unique<NoIsolation>(absl::StrCat("none: ", valid.message()));
  const std::vector<Mount> mounts = ReadCgroupMounts();
  absl::StatusOr<std::unique_ptr<ResourceLimiter>> v2 = CgroupV2Limiter::Probe(mounts, prefix);
  if (v2.ok()) return *std::move(v2);
  absl::StatusOr<std::unique_ptr<ResourceLimiter>> v1 = CgroupV1Limiter::Probe(mounts, prefix);
  if (v1.ok()) return *std::move(v1);
  return std::make_unique<NoIsolation>(
      absl::StrCat("none: ", v2.status().message(), "; ", v1.status().message()));
}

}  // namespace mliot
