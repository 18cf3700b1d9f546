#include "stream/mosquitto_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"

extern char** environ;

namespace mliot::stream {
namespace {

std::string MosquittoPath() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Start(const std::string& dir, int port,
                                                                         bool allow_anonymous) {
  MosquittoOptions options;
  options.port = port;
  options.allow_anonymous = allow_anonymous;
  return Start(dir, options);
}

absl::StatusOr<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Start(const std::string& dir,
                                                                         const MosquittoOptions& options) {
  auto b = std::unique_ptr<MosquittoBroker>(new MosquittoBroker());
  b->dir_ = dir;
  b->port_ = options.port > 0 ? options.port : FreeLoopbackPort();
  std::filesystem::create_directories(dir);
  std::ofstream conf(dir + "/mosquitto.conf");
  conf << "listener " << b->port_ << " 127.0.0.1\n"
       << "allow_anonymous " << (options.allow_anonymous ? "true" : "false") << "\n"
       << "max_queued_messages 0\n"
       << "max_inflight_messages 0\n"
       << "log_dest stderr\n";
  if (options.persistence && geteuid() == 0) {
    // Started as root, mosquitto switches to the user `mosquitto`, which
    // cannot write the database into a private directory of root's.
    conf << "user root\n";
  }
  if (options.persistence) {
    // The trailing slash: mosquitto before 2.0 appends the file name as is.
    conf << "persistence true\n"
         << "persistence_location " << std::filesystem::absolute(dir).string() << "/\n"
         << "persistence_file mosquitto.db\n"
         << "autosave_interval " << options.autosave_interval << "\n"
         << "autosave_on_changes " << (options.autosave_on_changes ? "true" : "false") << "\n";
  } else {
    conf << "persistence false\n";
  }
  conf.close();
  if (!conf) return absl::InternalError(absl::StrCat("cannot write ", dir, "/mosquitto.conf"));
  if (absl::Status s = b->Spawn(); !s.ok()) return s;
  return b;
}

absl::Status MosquittoBroker::Spawn() {
  const std::string exe = MosquittoPath();
  if (exe.empty()) return absl::NotFoundError("mosquitto not found (Debian package mosquitto; scripts/install-deps)");
  const std::string conf = dir_ + "/mosquitto.conf";
  const std::string log = dir_ + "/mosquitto.log";
  std::vector<std::string> args = {exe, "-c", conf};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::UnavailableError(absl::StrCat("cannot start ", exe));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (LoopbackAccepts(port_)) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat("mosquitto exited at start; see ", log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("mosquitto not accepting on port ", port_, " after 10 s; see ", log));
}

MosquittoBroker::~MosquittoBroker() { Kill(); }

std::string MosquittoBroker::Uri(const std::string& topic) const {
  return absl::StrCat("mqtt://127.0.0.1:", port_, "/", topic);
}

void MosquittoBroker::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string MosquittoBroker::Log() const {
  std::ifstream in(dir_ + "/mosquitto.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status MosquittoBroker::Stop(double timeout_s) {
  if (pid_ <= 0) return absl::OkStatus();
  const size_t log_before = Log().size();
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      // Mosquitto exits normally even when it could not write its database.
      const std::string log = Log();
      const size_t at = log.find("Error saving in-memory database", std::min(log_before, log.size()));
      if (at != std::string::npos) {
        return absl::DataLossError(absl::StrCat("mosquitto on port ", port_, " stopped without saving its database: ",
                                                log.substr(at, log.find('\n', at) - at), " (see ", dir_,
                                                "/mosquitto.log)"));
      }
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("mosquitto on port ", port_, " did not exit within ", timeout_s,
                                                  " s of SIGTERM; killed"));
}

absl::Status MosquittoBroker::Restart() {
  Kill();
  return Spawn();
}

}  // namespace mliot::stream
