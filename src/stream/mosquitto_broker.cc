#include "stream/mosquitto_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string MosquittoPath() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Start(const std::string& dir, int port,
                                                                         bool allow_anonymous) {
  auto b = std::unique_ptr<MosquittoBroker>(new MosquittoBroker());
  b->dir_ = dir;
  b->port_ = port > 0 ? port : FreeLoopbackPort();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/mosquitto.conf") << "listener " << b->port_ << " 127.0.0.1\n"
                                          << "allow_anonymous " << (allow_anonymous ? "true" : "false") << "\n"
                                          << "max_queued_messages 0\n"
                                          << "max_inflight_messages 0\n"
                                          << "persistence false\n"
                                          << "log_dest stderr\n";
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
    if (Accepts(port_)) return absl::OkStatus();
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

absl::Status MosquittoBroker::Restart() {
  Kill();
  return Spawn();
}

}  // namespace mliot::stream
