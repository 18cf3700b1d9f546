#include "testbed/delay_proxy.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mliot {
namespace {

using Clock = std::chrono::steady_clock;

// HOST:PORT split at the last ':' (brackets around an IPv6 host dropped).
bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  *port = address.substr(colon + 1);
  int p = 0;
  return absl::SimpleAtoi(*port, &p) && p >= 0 && p <= 65535;
}

// A socket of the first address HOST:PORT resolves to: connected, or bound
// and listening. -1 with errno's text in *error.
int OpenSocket(const std::string& host, const std::string& port, bool listen_on,
               std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (listen_on) hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    bool ok = false;
    if (listen_on) {
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      ok = bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0;
    } else {
      ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (!ok) {
      *error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

// One direction of a connection: a reader queues what it reads with the
// time it is due; a writer sends it then. An empty chunk is end of stream.
class DelayLine {
 public:
  DelayLine(int from, int to, Clock::duration delay) : from_(from), to_(to), delay_(delay) {
    reader_ = std::thread([this] { Read(); });
    writer_ = std::thread([this] { Write(); });
  }
  ~DelayLine() {
    Abort();
    reader_.join();
    writer_.join();
  }
  // Unblocks both threads; what is queued is dropped.
  void Abort() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted_ = true;
    }
    cv_.notify_all();
    shutdown(from_, SHUT_RD);
  }
  bool done() const { return done_.load(); }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string bytes;  // empty: end of stream
  };

  void Push(std::string bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back({Clock::now() + delay_, std::move(bytes)});
    }
    cv_.notify_all();
  }

  void Read() {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      const ssize_t n = recv(from_, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      Push(std::string(buf.data(), static_cast<size_t>(n)));
    }
    Push("");
  }

  void Write() {
    for (;;) {
      Chunk chunk;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return aborted_ || !queue_.empty(); });
        if (aborted_) break;
        const Clock::time_point due = queue_.front().due;
        if (cv_.wait_until(lock, due, [&] { return aborted_; })) break;
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      if (chunk.bytes.empty()) {
        shutdown(to_, SHUT_WR);
        break;
      }
      size_t sent = 0;
      while (sent < chunk.bytes.size()) {
        const ssize_t n =
            send(to_, chunk.bytes.data() + sent, chunk.bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // The other side is gone: stop reading this direction too.
          shutdown(from_, SHUT_RD);
          done_.store(true);
          return;
        }
        sent += static_cast<size_t>(n);
      }
    }
    done_.store(true);
  }

  const int from_, to_;
  const Clock::duration delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  bool aborted_ = false;
  std::atomic<bool> done_{false};
  std::thread reader_, writer_;
};

struct Link {
  int client = -1, server = -1;
  std::unique_ptr<DelayLine> up, down;  // client -> server, server -> client
  bool done() const { return up->done() && down->done(); }
  ~Link() {
    up.reset();
    down.reset();
    close(client);
    close(server);
  }
};

}  // namespace

struct DelayProxy::State {
  std::string target_host, target_port, address;
  int port = 0;
  double rtt_ms = 0;
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // Stop() writes to wake[1]
  std::thread acceptor;
  std::mutex mu;
  std::list<std::unique_ptr<Link>> links;
  std::atomic<int64_t> accepted{0};
  std::atomic<bool> stopped{false};

  void Accept() {
    for (;;) {
      pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (poll(fds, 2, 1000) < 0 && errno != EINTR) break;
      if (fds[1].revents != 0 || stopped.load()) break;
      Reap();
      if ((fds[0].revents & POLLIN) == 0) continue;
      const int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      const int one = 1;
      setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      std::string error;
      const int server = OpenSocket(target_host, target_port, false, &error);
      if (server < 0) {
        close(client);  // the target is down: the client sees the connection close
        continue;
      }
      accepted.fetch_add(1);
      const auto half = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double, std::milli>(rtt_ms / 2));
      auto link = std::make_unique<Link>();
      link->client = client;
      link->server = server;
      link->up = std::make_unique<DelayLine>(client, server, half);
      link->down = std::make_unique<DelayLine>(server, client, half);
      std::lock_guard<std::mutex> lock(mu);
      links.push_back(std::move(link));
    }
  }

  // Frees connections both of whose directions have ended.
  void Reap() {
    std::lock_guard<std::mutex> lock(mu);
    links.remove_if([](const std::unique_ptr<Link>& l) { return l->done(); });
  }
};

DelayProxy::DelayProxy(std::unique_ptr<State> state) : state_(std::move(state)) {}

DelayProxy::~DelayProxy() { Stop(); }

absl::StatusOr<std::unique_ptr<DelayProxy>> DelayProxy::Start(const std::string& target,
                                                              double rtt_ms,
                                                              const std::string& listen_host) {
  auto s = std::make_unique<State>();
  if (!SplitHostPort(target, &s->target_host, &s->target_port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("delay proxy: target '", target, "' is not HOST:PORT"));
  }
  if (!(rtt_ms >= 0))
    return absl::InvalidArgumentError(absl::StrCat("delay proxy: rtt_ms ", rtt_ms, " < 0"));
  s->rtt_ms = rtt_ms;
  std::string error;
  s->listen_fd = OpenSocket(listen_host, "0", true, &error);
  if (s->listen_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("delay proxy: cannot listen on ", listen_host, ": ", error));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(s->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  s->address = absl::StrCat(
      listen_host.find(':') != std::string::npos ? "[" + listen_host + "]" : listen_host, ":",
      s->port);
  if (pipe2(s->wake, O_CLOEXEC) != 0) {
    close(s->listen_fd);
    return absl::UnavailableError("delay proxy: pipe failed");
  }
  State* raw = s.get();
  s->acceptor = std::thread([raw] { raw->Accept(); });
  return std::unique_ptr<DelayProxy>(new DelayProxy(std::move(s)));
}

void DelayProxy::Stop() {
  if (!state_ || state_->stopped.exchange(true)) return;
  const char byte = 0;
  (void)write(state_->wake[1], &byte, 1);
  state_->acceptor.join();
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (auto& link : state_->links) {
      shutdown(link->client, SHUT_RDWR);
      shutdown(link->server, SHUT_RDWR);
    }
    state_->links.clear();
  }
  close(state_->listen_fd);
  close(state_->wake[0]);
  close(state_->wake[1]);
}

std::string DelayProxy::address() const { return state_->address; }
int DelayProxy::port() const { return state_->port; }
double DelayProxy::rtt_ms() const { return state_->rtt_ms; }
int64_t DelayProxy::connections() const { return state_->accepted.load(); }

}  // namespace mliot
