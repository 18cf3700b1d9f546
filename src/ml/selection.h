// Model-selection policies: which trained candidates form the ensemble.
//
// A policy is text, parsed once and applied many times (after every lazy-
// training step). Clauses are joined by `and` and applied left to right,
// each narrowing the set of candidates:
//
//   top_accuracy(k)     the k candidates with the highest validation accuracy
//   lowest_latency(k)   the k candidates with the lowest single-row latency
//   min_accuracy(a)     candidates with validation accuracy >= a (0 <= a <= 1)
//   max_latency_ms(x)   candidates with latency <= x milliseconds
//   all                 every candidate
//
// The paper's wording is accepted as synonyms: atleast_accuracy(a) is
// min_accuracy(a), atmost_latency_ms(x) is max_latency_ms(x). Whitespace
// between tokens is ignored; names are case-sensitive; `or` is not supported.
// The result is ranked by accuracy whatever the clauses, so e.g.
// `lowest_latency(2) and min_accuracy(0.9)` (the two fastest, if accurate
// enough) differs from `min_accuracy(0.9) and lowest_latency(2)` (the two
// fastest of the accurate ones). top_accuracy breaks ties by lower latency,
// lowest_latency by higher accuracy, both then by lower index.
//
//   auto policy = SelectionPolicy::Parse("min_accuracy(0.8) and lowest_latency(3)");
//   std::vector<int> chosen = policy->Select(candidates);
//
// Parse errors are InvalidArgument with a one-line message that quotes the
// policy and points at the offending token by 1-based column, e.g.
//   policy 'top_acuracy(3)': unknown function 'top_acuracy' at column 1; known:
//   top_accuracy, lowest_latency, min_accuracy, max_latency_ms, within, greedy, all
//
// Thread-safety: a parsed policy is immutable; Select may run concurrently.
#ifndef MLIOT_ML_SELECTION_H_
#define MLIOT_ML_SELECTION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mliot {

struct Candidate {
  std::string kind;
  double val_accuracy = 0;
  double latency_ms = 0;
};

class SelectionPolicy {
 public:
  static absl::StatusOr<SelectionPolicy> Parse(absl::string_view text);

  // Applies the clauses left to right, each narrowing the current set, and
  // returns the indices into `candidates` of the chosen ones, ordered by
  // validation accuracy (best first; ties by lower latency, then by index).
  // May be empty when the filters reject everything; the caller decides what
  // then. A NaN accuracy or latency fails every threshold and ranks last.
  // `score` rates an ensemble of candidate indices (its validation accuracy);
  // only greedy(k) uses it.
  using EnsembleScore = std::function<double(const std::vector<int>&)>;
  std::vector<int> Select(const std::vector<Candidate>& candidates,
                          const EnsembleScore& score = nullptr) const;

  const std::string& text() const { return text_; }

 private:
  friend class SelectionPolicyParser;  // selection.cc; builds clauses_.

  enum class Op { kTopAccuracy, kLowestLatency, kMinAccuracy, kMaxLatencyMs, kWithin, kGreedy, kAll };
  struct Clause {
    Op op;
    double arg = 0;
  };
  std::string text_;
  std::vector<Clause> clauses_;
};

}  // namespace mliot

#endif  // MLIOT_ML_SELECTION_H_
