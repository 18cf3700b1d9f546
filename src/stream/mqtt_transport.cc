// mqtt://HOST:PORT/TOPIC with Eclipse Paho MQTT C++ (async_client), MQTT 3.1.1.
//
// Connection: tcp://HOST:PORT, or ssl://HOST:PORT with options.tls_ca as the
// trust store (a file path, or the PEM text itself, which is then written to
// a private temporary file). Automatic reconnect with back-off 1 s .. 30 s;
// a broker that is down when the transport opens is retried in the
// background (only a refusal for good - bad credentials, not authorized,
// rejected client id - fails Open/Start). No Paho persistence files: the
// client keeps its state in memory only. The client id is options.client_id,
// or "mliot-<pid>-<counter>" when empty (a generated id never resumes a
// persistent session across processes).
//
// Publisher: QoS options.qos to uri.topic; the `key` of Publish is ignored
// (an MQTT message has no key; the payload is a serialized sample that
// already carries its label). Publish is asynchronous: at most
// options.max_in_flight messages are outstanding (handed to Paho and not yet
// acknowledged - PUBACK for QoS 1, written to the socket for QoS 0); the next
// Publish waits until one completes. While the broker is away, messages are
// buffered in memory by Paho (up to that same limit) and sent after the
// reconnect, so Publish keeps accepting messages until the limit is reached
// and then waits for the connection. A QoS-1 message that was in flight when
// the connection dropped and that Paho abandons (clean session) is published
// again after the reconnect (at-least-once; up to kMaxAttempts times), and so
// are the last kReplayAfterLoss acknowledged ones (a broker that crashed may
// not have saved them). Flush waits until nothing is outstanding; messages
// given up on since the previous Flush make it return DataLoss.
// The publisher always connects with a clean session, whatever
// options.clean_session says: its own re-publishing above does what a
// persistent publisher session would, and Paho C 1.3.12 re-sending the
// in-flight messages of a persistent session after a reconnect can send a
// corrupted payload (seen here after a broker SIGKILL: the first 8 bytes of
// the payload overwritten, as by a freed buffer; cf. eclipse/paho.mqtt.c
// issues 1310 and 1592). A publisher session holds nothing else at QoS <= 1.
//
// Broker restart (docs/DATA_PATH.md): at QoS 1, with a subscriber that has a
// persistent session (clean_session=false, fixed client id) and a broker
// with persistence, every message Publish accepted reaches the handler at
// least once across a graceful broker restart (SIGTERM: the broker saves its
// database), and across a crash (SIGKILL) when the broker saves after every
// change (Mosquitto `autosave_on_changes true`, `autosave_interval 1`).
// Messages a crashed broker acknowledged but had not saved otherwise - with
// a timed autosave or none - are lost; no client can recover them.
//
// Subscriber: Start connects, subscribes to uri.topic (or
// $share/GROUP/TOPIC when options.group is set: a shared subscription, each
// message goes to one member of the group) with QoS options.qos, and calls
// the handler on Paho's callback thread for every message. Start returns
// after the SUBACK when the broker is reachable (so messages published after
// Start returns are received); when the broker is down it returns OK and
// subscribes once connected. The subscription is renewed after every
// (re)connect: needed with clean_session=true, and also with
// clean_session=false when the broker lost its sessions (restart without
// persistence); renewing an existing subscription keeps its queued messages.
// With clean_session=false and a fixed client id, QoS-1 messages published
// while the subscriber was stopped are delivered when it starts again. Stop
// disconnects (the handler may still run until the disconnect completed;
// never after Stop returns) and may be followed by another Start. Stop called
// from inside the handler only begins the disconnect.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include <mqtt/async_client.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "stream/transport.h"

