// NodeRegistry: what the coordinator knows about each node right now —
// its static description, an EWMA of its metrics over the last 10
// heartbeats (alpha = 2 / (10 + 1)), when it was last heard from, and
// whether it is alive. A node silent for longer than the heartbeat timeout
// is dead until it heart-beats again.
//
// Time comes from a Clock, so tests drive liveness with a FakeClock; it
// must not go back (RealClock is steady). A heartbeat finds its node in a
// hash index and moves it to the back of the list of live nodes, which is
// thereby ordered by when each was last heard from: Sweep looks only at the
// front, the nodes that may have fallen silent, not at all nodes.
// Thread-safety: all methods are thread-safe.
#ifndef MLIOT_COORD_NODE_REGISTRY_H_
#define MLIOT_COORD_NODE_REGISTRY_H_

#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "coord/placement.h"
#include "mliot/v1/coordinator.pb.h"

namespace mliot {

struct NodeEntry {
  v1::NodeInfo info;
  std::shared_ptr<const NodeLabels> labels;  // info.labels(), for placement views
  v1::NodeMetrics metrics;  // EWMA of cpu, mem, load; workers as last reported
  double last_seen = 0;     // clock seconds
  bool alive = true;
  int samples = 0;
  // Cores its serving workers use, an EWMA like metrics.cpu: the part of
  // cpu that placement counts by served task instead (placement.h).
  double serving_cpu = 0;
  std::map<std::string, v1::TaskStatus> tasks;  // as last reported
};

class NodeRegistry {
 public:
  NodeRegistry(const Clock* clock, double heartbeat_timeout_s)
      : clock_(clock), timeout_s_(heartbeat_timeout_s) {}

  // Adds or refreshes a node (a restarted node keeps its name).
  void Register(const v1::NodeInfo& info);
  // Restores a node known from the store: alive, as if just heard from, so
  // that it has one timeout to heart-beat after a coordinator restart.
  void Restore(const v1::NodeInfo& info);
  // False when the node is unknown (it must register first).
  bool Heartbeat(const v1::HeartbeatRequest& request);
  // Marks nodes silent for longer than the timeout dead; returns the nodes
  // that died in this call.
  std::vector<std::string> Sweep();

  std::optional<NodeEntry> Get(const std::string& name) const;
  // Registered and not found silent by Sweep since it was last heard from.
  bool IsAlive(const std::string& name) const;
  std::vector<NodeEntry> All() const;
  // Placement candidates for every node (dead ones marked), with `tasks`
  // filled from `task_counts`.
  std::vector<PlacementCandidate> Candidates(const std::map<std::string, int>& task_counts) const;

  double timeout_s() const { return timeout_s_; }

 private:
  const Clock* clock_;
  const double timeout_s_;
  struct Slot {
    NodeEntry entry;
    std::list<Slot*>::iterator in_live;  // its place in live_, while entry.alive
  };
  // Marks the node heard from now: alive, at the back of live_.
  void TouchLocked(Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Slot> nodes_ ABSL_GUARDED_BY(mu_);  // by name: placement walks it in order
  absl::flat_hash_map<std::string, Slot*> by_name_ ABSL_GUARDED_BY(mu_);
  std::list<Slot*> live_ ABSL_GUARDED_BY(mu_);  // alive nodes, least recently heard from first
};

}  // namespace mliot

#endif  // MLIOT_COORD_NODE_REGISTRY_H_
