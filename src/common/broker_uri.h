// A broker address with a topic, as tasks and commands name it:
//   mqtt://HOST:PORT/TOPIC    kafka://HOST:PORT/TOPIC
// Here (not in stream/) so that task specs can be checked without linking
// the transports.
#ifndef MLIOT_COMMON_BROKER_URI_H_
#define MLIOT_COMMON_BROKER_URI_H_

#include <string>

#include "absl/status/statusor.h"

namespace mliot {

struct BrokerUri {
  std::string scheme;  // mqtt | kafka
  std::string host;
  int port = 0;
  std::string topic;   // may contain '/', e.g. mliot/kitchen/samples

  // "mqtt://127.0.0.1:1883/mliot/t/samples"; errors name the bad part.
  static absl::StatusOr<BrokerUri> Parse(const std::string& uri);
  std::string HostPort() const;
  std::string ToString() const;
};

// True when `spec` names a broker (starts with mqtt:// or kafka://).
bool IsBrokerUri(const std::string& spec);

}  // namespace mliot

#endif  // MLIOT_COMMON_BROKER_URI_H_
