#include "common/broker_uri.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mliot {

absl::StatusOr<BrokerUri> BrokerUri::Parse(const std::string& uri) {
  const size_t sep = uri.find("://");
  if (sep == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("broker '", uri, "': expected mqtt://HOST:PORT/TOPIC or kafka://HOST:PORT/TOPIC"));
  }
  BrokerUri u;
  u.scheme = uri.substr(0, sep);
  if (u.scheme != "mqtt" && u.scheme != "kafka") {
    return absl::InvalidArgumentError(absl::StrCat("broker '", uri, "': scheme '", u.scheme, "': valid: mqtt, kafka"));
  }
  const std::string rest = uri.substr(sep + 3);
  const size_t slash = rest.find('/');
  if (slash == std::string::npos || slash + 1 >= rest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("broker '", uri, "': no topic after HOST:PORT/"));
  }
  const std::string host_port = rest.substr(0, slash);
  u.topic = rest.substr(slash + 1);
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(host_port.substr(colon + 1), &u.port) ||
      u.port <= 0 || u.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("broker '", uri, "': expected HOST:PORT, got '", host_port, "'"));
  }
  u.host = host_port.substr(0, colon);
  return u;
}

std::string BrokerUri::HostPort() const { return absl::StrCat(host, ":", port); }
std::string BrokerUri::ToString() const { return absl::StrCat(scheme, "://", HostPort(), "/", topic); }

bool IsBrokerUri(const std::string& spec) {
  return absl::StartsWith(spec, "mqtt://") || absl::StartsWith(spec, "kafka://");
}

}  // namespace mliot
