// Device policies: where an application may run and which node it prefers
// (paper §4.1.2, DESIGN.md §4).
//
//   require: a boolean expression over node attributes and predictions
//     locality == 'local' and latency_ms <= 40
//     cores atleast 4 or not gpu
//     labels.room == 'kitchen' and (mem < 80 or free_cpu >= 0.5)
//   prefer: best_effort (default) | max(attr) | min(attr)
//
// Grammar (case-sensitive keywords):
//   expr    := or_expr
//   or_expr := and_expr ('or' and_expr)*
//   and_expr:= not_expr ('and' not_expr)*
//   not_expr:= 'not' not_expr | cmp
//   cmp     := operand (op operand)?        -- a bare operand must be boolean
//   op      := == | != | < | <= | > | >= | atleast | atmost | equal
//   operand := NUMBER | 'string' | "string" | true | false | NAME | '(' expr ')'
//   NAME    := identifier ('.' identifier)*  e.g. cores, labels.locality
//
// `atleast` is >=, `atmost` is <=, `equal` is ==. A bare name that is not a
// known attribute is looked up as a label (`locality` == `labels.locality`).
// Numbers compare numerically, strings as strings (ordering included),
// booleans only with == and !=; mixing types is a parse error. Labels are
// strings known only at run time: a missing label is "" (and false as a
// condition, or compared with a boolean); a label present and not "",
// "false" or "0" is true; a label compared with a number must hold a number
// (`floor >= 2` with floor=2), otherwise the comparison is false with a
// reason.
// Known attributes: cores, memory_mb, gpu, arch, rtt_ms, cpu (percent used),
// mem (percent used), load (load average), free_cpu (idle cores),
// latency_ms and train_s (the coordinator's predictions for this task on
// this node), tasks (tasks placed on the node), alive.
//
// Errors are InvalidArgument with one line pointing at the token by 1-based
// column and listing the known names where a name is unknown.
//
// Thread-safety: parsed policies are immutable; Matches may run concurrently.
#ifndef MLIOT_COORD_POLICY_H_
#define MLIOT_COORD_POLICY_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mliot {

using NodeLabels = std::map<std::string, std::string>;

// The empty label set every NodeView starts with (shared: no allocation).
inline const std::shared_ptr<const NodeLabels>& NoLabels() {
  static const auto* const empty = new std::shared_ptr<const NodeLabels>(std::make_shared<const NodeLabels>());
  return *empty;
}

// The values a policy can see for one node (and one task on it).
struct NodeView {
  std::string name;
  int cores = 0;
  double memory_mb = 0;
  bool gpu = false;
  std::string arch;
  double rtt_ms = 0;
  // Shared, not copied: placement takes a view of every node, and a node's
  // labels change only when it registers again. Never null.
  std::shared_ptr<const NodeLabels> labels = NoLabels();
  // Runtime metrics (EWMA over the last samples).
  double cpu = 0;       // percent of all cores in use, 0-100
  double mem = 0;       // percent of memory in use, 0-100
  double load = 0;      // load average (1 min)
  double free_cpu = 0;  // idle cores
  // The CPU quota the node runs under, in cores of its host (0: none); with
  // one, `cpu` is a percent of it.
  double cpu_quota = 0;
  // Cores its serving workers use (EWMA like `cpu`): part of `cpu`, but
  // the latency model counts served tasks by number (placement.h).
  double serving_cpu = 0;
  int tasks = 0;
  bool alive = true;
  // Predictions for the task being placed.
  double latency_ms = 0;
  double train_s = 0;
};

using PolicyValue = std::variant<double, bool, std::string>;

// A parsed `require` expression.
class RequireExpr {
 public:
  // An empty text means "every node".
  static absl::StatusOr<RequireExpr> Parse(absl::string_view text);

  // Whether `node` satisfies the expression; when it does not, `why` (if
  // given) receives a short reason naming the failing comparison with the
  // node's actual value, e.g. "latency_ms 87.3 > 40", "no label 'room'";
  // when it does, `why` is left unchanged.
  bool Matches(const NodeView& node, std::string* why = nullptr) const;

  const std::string& text() const { return text_; }

  struct Node;  // the expression tree (defined in policy.cc)

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;  // shared: policies are copied, trees immutable
};

// A parsed `prefer` clause.
class PreferRule {
 public:
  enum class Kind { kBestEffort, kMax, kMin };
  static absl::StatusOr<PreferRule> Parse(absl::string_view text);  // "" = best_effort

  Kind kind() const { return kind_; }
  const std::string& attribute() const { return attribute_; }
  const std::string& text() const { return text_; }

  // The numeric value this rule ranks by for `node` (higher ranks first for
  // max, lower first for min; gpu counts as 0/1). best_effort ranks by
  // LoadScores, which need every candidate: Place() uses those, and Key()
  // returns the node's own unnormalised load (0.5 cpu/100 + 0.3 mem/100 +
  // 0.2 load/cores), lower first.
  double Key(const NodeView& node) const;

 private:
  Kind kind_ = Kind::kBestEffort;
  std::string attribute_;
  std::string text_;
};

// The load formula used by best_effort and to break ties (DESIGN.md §4 on
// why the paper's eq. (1)-(2) cannot be used as printed): a weighted sum of
// CPU use, memory use and load average per core, each normalised to [0, 1]
// across the candidate nodes (min-max). Lower is less loaded. Weights
// 0.5 CPU, 0.3 memory, 0.2 load average (documented in docs/POLICIES.md).
std::vector<double> LoadScores(const std::vector<NodeView>& nodes);

}  // namespace mliot

#endif  // MLIOT_COORD_POLICY_H_