namespace mliot::stream {
namespace {

using Clock = std::chrono::steady_clock;

// Paho's own timeout for one TCP/TLS + CONNECT attempt.
constexpr auto kConnectAttemptTimeout = std::chrono::seconds(5);
// How long Open (publisher) / Start (subscriber) wait for the first connect
// attempt before carrying on in the background. A refused connection fails
// at once; a connect can take ~2 s when another Paho client already runs in
// the process (Paho's I/O thread notices a new socket only after its poll
// timeout), so this covers one whole attempt.
constexpr auto kFirstConnectWait = kConnectAttemptTimeout + std::chrono::seconds(1);
// Start waits at most this long for the SUBACK once connected.
constexpr auto kSubackWait = std::chrono::seconds(5);
constexpr auto kKeepAlive = std::chrono::seconds(30);
constexpr auto kMinRetry = std::chrono::seconds(1);
constexpr auto kMaxRetry = std::chrono::seconds(30);
// A message abandoned by Paho this many times is given up on (DataLoss).
constexpr int kMaxAttempts = 10;
// QoS 1: after a lost connection the publisher also re-publishes this many
// of the messages the broker acknowledged last. A broker that crashed
// (SIGKILL) may have acknowledged them without having saved them: Mosquitto
// sends the PUBACK at once and saves later; with `autosave_on_changes true`
// and `autosave_interval 1` it saves after every pass of its event loop, in
// which it reads one packet per plain-TCP connection (with TLS, what one
// record holds), so only the last one or two acknowledged messages of a
// publisher can be unsaved. The price is up to this many duplicates per
// reconnect (at-least-once) and keeping this many payloads in memory.
constexpr size_t kReplayAfterLoss = 32;
// MQTT packet ids are 16 bits: no more can be in flight.
constexpr int64_t kMaxInFlightLimit = 65535;

std::string GeneratedClientId() {
  static std::atomic<int> counter{0};
  return absl::StrCat("mliot-", static_cast<int>(getpid()), "-", counter.fetch_add(1));
}

std::string Prefix(const BrokerUri& uri) { return absl::StrCat("broker '", uri.ToString(), "'"); }

// CONNACK return codes that retrying cannot fix (MQTT 3.1.1 section 3.2.2.3):
// 1 unacceptable protocol version, 2 identifier rejected, 4 bad user name or
// password, 5 not authorized. (3, server unavailable, is transient.)
bool IsPermanentConnectRefusal(int rc) { return rc == 1 || rc == 2 || rc == 4 || rc == 5; }

std::string ConnectRefusalText(int rc) {
  switch (rc) {
    case 1: return "connection refused: unacceptable protocol version (broker does not speak MQTT 3.1.1)";
    case 2: return "connection refused: client identifier rejected";
    case 4: return "connection refused: bad user name or password";
    case 5: return "connection refused: not authorized";
    default: return absl::StrCat("connection refused (code ", rc, ")");
  }
}

// Errors of async_client::publish that go away once connected / once some
// in-flight messages completed.
bool IsTransientPublishError(int rc) {
  return rc == MQTTASYNC_DISCONNECTED || rc == MQTTASYNC_MAX_MESSAGES_INFLIGHT || rc == MQTTASYNC_NO_MORE_MSGIDS ||
         rc == MQTTASYNC_OPERATION_INCOMPLETE || rc == MQTTASYNC_MAX_BUFFERED_MESSAGES || rc == MQTTASYNC_MAX_BUFFERED;
}

// The trust store for ssl://: options.tls_ca names a PEM file, or is the PEM
// text itself (then written to a mode-0600 temporary file for the lifetime
// of the transport, since Paho reads it at every connect).
class TrustStore {
 public:
  TrustStore() = default;
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;
  ~TrustStore() {
    if (!temp_path_.empty()) unlink(temp_path_.c_str());
  }

