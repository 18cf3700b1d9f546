// HpoScheduler: decides which trial runs next, for all model kinds at once.
//
// Every kind owns a SearchStrategy. The first round tries each kind's
// defaults: kinds built for the data's shape first, then the cheapest, so
// that something is ready early (lazy training). Later rounds give the
// leading kind (best validation accuracy) up to 75 % of all trial time, even
// in parallel with itself, and go round-robin over the others, skipping
// kinds whose strategy is exhausted or whose next trial would not fit in the
// time left (cooperative kinds, which shorten a fit to its deadline, need 60 %
// of their quickest trial; the others their slowest). A kind is *finished* when
// it will get no more trials; the trainer publishes a bundle version then.
//
// Thread-safety: all methods are thread-safe (one mutex).
#ifndef MLIOT_TRAIN_SCHEDULER_H_
#define MLIOT_TRAIN_SCHEDULER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "ml/hpo/strategy.h"
#include "ml/model.h"

namespace mliot {

struct TrialTicket {
  int kind_index = -1;
  Params params;
};

class HpoScheduler {
 public:
  HpoScheduler(std::vector<const ModelKind*> kinds, const StrategyFactory& strategy,
               const SearchOptions& options);

  // The next trial to run, or nullopt when no kind has a trial that fits in
  // `remaining_s` seconds right now (kinds with trials in flight may still
  // produce more later: call again after Report).
  std::optional<TrialTicket> Next(double remaining_s);
  // Records a finished (or failed, score < 0) trial.
  void Report(const TrialTicket& ticket, double score, double fit_s);
  // Kinds that newly became finished given `remaining_s`; each is returned once.
  std::vector<int> TakeFinished(double remaining_s);
  // True when every kind is finished and no trial is in flight.
  bool AllDone(double remaining_s);

  const ModelKind& kind(int i) const { return *kinds_[i]; }
  int num_kinds() const { return static_cast<int>(kinds_.size()); }

 private:
  struct KindState {
    std::unique_ptr<SearchStrategy> strategy;
    std::optional<Params> pending;  // proposed but not yet handed out
    bool exhausted = false;
    bool finished_reported = false;
    int in_flight = 0;
    int trials = 0;
    double best = -1;
    double max_fit_s = 0;
    double min_fit_s = 0;
    int trials_reported = 0;
    double spent_s = 0;  // trial time used so far
  };
  bool CanRun(int i, const KindState& s, double remaining_s) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Finished(int i, KindState& s, double remaining_s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::vector<const ModelKind*> kinds_;
  absl::Mutex mu_;
  std::vector<KindState> state_ ABSL_GUARDED_BY(mu_);
  int round_robin_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mliot

#endif  // MLIOT_TRAIN_SCHEDULER_H_
