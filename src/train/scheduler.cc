#include "train/scheduler.h"

#include <algorithm>
#include <numeric>

namespace mliot {
namespace {

// The share of trial time the leading kind may take.
constexpr double kLeaderShare = 0.75;

}  // namespace

HpoScheduler::HpoScheduler(std::vector<const ModelKind*> kinds, const StrategyFactory& strategy,
                           const SearchOptions& options)
    : kinds_(std::move(kinds)) {
  // The first round runs in this order: kinds built for the data's shape
  // (cnn on images) first, since they are the likeliest to lead and the
  // slowest to train; then the rest, cheapest first, so that something is
  // ready early for lazy training.
  std::stable_sort(kinds_.begin(), kinds_.end(), [](const ModelKind* a, const ModelKind* b) {
    if (a->needs_image != b->needs_image) return a->needs_image;
    return a->cost_rank < b->cost_rank;
  });
  absl::MutexLock lock(&mu_);
  state_.resize(kinds_.size());
  for (size_t i = 0; i < kinds_.size(); ++i) {
    SearchOptions o = options;
    o.seed = options.seed + i * 7919;
    state_[i].strategy = strategy(kinds_[i]->params, o);
  }
}

bool HpoScheduler::CanRun(int i, const KindState& s, double remaining_s) const {
  if (s.exhausted) return false;
  if (s.trials == 0) return remaining_s > 0;
  // A later trial must be expected to finish in the time left. Cooperative
  // kinds shorten their fit to the deadline, so most of a trial will do.
  const double need = kinds_[i]->cooperative ? 0.6 * s.min_fit_s : s.max_fit_s;
  return need < remaining_s;
}

bool HpoScheduler::Finished(int i, KindState& s, double remaining_s) {
  if (s.in_flight > 0) return false;
  if (s.exhausted) return true;
  if (!CanRun(i, s, remaining_s)) return true;
  if (!s.pending) {
    s.pending = s.strategy->Next();
    if (!s.pending) s.exhausted = true;
  }
  return s.exhausted;
}

std::optional<TrialTicket> HpoScheduler::Next(double remaining_s) {
  absl::MutexLock lock(&mu_);
  const int n = static_cast<int>(state_.size());
  // Round 1: every kind's defaults, in cost order.
  for (int i = 0; i < n; ++i) {
    KindState& s = state_[i];
    if (s.trials == 0 && s.in_flight == 0 && CanRun(i, s, remaining_s)) {
      if (!s.pending) s.pending = s.strategy->Next();
      if (!s.pending) {
        s.exhausted = true;
        continue;
      }
      ++s.in_flight;
      ++s.trials;
      TrialTicket t{i, *std::move(s.pending)};
      s.pending.reset();
      return t;
    }
  }
  // Later rounds. The leading kind (best validation accuracy so far) is
  // where more trials pay off most: it gets the next trial while it has used
  // less than kLeaderShare of all trial time, even beside its own trial in flight
  // (its strategy spreads parallel proposals apart). Otherwise round-robin
  // over the other kinds, best first; each waits for its own trial in flight
  // before the next, so its strategy learns from it.
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return state_[a].best > state_[b].best; });
  // Time used per kind: finished trials plus half the slowest trial for each
  // one in flight (a rough estimate of how far along it is).
  const auto used = [](const KindState& s) { return s.spent_s + 0.5 * s.in_flight * s.max_fit_s; };
  double total_s = 0;
  for (const KindState& s : state_) total_s += used(s);
  auto take = [&](int i) -> std::optional<TrialTicket> {
    KindState& s = state_[i];
    if (!s.pending) s.pending = s.strategy->Next();
    if (!s.pending) {
      s.exhausted = true;
      return std::nullopt;
    }
    ++s.in_flight;
    ++s.trials;
    TrialTicket t{i, *std::move(s.pending)};
    s.pending.reset();
    return t;
  };
  const int leader = order[0];
  KindState& lead = state_[leader];
  if (lead.best >= 0 && lead.trials > 0 && CanRun(leader, lead, remaining_s) &&
      used(lead) < kLeaderShare * total_s) {
    if (std::optional<TrialTicket> t = take(leader)) return t;
  }
  for (int step = 0; step < n; ++step) {
    const int i = order[(round_robin_ + step) % n];
    KindState& s = state_[i];
    if (s.trials == 0 || s.in_flight > 0 || !CanRun(i, s, remaining_s)) continue;
    if (std::optional<TrialTicket> t = take(i)) {
      round_robin_ = (round_robin_ + step + 1) % n;
      return t;
    }
  }
  return std::nullopt;
}

void HpoScheduler::Report(const TrialTicket& ticket, double score, double fit_s) {
  absl::MutexLock lock(&mu_);
  KindState& s = state_[ticket.kind_index];
  --s.in_flight;
  s.max_fit_s = std::max(s.max_fit_s, fit_s);
  s.min_fit_s = s.trials_reported++ == 0 ? fit_s : std::min(s.min_fit_s, fit_s);
  s.spent_s += fit_s;
  if (score >= 0) {
    s.best = std::max(s.best, score);
    s.strategy->Report(ticket.params, score);
  } else if (s.best < 0 && s.trials >= 2) {
    s.exhausted = true;  // a kind whose first trials all fail gets no more
  }
}

std::vector<int> HpoScheduler::TakeFinished(double remaining_s) {
  absl::MutexLock lock(&mu_);
  std::vector<int> out;
  for (int i = 0; i < static_cast<int>(state_.size()); ++i) {
    KindState& s = state_[i];
    if (!s.finished_reported && Finished(i, s, remaining_s)) {
      s.finished_reported = true;
      out.push_back(i);
    }
  }
  return out;
}

bool HpoScheduler::AllDone(double remaining_s) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < static_cast<int>(state_.size()); ++i) {
    if (!Finished(i, state_[i], remaining_s)) return false;
  }
  return true;
}

}  // namespace mliot