  absl::Status Init(const BrokerUri& uri, const std::string& tls_ca) {
    if (tls_ca.empty()) return absl::OkStatus();
    if (absl::StrContains(tls_ca, "-----BEGIN")) {
      const char* tmpdir = std::getenv("TMPDIR");
      std::string templ = absl::StrCat((tmpdir != nullptr && *tmpdir != '\0') ? tmpdir : "/tmp", "/mliot-mqtt-ca-XXXXXX");
      const int fd = mkstemp(templ.data());
      if (fd < 0) {
        return absl::InternalError(absl::StrCat(Prefix(uri), ": cannot write the TLS CA to a temporary file ", templ));
      }
      size_t done = 0;
      while (done < tls_ca.size()) {
        const ssize_t n = write(fd, tls_ca.data() + done, tls_ca.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      close(fd);
      temp_path_ = templ;
      if (done != tls_ca.size()) {
        return absl::InternalError(absl::StrCat(Prefix(uri), ": cannot write the TLS CA to ", templ));
      }
      path_ = temp_path_;
      return absl::OkStatus();
    }
    struct stat st;
    if (stat(tls_ca.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(uri), ": TLS CA file '", tls_ca, "' not found (expected a PEM file or PEM text)"));
    }
    path_ = tls_ca;
    return absl::OkStatus();
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
};

// What both directions share: validated options, the Paho connect options and
// the factory for the client.
struct MqttSetup {
  BrokerUri uri;
  TransportOptions options;
  std::string client_id;
  std::string server_uri;
  TrustStore trust;
  mqtt::connect_options connect_options;
  int max_in_flight = 1000;

  // `publisher`: the session is always clean (see the file comment).
  absl::Status Init(const BrokerUri& u, const TransportOptions& o, bool publisher) {
    uri = u;
    options = o;
    if (publisher) options.clean_session = true;
    if (uri.scheme != "mqtt") {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(uri), ": not an mqtt:// URI"));
    }
    if (uri.host.empty() || uri.port <= 0 || uri.topic.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(uri), ": expected mqtt://HOST:PORT/TOPIC"));
    }
    if (options.qos != 0 && options.qos != 1) {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(uri), ": MQTT qos ", options.qos, ": valid: 0, 1"));
    }
    if (options.max_in_flight <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(uri), ": max_in_flight ", options.max_in_flight, ": must be at least 1"));
    }
    max_in_flight = static_cast<int>(std::min(options.max_in_flight, kMaxInFlightLimit));
    if (absl::StrContains(options.group, "/") || absl::StrContains(options.group, "+") ||
        absl::StrContains(options.group, "#")) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(uri), ": MQTT shared-subscription group '", options.group, "' must not contain / + #"));
    }
    if (!options.password.empty() && options.username.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(Prefix(uri), ": MQTT 3.1.1 needs a user name with a password"));
    }
    client_id = options.client_id.empty() ? GeneratedClientId() : options.client_id;
    absl::Status st = trust.Init(uri, options.tls_ca);
    if (!st.ok()) return st;

    const std::string host = absl::StrContains(uri.host, ":") && uri.host.front() != '['
                                 ? absl::StrCat("[", uri.host, "]")  // IPv6 literal
                                 : uri.host;
    server_uri = absl::StrCat(options.tls_ca.empty() ? "tcp://" : "ssl://", host, ":", uri.port);

    auto builder = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_3_1_1)
                       .clean_session(options.clean_session)
                       .keep_alive_interval(kKeepAlive)
                       .connect_timeout(kConnectAttemptTimeout)
                       .automatic_reconnect(kMinRetry, kMaxRetry)
                       .max_inflight(max_in_flight);
    if (!options.username.empty()) builder.user_name(options.username);
    if (!options.password.empty()) builder.password(options.password);
    if (!options.tls_ca.empty()) {
      builder.ssl(mqtt::ssl_options_builder().trust_store(trust.path()).enable_server_cert_auth(true).verify(true).finalize());
    }
    connect_options = builder.finalize();
    return absl::OkStatus();
  }

  // A client without persistence files; while disconnected (also before the
  // first connection) up to max_in_flight publishes are buffered in memory.
  absl::StatusOr<std::unique_ptr<mqtt::async_client>> MakeClient() const {
    try {
      mqtt::create_options create(MQTTVERSION_3_1_1, max_in_flight + 16);
      create.set_send_while_disconnected(true, /*anyTime=*/true);
      return std::make_unique<mqtt::async_client>(server_uri, client_id, create, /*persistence=*/nullptr);
    } catch (const mqtt::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(uri), ": cannot create an MQTT client for ", server_uri, ": ", e.what()));
    }
  }

  std::string Describe() const { return absl::StrCat(Prefix(uri), " (", server_uri, ", client id '", client_id, "')"); }

  // Starts connecting and waits up to kFirstConnectWait. OK when connected or
  // when the broker is merely unreachable (Paho keeps retrying); an error for
  // a refusal that retrying cannot fix.
  absl::Status FirstConnect(mqtt::async_client& client, const char* what) const {
    mqtt::token_ptr tok;
    try {
      tok = client.connect(connect_options);
    } catch (const mqtt::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(Describe(), ": cannot connect: ", e.what()));
    }
    if (!options.wait_for_connect) return absl::OkStatus();  // publishes buffer until connected
    try {
      if (!tok->wait_for(kFirstConnectWait)) {
        std::fprintf(stderr, "mqtt %s %s: no connection yet; retrying in the background\n", what,
                     Describe().c_str());
      }
    } catch (const mqtt::exception& e) {
      const int rc = e.get_return_code();
      if (IsPermanentConnectRefusal(rc)) {
        return absl::PermissionDeniedError(absl::StrCat(Describe(), ": ", ConnectRefusalText(rc)));
      }
      std::fprintf(stderr, "mqtt %s %s: not reachable yet (%s); retrying in the background\n", what,
                   Describe().c_str(), e.what());
    }
    return absl::OkStatus();
  }
};

