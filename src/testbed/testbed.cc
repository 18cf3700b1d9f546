#include "testbed/testbed.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/status_util.h"
#include "node/resource_limits.h"

namespace mliot {
namespace {

class Fields {
 public:
  explicit Fields(std::string source) : source_(std::move(source)) {}

  absl::Status Error(const std::string& path, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", path, ": ", message));
  }

  absl::Status CheckKeys(const YAML::Node& map, const std::string& path,
                         const std::vector<std::string>& known) const {
    if (!map.IsMap()) return Error(path, "must be a mapping");
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        return Error(absl::StrCat(path, ".", key),
                     absl::StrCat("unknown key; known: ", absl::StrJoin(known, ", ")));
      }
    }
    return absl::OkStatus();
  }

  // A number, > 0 (or >= 0 with allow_zero).
  absl::StatusOr<double> Number(const YAML::Node& node, const std::string& path,
                                bool allow_zero) const {
    double v = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, v) || !std::isfinite(v)) {
      return Error(path,
                   absl::StrCat("expected a number, got '",
                                node.IsScalar() ? node.as<std::string>() : "a structure", "'"));
    }
    if (allow_zero ? v < 0 : !(v > 0))
      return Error(path, absl::StrCat("must be ", allow_zero ? ">= 0" : "> 0", ", got ", v));
    return v;
  }

  absl::StatusOr<int64_t> Whole(const YAML::Node& node, const std::string& path) const {
    MLIOT_ASSIGN_OR_RETURN(double v, Number(node, path, false));
    if (v != std::floor(v) || v > 1e9)
      return Error(path, absl::StrCat("expected a whole number, got ", v));
    return static_cast<int64_t>(v);
  }

 private:
  std::string source_;
};

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

absl::StatusOr<TestbedDevice> ParseDevice(const Fields& f, const YAML::Node& node,
                                          const std::string& path) {
  MLIOT_RETURN_IF_ERROR(f.CheckKeys(
      node, path, {"name", "cores", "memory_mb", "rtt_ms", "declared_cores", "labels", "gpu"}));
  TestbedDevice d;
  for (const char* required : {"name", "cores", "memory_mb"}) {
    if (!node[required]) return f.Error(absl::StrCat(path, ".", required), "missing");
  }
  if (!node["name"].IsScalar() || !ValidName(node["name"].as<std::string>())) {
    return f.Error(path + ".name", "letters, digits, '-' and '_' only (1-64 characters)");
  }
  d.name = node["name"].as<std::string>();
  MLIOT_ASSIGN_OR_RETURN(d.cores, f.Number(node["cores"], path + ".cores", false));
  MLIOT_ASSIGN_OR_RETURN(d.memory_mb, f.Whole(node["memory_mb"], path + ".memory_mb"));
  if (node["rtt_ms"]) {
    MLIOT_ASSIGN_OR_RETURN(d.rtt_ms, f.Number(node["rtt_ms"], path + ".rtt_ms", true));
  }
  d.declared_cores = static_cast<int>(std::ceil(d.cores));
  if (node["declared_cores"]) {
    MLIOT_ASSIGN_OR_RETURN(int64_t c, f.Whole(node["declared_cores"], path + ".declared_cores"));
    d.declared_cores = static_cast<int>(c);
  }
  if (const YAML::Node labels = node["labels"]; labels) {
    if (!labels.IsMap()) return f.Error(path + ".labels", "must be a mapping of names to values");
    for (const auto& kv : labels) {
      const std::string key = kv.first.as<std::string>();
      if (!kv.second.IsScalar())
        return f.Error(absl::StrCat(path, ".labels.", key), "must be a plain value");
      const std::string value = kv.second.as<std::string>();
      if (key.find_first_of(",=") != std::string::npos ||
          value.find_first_of(",=") != std::string::npos) {
        return f.Error(absl::StrCat(path, ".labels.", key),
                       "names and values cannot hold ',' or '='");
      }
      d.labels[key] = value;
    }
  }
  if (node["gpu"]) {
    bool gpu = false;
    if (!node["gpu"].IsScalar() || !YAML::convert<bool>::decode(node["gpu"], gpu)) {
      return f.Error(path + ".gpu", "expected true or false");
    }
    d.gpu = gpu;
  }
  return d;
}

struct Running {
  const TestbedDevice* device = nullptr;
  pid_t pid = 0;
  bool exited = false;
};

