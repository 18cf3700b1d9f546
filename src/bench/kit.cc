#include "bench/kit.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/process.h"
#include "common/status_util.h"

namespace mliot::bench {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Replaces every number in `out` (shaped like reports[0]) by its median over
// `reports`; records the range of each under its dotted path.
void MergeNumbers(const std::vector<const nlohmann::json*>& reports, const std::string& path,
                  nlohmann::json& out, nlohmann::json& range) {
  const nlohmann::json& first = *reports[0];
  if (first.is_boolean()) {
    bool all = true;
    for (const nlohmann::json* r : reports) all = all && r->is_boolean() && r->get<bool>();
    out = all;
    return;
  }
  if (first.is_number()) {
    std::vector<double> values;
    for (const nlohmann::json* r : reports) {
      if (r->is_number()) values.push_back(r->get<double>());
    }
    if (values.empty()) return;
    const double median = Median(values);
    out = first.is_number_integer() && values.size() % 2 == 1
              ? nlohmann::json(static_cast<int64_t>(median))
              : nlohmann::json(median);
    range[path] = {*std::min_element(values.begin(), values.end()),
                   *std::max_element(values.begin(), values.end())};
    return;
  }
  if (first.is_object()) {
    for (auto it = first.begin(); it != first.end(); ++it) {
      std::vector<const nlohmann::json*> children;
      for (const nlohmann::json* r : reports) {
        if (r->is_object() && r->contains(it.key())) children.push_back(&(*r)[it.key()]);
      }
      if (children.size() != reports.size()) continue;
      MergeNumbers(children, path.empty() ? it.key() : absl::StrCat(path, ".", it.key()),
                   out[it.key()], range);
    }
    return;
  }
  if (first.is_array()) {
    for (size_t i = 0; i < first.size(); ++i) {
      std::vector<const nlohmann::json*> children;
      for (const nlohmann::json* r : reports) {
        if (r->is_array() && r->size() > i) children.push_back(&(*r)[i]);
      }
      if (children.size() != reports.size()) continue;
      MergeNumbers(children, absl::StrCat(path, "[", i, "]"), out[i], range);
    }
  }
}

std::string ReadFirstLine(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

std::string RunForLine(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  char buf[256];
  std::string out;
  if (std::fgets(buf, sizeof(buf), pipe.get()) != nullptr) out = buf;
  return std::string(absl::StripTrailingAsciiWhitespace(out));
}

std::string LastNonEmptyLine(const std::string& text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  return lines.empty() ? "" : std::string(absl::StripAsciiWhitespace(lines.back()));
}

}  // namespace

absl::Status RunInterleaved(int repeat, const std::vector<Step>& steps,
                            std::vector<std::vector<nlohmann::json>>* reports) {
  reports->assign(steps.size(), {});
  for (int round = 0; round < std::max(1, repeat); ++round) {
    for (size_t i = 0; i < steps.size(); ++i) {
      MLIOT_ASSIGN_OR_RETURN(nlohmann::json r, steps[i]());
      (*reports)[i].push_back(std::move(r));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> RunRepeated(int repeat, const Step& once) {
  std::vector<std::vector<nlohmann::json>> reports;
  MLIOT_RETURN_IF_ERROR(RunInterleaved(repeat, {once}, &reports));
  nlohmann::json out = Summarize(reports[0]);
  out["machine"] = MachineFacts();
  return out;
}

namespace {

// The figure at a dotted path ("ingest.lost"), or nullptr.
const nlohmann::json* AtPath(const nlohmann::json& report, const std::string& path) {
  const nlohmann::json* at = &report;
  for (absl::string_view key : absl::StrSplit(path, '.')) {
    if (!at->is_object() || !at->contains(std::string(key))) return nullptr;
    at = &(*at)[std::string(key)];
  }
  return at;
}

double Bound(const nlohmann::json& report, const std::string& path, int side) {
  if (report.contains("range") && report["range"].contains(path))
    return report["range"][path][side].get<double>();
  const nlohmann::json* at = AtPath(report, path);
  return at != nullptr && at->is_number() ? at->get<double>() : 0.0;
}

}  // namespace

double Largest(const nlohmann::json& report, const std::string& path) {
  return Bound(report, path, 1);
}

double Smallest(const nlohmann::json& report, const std::string& path) {
  return Bound(report, path, 0);
}

void Progress(const std::string& name, const std::string& line) {
  std::fprintf(stderr, "bench %s: %s\n", name.c_str(), line.c_str());
  std::fflush(stderr);
}

std::string TempDir(const std::string& what) {
  return (std::filesystem::temp_directory_path() /
          absl::StrCat("mliot-bench-", what, "-", getpid()))
      .string();
}

nlohmann::json Summarize(const std::vector<nlohmann::json>& reports) {
  if (reports.empty()) return nlohmann::json::object();
  nlohmann::json out = reports[0];
  if (reports.size() == 1) return out;
  std::vector<const nlohmann::json*> all;
  for (const nlohmann::json& r : reports) all.push_back(&r);
  nlohmann::json range = nlohmann::json::object();
  MergeNumbers(all, "", out, range);
  out["range"] = range;
  out["repeats"] = reports.size();
  return out;
}

std::string DebianPackageForModule(const std::string& module) {
  static const std::map<std::string, std::string> known = {
      {"numpy", "python3-numpy"}, {"sklearn", "python3-sklearn"},
      {"torch", "python3-torch"}, {"xgboost", "python3-xgboost"},
      {"scipy", "python3-scipy"}, {"matplotlib", "python3-matplotlib"}};
  auto it = known.find(module);
  return it == known.end() ? "" : it->second;
}

std::string FindSourceFile(const std::string& relative, const std::string& source_dir) {
  std::vector<std::string> dirs;
  if (!source_dir.empty()) dirs.push_back(source_dir);
  if (const char* env = std::getenv("MLIOT_SOURCE_DIR")) dirs.push_back(env);
  dirs.push_back(".");
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path().string());
  dirs.push_back(MLIOT_SOURCE_ROOT);
  for (const std::string& d : dirs) {
    const std::string candidate = absl::StrCat(d, "/", relative);
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return "";
}

absl::StatusOr<nlohmann::json> RunForJson(const std::vector<std::string>& args,
                                          std::chrono::seconds timeout, const std::string& name,
                                          const std::vector<int>& ok_exits) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  SpawnOptions child;
  child.args = args;
  child.stdin_path = "/dev/null";
  child.stdout_fd = out_pipe[1];
  child.stderr_fd = err_pipe[1];
  absl::StatusOr<pid_t> spawned = Spawn(child);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!spawned.ok()) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return spawned.status();
  }
  const pid_t pid = *spawned;
  std::string out, err;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000))) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? out : err).append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(name, ": no answer within ", timeout.count(), " s (killed)"));
  }
  static const std::regex missing(R"(No module named '([A-Za-z0-9_]+))");
  std::smatch m;
  if (std::regex_search(err, m, missing)) {
    const std::string package = DebianPackageForModule(m[1]);
    return absl::FailedPreconditionError(absl::StrCat(
        name, ": Python module '", std::string(m[1]), "' is missing",
        package.empty()
            ? ""
            : absl::StrCat(" (Debian package ", package, "; scripts/install-deps --peers)")));
  }
  if (!WIFEXITED(status) ||
      std::find(ok_exits.begin(), ok_exits.end(), WEXITSTATUS(status)) == ok_exits.end()) {
    return absl::InternalError(absl::StrCat(
        name, " failed (", WIFEXITED(status) ? "exit " : "signal ",
        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), "): ", LastNonEmptyLine(err)));
  }
  const std::string last = LastNonEmptyLine(out);
  nlohmann::json j = nlohmann::json::parse(last, nullptr, false);
  if (j.is_discarded() || !(j.is_object() || j.is_array())) {
    return absl::InternalError(absl::StrCat(name, " printed no JSON on its last line (got '",
                                            last.substr(0, 120), "')"));
  }
  return j;
}