// Disconnects (waiting up to `wait` for in-flight messages) and destroys the
// client, after which Paho calls none of its callbacks any more.
void DisconnectAndDestroy(std::unique_ptr<mqtt::async_client>& client, std::chrono::milliseconds wait) {
  if (!client) return;
  try {
    mqtt::token_ptr tok = client->disconnect(static_cast<int>(wait.count()));
    tok->wait_for(wait + std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
    // Not connected (or the broker went away meanwhile): nothing to close.
  }
  client.reset();
}

// ---------------------------------------------------------------------------

class MqttPublisher final : public Publisher {
 public:
  MqttPublisher() : listener_(this) {}

  ~MqttPublisher() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    if (retry_thread_.joinable()) retry_thread_.join();
    // Gives what is still in flight a moment to be acknowledged.
    DisconnectAndDestroy(client_, std::chrono::milliseconds(2000));
    std::lock_guard<std::mutex> l(mu_);
    const int64_t left = in_flight_;
    if (left > 0) {
      std::fprintf(stderr, "mqtt publisher %s: closing with %lld unacknowledged messages (call Flush first)\n",
                   setup_.Describe().c_str(), static_cast<long long>(left));
    }
  }

  absl::Status Init(const BrokerUri& uri, const TransportOptions& options) {
    absl::Status st = setup_.Init(uri, options, /*publisher=*/true);
    if (!st.ok()) return st;
    topic_ = mqtt::string_ref(uri.topic);
    if (uri.topic.find_first_of("+#") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(uri), ": cannot publish to topic '", uri.topic, "': it contains a wildcard (+ or #)"));
    }
    auto client = setup_.MakeClient();
    if (!client.ok()) return client.status();
    client_ = std::move(client).value();
    client_->set_connected_handler([this](const std::string& cause) {
      bool was_lost;
      {
        std::lock_guard<std::mutex> l(mu_);
        connected_ = true;
        was_lost = lost_connection_;
        lost_connection_ = false;
      }
      cv_.notify_all();
      if (was_lost) std::fprintf(stderr, "mqtt publisher %s: reconnected\n", setup_.Describe().c_str());
    });
    client_->set_connection_lost_handler([this](const std::string& cause) {
      size_t replay;
      {
        std::lock_guard<std::mutex> l(mu_);
        connected_ = false;
        lost_connection_ = true;
        // The last acknowledged messages go out again after the reconnect
        // (see kReplayAfterLoss); they count as in flight until acknowledged.
        replay = recently_acked_.size();
        in_flight_ += static_cast<int64_t>(replay);
        retry_.insert(retry_.end(), recently_acked_.begin(), recently_acked_.end());
        recently_acked_.clear();
      }
      std::fprintf(stderr, "mqtt publisher %s: connection lost%s%s; reconnecting (then re-publishing the last %zu "
                   "acknowledged messages)\n", setup_.Describe().c_str(), cause.empty() ? "" : ": ", cause.c_str(),
                   replay);
    });
    retry_thread_ = std::thread([this] { RetryLoop(); });
    return setup_.FirstConnect(*client_, "publisher");
  }

  // `key` is ignored: MQTT messages have no key, and the payload (a
  // serialized sample) already carries the label.
  absl::Status Publish(const std::string& /*key*/, const std::string& payload) override {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return in_flight_ < setup_.max_in_flight || closing_; });
      if (closing_) return absl::FailedPreconditionError(absl::StrCat(setup_.Describe(), ": publisher is closed"));
      ++in_flight_;
    }
    mqtt::message_ptr msg = mqtt::make_message(topic_, mqtt::binary_ref(payload), setup_.options.qos, false);
    auto backoff = std::chrono::milliseconds(1);
    for (;;) {
      try {
        client_->publish(msg, nullptr, listener_);
        return absl::OkStatus();
      } catch (const mqtt::exception& e) {
        const int rc = e.get_return_code();
        std::unique_lock<std::mutex> l(mu_);
        if (!IsTransientPublishError(rc) || closing_) {
          --in_flight_;
          l.unlock();
          cv_.notify_all();
          return absl::UnavailableError(absl::StrCat(setup_.Describe(), ": publish failed: ", e.what()));
        }
        // Paho's buffer is momentarily full: wait for a completion or back off.
        cv_.wait_for(l, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
      }
    }
  }

  absl::Status Flush(double timeout_s) override {
    const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::clamp(timeout_s, 0.0, 1e7)));
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, timeout, [this] { return in_flight_ == 0; })) {
      return absl::DeadlineExceededError(absl::StrCat(setup_.Describe(), ": ", in_flight_,
                                                      " messages still unacknowledged after ", timeout_s, " s (",
                                                      connected_ ? "connected" : "not connected", ")"));
    }
    if (given_up_ > 0) {
      const int64_t n = given_up_;
      given_up_ = 0;
      return absl::DataLossError(
          absl::StrCat(setup_.Describe(), ": ", n, " messages could not be delivered (connection lost repeatedly)"));
    }
    return absl::OkStatus();
  }

 private:
  class Listener final : public mqtt::iaction_listener {
   public:
    explicit Listener(MqttPublisher* owner) : owner_(owner) {}
    void on_success(const mqtt::token& tok) override { owner_->OnDelivered(tok); }
    void on_failure(const mqtt::token& tok) override { owner_->OnFailed(tok); }

   private:
    MqttPublisher* owner_;
  };

  void OnDelivered(const mqtt::token& tok) {
    const auto* dt = dynamic_cast<const mqtt::delivery_token*>(&tok);
    mqtt::const_message_ptr msg = dt != nullptr ? dt->get_message() : nullptr;
    {
      std::lock_guard<std::mutex> l(mu_);
      --in_flight_;
      if (msg && !attempts_.empty()) attempts_.erase(msg.get());
      if (msg && msg->get_qos() > 0) {
        recently_acked_.push_back(std::move(msg));
        if (recently_acked_.size() > kReplayAfterLoss) recently_acked_.pop_front();
      }
    }
    cv_.notify_all();
  }

  // Paho abandoned the message (the connection dropped while it was in
  // flight, with a clean session): publish it again once reconnected.
  void OnFailed(const mqtt::token& tok) {
    const auto* dt = dynamic_cast<const mqtt::delivery_token*>(&tok);
    mqtt::const_message_ptr msg = dt != nullptr ? dt->get_message() : nullptr;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (msg && !closing_ && ++attempts_[msg.get()] < kMaxAttempts) {
        retry_.push_back(std::move(msg));
      } else {
        if (msg) attempts_.erase(msg.get());
        --in_flight_;
        ++given_up_;
      }
    }
    cv_.notify_all();
  }

  // Re-publishes abandoned messages (they still count as in flight).
  void RetryLoop() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return closing_ || (connected_ && !retry_.empty()); });
      if (closing_) break;
      std::deque<mqtt::const_message_ptr> batch;
      batch.swap(retry_);
      l.unlock();
      bool stalled = false;
      while (!batch.empty()) {
        try {
          client_->publish(batch.front(), nullptr, listener_);
          batch.pop_front();
        } catch (const mqtt::exception&) {
          stalled = true;
          break;
        }
      }
      l.lock();
      if (!batch.empty()) {
        retry_.insert(retry_.begin(), batch.begin(), batch.end());
      }
      if (stalled) cv_.wait_for(l, std::chrono::milliseconds(100));
    }
    // Closing: whatever waits for a retry is dropped.
    given_up_ += static_cast<int64_t>(retry_.size());
    in_flight_ -= static_cast<int64_t>(retry_.size());
    for (const auto& m : retry_) attempts_.erase(m.get());
    retry_.clear();
  }

  MqttSetup setup_;
  mqtt::string_ref topic_;
  Listener listener_;  // outlives client_ (declared before it)

  // Never held while calling into Paho (Paho calls back with its lock held).
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t in_flight_ = 0;  // published, not yet acknowledged or given up on
  int64_t given_up_ = 0;   // since the last Flush
  bool connected_ = false;
  bool lost_connection_ = false;
  bool closing_ = false;
  std::deque<mqtt::const_message_ptr> retry_;
  std::unordered_map<const mqtt::message*, int> attempts_;  // messages abandoned at least once
  std::deque<mqtt::const_message_ptr> recently_acked_;      // the last kReplayAfterLoss (QoS 1)

  std::unique_ptr<mqtt::async_client> client_;
  std::thread retry_thread_;
};