void StopAll(std::vector<Running>& nodes) {
  for (Running& n : nodes) {
    if (!n.exited) kill(n.pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (Running& n : nodes) {
    while (!n.exited) {
      int status = 0;
      const pid_t r = waitpid(n.pid, &status, WNOHANG);
      if (r == n.pid || r < 0) {
        n.exited = true;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) kill(n.pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace

absl::StatusOr<Testbed> ParseTestbed(const std::string& yaml, const std::string& source) {
  const Fields f(source);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  try {
    if (root.IsNull())
      return f.Error("devices", "expected a list of at least one device (the file is empty)");
    MLIOT_RETURN_IF_ERROR(f.CheckKeys(root, "(top level)", {"devices"}));
    const YAML::Node devices = root["devices"];
    if (!devices || !devices.IsSequence() || devices.size() == 0) {
      return f.Error("devices", "expected a list of at least one device");
    }
    Testbed t;
    std::set<std::string> names;
    for (size_t i = 0; i < devices.size(); ++i) {
      const std::string path = absl::StrCat("devices[", i, "]");
      MLIOT_ASSIGN_OR_RETURN(TestbedDevice d, ParseDevice(f, devices[i], path));
      if (!names.insert(d.name).second)
        return f.Error(path + ".name", absl::StrCat("'", d.name, "' is used twice"));
      t.devices.push_back(std::move(d));
    }
    return t;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<Testbed> LoadTestbed(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok())
    return absl::NotFoundError(absl::StrCat("--testbed ", path, ": ", text.status().message()));
  return ParseTestbed(*text, path);
}

absl::Status RunTestbed(const Testbed& testbed, const TestbedRunOptions& o,
                        const std::atomic<bool>& stop) {
  const std::string group = absl::StrCat("mliot-testbed-", getpid());
  std::unique_ptr<ResourceLimiter> limiter = ResourceLimiter::Detect(group);
  if (limiter->isolation().rfind("none", 0) == 0) {
    std::fprintf(stderr, "testbed: CPU and memory limits are NOT enforced (%s)\n",
                 limiter->isolation().c_str());
  }
  std::vector<Running> nodes;
  absl::Status status;
  for (const TestbedDevice& d : testbed.devices) {
    const std::string dir = absl::StrCat(o.data_dir, "/", d.name);
    std::filesystem::create_directories(dir);
    std::vector<std::string> labels;
    for (const auto& [k, v] : d.labels) labels.push_back(absl::StrCat(k, "=", v));
    SpawnOptions node;
    node.args = {o.self_exe,        "node",
                 "--coordinator",   o.coordinator,
                 "--listen",        "127.0.0.1:0",
                 "--data-dir",      dir,
                 "--name",          d.name,
                 "--cores",         std::to_string(d.declared_cores),
                 "--memory-mb",     std::to_string(d.memory_mb),
                 "--rtt-ms",        absl::StrCat(d.rtt_ms),
                 "--added-rtt-ms",  absl::StrCat(d.rtt_ms),
                 "--cgroup-prefix", absl::StrCat(group, "/", d.name),
                 "--benchmark",     o.benchmark,
                 "--exit-with-parent"};
    if (!labels.empty())
      node.args.insert(node.args.end(), {"--labels", absl::StrJoin(labels, ",")});
    if (d.gpu) node.args.push_back("--gpu");
    if (!o.join_token_file.empty()) node.args.insert(node.args.end(), {"--join-token-file", o.join_token_file});
    node.stderr_path = dir + "/node.log";
    absl::StatusOr<pid_t> pid = Spawn(node);
    if (!pid.ok()) {
      status = pid.status();
      break;
    }
    nodes.push_back({&d, *pid, false});
    if (absl::Status s = limiter->Apply(d.name, *pid, Limits{d.cores, d.memory_mb}); !s.ok()) {
      status = Annotate(s, absl::StrCat("testbed: limiting ", d.name));
      break;
    }
    std::fprintf(
        stderr, "testbed: %s (pid %d): %g cores, %lld MB, rtt %g ms, declares %d cores; log %s\n",
        d.name.c_str(), static_cast<int>(*pid), d.cores, static_cast<long long>(d.memory_mb),
        d.rtt_ms, d.declared_cores, node.stderr_path.c_str());
  }
  while (status.ok() && !stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (Running& n : nodes) {
      int wstatus = 0;
      if (!n.exited && waitpid(n.pid, &wstatus, WNOHANG) == n.pid) {
        n.exited = true;
        std::fprintf(stderr, "testbed: %s exited (%s %d); see %s/%s/node.log\n",
                     n.device->name.c_str(), WIFEXITED(wstatus) ? "status" : "signal",
                     WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus),
                     o.data_dir.c_str(), n.device->name.c_str());
      }
    }
  }
  StopAll(nodes);
  for (const Running& n : nodes) (void)limiter->Remove(n.device->name);
  return status;
}

}  // namespace mliot