absl::StatusOr<nlohmann::json> RunPeer(const PeerRun& run) {
  const std::string script = FindSourceFile(absl::StrCat("bench/peers/", run.script), run.source_dir);
  if (script.empty())
    return absl::NotFoundError(absl::StrCat("peer bench/peers/", run.script, " not found"));
  if (!std::filesystem::exists(run.python)) {
    return absl::NotFoundError(
        absl::StrCat(run.python, " not found: install python3 (scripts/install-deps --peers)"));
  }
  std::vector<std::string> args = {run.python, script};
  args.insert(args.end(), run.args.begin(), run.args.end());
  return RunForJson(args, run.timeout, absl::StrCat("peer ", run.script));
}

nlohmann::json MachineFacts() {
  std::string cpu = ReadFirstLine("/proc/cpuinfo", "model name");
  if (const size_t colon = cpu.find(':'); colon != std::string::npos)
    cpu = std::string(absl::StripAsciiWhitespace(cpu.substr(colon + 1)));
  std::string mem = ReadFirstLine("/proc/meminfo", "MemTotal:");
  double kib = 0;
  if (!mem.empty()) kib = std::atof(mem.substr(9).c_str());
  utsname u{};
  uname(&u);
  std::string commit = RunForLine(
      absl::StrCat("git -C '", MLIOT_SOURCE_ROOT, "' rev-parse --short HEAD 2>/dev/null"));
  if (!commit.empty() &&
      !RunForLine(absl::StrCat("git -C '", MLIOT_SOURCE_ROOT,
                               "' status --porcelain --untracked-files=no 2>/dev/null"))
           .empty()) {
    commit += "+dirty";
  }
  return {{"cpu_model", cpu},
          {"cores", std::thread::hardware_concurrency()},
          {"memory_gib", std::round(kib / 1048576.0 * 10) / 10},
          {"kernel", absl::StrCat(u.sysname, " ", u.release)},
          {"build_type", MLIOT_BUILD_TYPE},
          {"commit", commit.empty() ? "unknown" : commit}};
}

}  // namespace mliot::bench