// ---------------------------------------------------------------------------

// Set while a handler runs on Paho's thread (Stop must not wait there).
thread_local bool tls_in_mqtt_handler = false;

class MqttSubscriber final : public Subscriber {
 public:
  MqttSubscriber() : sub_listener_(this) {}

  ~MqttSubscriber() override {
    Stop();
    // Stop from inside the handler leaves the client to be destroyed here.
    DisconnectAndDestroy(client_, std::chrono::milliseconds(0));
  }

  absl::Status Init(const BrokerUri& uri, const TransportOptions& options) {
    absl::Status st = setup_.Init(uri, options, /*publisher=*/false);
    if (!st.ok()) return st;
    filter_ = options.group.empty() ? uri.topic : absl::StrCat("$share/", options.group, "/", uri.topic);
    // Validates the server URI and client id now rather than at Start.
    auto client = setup_.MakeClient();
    if (!client.ok()) return client.status();
    return absl::OkStatus();
  }

  absl::Status Start(Handler handler) override {
    if (!handler) return absl::InvalidArgumentError(absl::StrCat(setup_.Describe(), ": Start needs a handler"));
    {
      std::lock_guard<std::mutex> l(mu_);
      if (started_) return absl::FailedPreconditionError(absl::StrCat(setup_.Describe(), ": already started"));
      started_ = true;
      handler_ = std::make_shared<const Handler>(std::move(handler));
      sub_state_ = SubState::kPending;
      lost_connection_ = false;
    }
    // A client left over from a Stop called inside the handler.
    DisconnectAndDestroy(client_, std::chrono::milliseconds(0));
    auto client = setup_.MakeClient();
    if (!client.ok()) {
      ResetAfterFailedStart();
      return client.status();
    }
    client_ = std::move(client).value();
    // The handler is in place before connecting: a persistent session's
    // queued messages arrive right after the CONNACK.
    client_->set_message_callback([this](mqtt::const_message_ptr msg) { Deliver(msg); });
    mqtt::async_client* cli = client_.get();  // not client_: Stop resets it
    client_->set_connected_handler([this, cli](const std::string& cause) { OnConnected(*cli); });
    client_->set_connection_lost_handler([this](const std::string& cause) {
      {
        std::lock_guard<std::mutex> l(mu_);
        lost_connection_ = true;
      }
      std::fprintf(stderr, "mqtt subscriber %s: connection lost%s%s; reconnecting\n", setup_.Describe().c_str(),
                   cause.empty() ? "" : ": ", cause.c_str());
    });
    absl::Status st = setup_.FirstConnect(*client_, "subscriber");
    if (!st.ok()) {
      DisconnectAndDestroy(client_, std::chrono::milliseconds(0));
      ResetAfterFailedStart();
      return st;
    }
    SubState state;
    int rc;
    // Not under mu_: Paho holds its own lock while calling OnConnected.
    const bool connected = client_->is_connected();
    {
      std::unique_lock<std::mutex> l(mu_);
      if (connected) cv_.wait_for(l, kSubackWait, [this] { return sub_state_ != SubState::kPending; });
      state = sub_state_;
      rc = sub_rc_;
    }
    if (state == SubState::kFailed) {
      DisconnectAndDestroy(client_, std::chrono::milliseconds(0));
      ResetAfterFailedStart();
      return absl::PermissionDeniedError(absl::StrCat(setup_.Describe(), ": subscription to '", filter_,
                                                      "' refused (code ", rc, ")",
                                                      setup_.options.group.empty()
                                                          ? ""
                                                          : "; does the broker support shared subscriptions?"));
    }
    return absl::OkStatus();
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!started_) return;
      started_ = false;
    }
    if (tls_in_mqtt_handler) {
      // On Paho's callback thread: waiting for the disconnect here would
      // stall it. Only begin it; the client is destroyed by the next Start or
      // the destructor.
      try {
        if (client_) client_->disconnect(0);
      } catch (const mqtt::exception&) {
      }
      return;
    }
    // The handler keeps receiving until the disconnect completed (messages
    // Paho acknowledged must not be dropped), then never again.
    DisconnectAndDestroy(client_, std::chrono::milliseconds(1000));
    std::lock_guard<std::mutex> l(mu_);
    handler_.reset();
  }

 private:
  enum class SubState { kPending, kOk, kFailed };
  enum class SubOutcome { kOk, kRefused, kInterrupted };

  class SubListener final : public mqtt::iaction_listener {
   public:
    explicit SubListener(MqttSubscriber* owner) : owner_(owner) {}
    // MQTT 3.1.1 SUBACK: granted QoS, or 0x80 for a refused subscription
    // (Paho reports that as a success with the code or as a failure).
    void on_success(const mqtt::token& tok) override {
      const int reason = static_cast<int>(tok.get_reason_code());
      owner_->OnSubscribed(reason < 0x80 ? SubOutcome::kOk : SubOutcome::kRefused, reason);
    }
    void on_failure(const mqtt::token& tok) override {
      const int reason = static_cast<int>(tok.get_reason_code());
      const int rc = tok.get_return_code();
      if (reason >= 0x80 || rc >= 0x80) {
        owner_->OnSubscribed(SubOutcome::kRefused, reason >= 0x80 ? reason : rc);
      } else {
        // The connection went away before the SUBACK: the next connect
        // subscribes again.
        owner_->OnSubscribed(SubOutcome::kInterrupted, rc);
      }
    }

   private:
    MqttSubscriber* owner_;
  };

  void ResetAfterFailedStart() {
    std::lock_guard<std::mutex> l(mu_);
    started_ = false;
    handler_.reset();
  }

  // Every (re)connect: (re)subscribe. Asynchronous - this runs on Paho's thread.
  void OnConnected(mqtt::async_client& cli) {
    bool was_lost;
    {
      std::lock_guard<std::mutex> l(mu_);
      was_lost = lost_connection_;
      lost_connection_ = false;
    }
    if (was_lost) std::fprintf(stderr, "mqtt subscriber %s: reconnected\n", setup_.Describe().c_str());
    try {
      cli.subscribe(filter_, setup_.options.qos, nullptr, sub_listener_);
    } catch (const mqtt::exception& e) {
      std::fprintf(stderr, "mqtt subscriber %s: subscribe to '%s' failed: %s\n", setup_.Describe().c_str(),
                   filter_.c_str(), e.what());
    }
  }

  void OnSubscribed(SubOutcome outcome, int rc) {
    if (outcome == SubOutcome::kInterrupted) return;
    const bool ok = outcome == SubOutcome::kOk;
    {
      std::lock_guard<std::mutex> l(mu_);
      // Start returns the first outcome when it is still waiting for it.
      if (sub_state_ == SubState::kPending) {
        sub_state_ = ok ? SubState::kOk : SubState::kFailed;
        sub_rc_ = rc;
      }
    }
    cv_.notify_all();
    if (!ok) {
      // Also after a reconnect, or once Start has returned: only a log line.
      std::fprintf(stderr, "mqtt subscriber %s: subscription to '%s' refused (code %d)\n",
                   setup_.Describe().c_str(), filter_.c_str(), rc);
    }
  }

  void Deliver(const mqtt::const_message_ptr& msg) {
    std::shared_ptr<const Handler> handler;
    {
      std::lock_guard<std::mutex> l(mu_);
      handler = handler_;
    }
    if (!handler || !msg) return;
    tls_in_mqtt_handler = true;
    try {
      (*handler)(Message{msg->get_topic(), std::string(), msg->get_payload_str()});
    } catch (...) {
      // An exception must not unwind into Paho's C thread.
      std::fprintf(stderr, "mqtt subscriber %s: handler threw; message skipped\n", setup_.Describe().c_str());
    }
    tls_in_mqtt_handler = false;
  }

  MqttSetup setup_;
  std::string filter_;
  SubListener sub_listener_;  // outlives client_ (declared before it)

  // Never held while calling into Paho (Paho calls back with its lock held).
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool lost_connection_ = false;
  std::shared_ptr<const Handler> handler_;
  SubState sub_state_ = SubState::kPending;
  int sub_rc_ = 0;

  std::unique_ptr<mqtt::async_client> client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Publisher>> OpenMqttPublisher(const BrokerUri& uri, const TransportOptions& options) {
  auto pub = std::make_unique<MqttPublisher>();
  absl::Status st = pub->Init(uri, options);
  if (!st.ok()) return st;
  return std::unique_ptr<Publisher>(std::move(pub));
}

absl::StatusOr<std::unique_ptr<Subscriber>> OpenMqttSubscriber(const BrokerUri& uri, const TransportOptions& options) {
  auto sub = std::make_unique<MqttSubscriber>();
  absl::Status st = sub->Init(uri, options);
  if (!st.ok()) return st;
  return std::unique_ptr<Subscriber>(std::move(sub));
}

}  // namespace mliot::stream
