#include "train/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/status_util.h"
#include "common/thread_pool.h"
#include "ml/ensemble.h"
#include "ml/preprocess.h"
#include "ml/selection.h"
#include "train/bundle_writer.h"
#include "train/reducer_choice.h"
#include "train/scheduler.h"
#include "train/trial.h"

namespace mliot {
namespace {

// One of the best trials of a kind so far, with when it completed.
struct KindBest {
  TrialResult trial;
  const ModelKind* kind = nullptr;
  double done_at = 0;  // seconds since the start of training
};

std::vector<float> Gather(const float* x, int64_t cols, const std::vector<int64_t>& rows) {
  std::vector<float> out(rows.size() * static_cast<size_t>(cols));
  for (size_t i = 0; i < rows.size(); ++i) std::copy_n(x + rows[i] * cols, cols, out.data() + i * cols);
  return out;
}

}  // namespace

absl::Status Trainer::Validate(const Dataset& data, const TrainOptions& o) const {
  if (!(o.budget_s > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--budget-s must be > 0, got ", o.budget_s));
  }
  if (o.time_bound_s && !(*o.time_bound_s > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--time-bound-s must be > 0, got ", *o.time_bound_s));
  }
  if (o.max_trials < 1) return absl::InvalidArgumentError("--trials must be >= 1");
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) {
    return absl::InvalidArgumentError("--val-fraction must be in (0, 1)");
  }
  for (const std::string& name : o.models) {
    absl::StatusOr<const ModelKind*> found = models_.Find(name);
    if (!found.ok()) return Annotate(found.status(), "--models");
    const ModelKind* kind = *found;
    if (kind->needs_image && !data.shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model kind '", name, "' needs rows with a 2-D shape (images); ", data.source, " has none"));
    }
  }
  for (const auto& [name, text] : o.start_params) {
    MLIOT_ASSIGN_OR_RETURN(const ModelKind* kind, models_.Find(name));
    MLIOT_RETURN_IF_ERROR(Annotate(ParseParams(kind->params, text).status(), absl::StrCat("--params ", name)));
  }
  if (o.reduce != "auto") MLIOT_RETURN_IF_ERROR(Annotate(MakeReducer(o.reduce).status(), "--reduce"));
  MLIOT_RETURN_IF_ERROR(Annotate(strategies_.Find(o.hpo).status(), "--hpo"));
  MLIOT_RETURN_IF_ERROR(Annotate(SelectionPolicy::Parse(o.select).status(), "--select"));
  if (o.weighting != "auto") MLIOT_RETURN_IF_ERROR(Annotate(ParseWeighting(o.weighting).status(), "--weighting"));
  if (o.background_class) {
    auto it = std::find(data.class_names.begin(), data.class_names.end(), *o.background_class);
    if (it == data.class_names.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--background-class '", *o.background_class,
                                                     "' is not a class of ", data.source,
                                                     " (classes: ", absl::StrJoin(data.class_names, ", "), ")"));
    }
  }
  if (data.rows < 4) {
    return absl::InvalidArgumentError(absl::StrCat(data.source, ": too few rows to train (", data.rows, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainReport> Trainer::Train(const Dataset& data, const TrainOptions& o) {
  MLIOT_RETURN_IF_ERROR(Validate(data, o));
  const double t0 = clock_->NowSeconds();
  const auto elapsed = [&] { return clock_->NowSeconds() - t0; };
  const auto say = [&](const std::string& line) {
    if (progress_) progress_(absl::StrFormat("[%6.1fs] %s", elapsed(), line));
  };
  // Trials stop early enough to publish the last version within the budget.
  const double reserve_s = std::min(3.0, 0.04 * o.budget_s);
  const Deadline deadline(clock_, t0 + o.budget_s - reserve_s);
  const double time_bound = std::min(o.time_bound_s.value_or(o.budget_s), o.budget_s);
  const int workers = o.threads > 0 ? o.threads : ThreadPool::DefaultSize();
  const double trial_limit = o.trial_limit_s > 0 ? o.trial_limit_s : 0.75 * o.budget_s;
  const int k = data.num_classes();
  const SelectionPolicy policy = *SelectionPolicy::Parse(o.select);

  // ---- split
  auto [train_rows, val_rows] = StratifiedSplit(data, o.val_fraction, o.seed);
  std::vector<int32_t> train_y, val_y;
  for (int64_t r : train_rows) train_y.push_back(data.labels[r]);
  for (int64_t r : val_rows) val_y.push_back(data.labels[r]);
  const std::vector<float> train_raw = Gather(data.features.data(), data.cols, train_rows);
  const std::vector<float> val_raw = Gather(data.features.data(), data.cols, val_rows);
  const int64_t n_train = static_cast<int64_t>(train_rows.size());
  const int64_t n_val = static_cast<int64_t>(val_rows.size());
  say(absl::StrFormat("%d rows x %d features, %d classes: %d train / %d validation", data.rows,
                      data.cols, k, n_train, n_val));

  // ---- preprocess
  std::string reducer = o.reduce;
  if (reducer == "auto") {
    ReducerChoiceInput in{train_raw.data(), train_y.data(), n_train, val_raw.data(), val_y.data(),
                          n_val, data.cols, k, data.shape.has_value(), o.seed, workers};
    MLIOT_ASSIGN_OR_RETURN(ReducerChoice choice, ChooseReducer(in, deadline, say));
    reducer = choice.spec;
  }
  FitControl pre_control;
  pre_control.seed = o.seed;
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Preprocessor> pre,
                         Preprocessor::Fit(train_raw.data(), n_train, data.cols,
                                           data.shape.has_value(), reducer, pre_control));
  const int64_t r = pre->out_dim();
  std::vector<float> train_red(static_cast<size_t>(n_train * r)), val_red(static_cast<size_t>(n_val * r));
  pre->TransformBatch(train_raw.data(), n_train, train_red.data());
  pre->TransformBatch(val_raw.data(), n_val, val_red.data());
  say(absl::StrCat("preprocessing: standardise + ", pre->reducer_spec(), " -> ", r, " features"));

  SplitData reduced_split{FitInput{train_red.data(), n_train, r, train_y.data(), k, std::nullopt},
                          val_red.data(), n_val, val_y.data()};
  SplitData raw_split{FitInput{train_raw.data(), n_train, data.cols, train_y.data(), k, data.shape},
                      val_raw.data(), n_val, val_y.data()};

  // ---- two-stage detector (background vs rest)
  std::unique_ptr<Model> detector;
  std::vector<float> val_background;  // P(background) on validation rows
  int background = -1;
  if (o.background_class) {
    background = static_cast<int>(
        std::find(data.class_names.begin(), data.class_names.end(), *o.background_class) -
        data.class_names.begin());
    std::vector<int32_t> binary(train_y.size());
    for (size_t i = 0; i < binary.size(); ++i) binary[i] = train_y[i] == background ? 1 : 0;
    MLIOT_ASSIGN_OR_RETURN(const ModelKind* logreg, models_.Find("logreg"));
    detector = logreg->create();
    FitControl c;
    c.seed = o.seed;
    MLIOT_RETURN_IF_ERROR(Annotate(
        detector->Fit(FitInput{train_red.data(), n_train, r, binary.data(), 2, std::nullopt},
                      Params::Defaults(logreg->params), c),
        "two-stage detector"));
    std::vector<float> p(static_cast<size_t>(n_val * 2));
    detector->PredictProbaBatch(val_red.data(), n_val, p.data());
    for (int64_t i = 0; i < n_val; ++i) val_background.push_back(p[i * 2 + 1]);
    say(absl::StrCat("two-stage: logistic-regression detector for background class '",
                     *o.background_class, "'"));
  }

  // ---- kinds and the scheduler
  std::vector<const ModelKind*> kinds;
  if (o.models.empty()) {
    for (const std::string& name : models_.Names()) {
      const ModelKind* kind = *models_.Find(name);
      if (!kind->needs_image || data.shape) kinds.push_back(kind);
    }
  } else {
    for (const std::string& name : o.models) kinds.push_back(*models_.Find(name));
  }
  // Kinds given starting points search from there: a copy of the kind whose
  // declared defaults are those settings.
  adjusted_kinds_.clear();
  for (const ModelKind*& kind : kinds) {
    auto it = o.start_params.find(kind->name);
    if (it == o.start_params.end()) continue;
    const Params start = *ParseParams(kind->params, it->second);
    auto copy = std::make_unique<ModelKind>(*kind);
    for (ParamSpec& spec : copy->params) spec.default_value = start.values().at(spec.name);
    kind = copy.get();
    adjusted_kinds_.push_back(std::move(copy));
  }
  SearchOptions search;
  search.max_trials = o.max_trials;
  search.seed = o.seed;
  HpoScheduler scheduler(kinds, *strategies_.Find(o.hpo), search);

  absl::Mutex mu;
  // The best trials of each kind (up to kKeepPerKind, best first): the
  // library the ensemble is selected from. Guarded by mu.
  constexpr size_t kKeepPerKind = 3;
  std::map<std::string, std::vector<KindBest>> best;
  std::map<std::string, double> first_fit_s;  // guarded by mu
  int trials_done = 0;                    // guarded by mu
  std::atomic<int> running{workers};
  const std::string scratch = o.out_dir.empty() ? std::filesystem::temp_directory_path().string() : o.out_dir;
  std::filesystem::create_directories(scratch);

  auto worker = [&](int id) {
    while (true) {
      const double remaining = deadline.RemainingSeconds();
      if (remaining <= 0) break;
      std::optional<TrialTicket> ticket = scheduler.Next(remaining);
      if (!ticket) {
        if (scheduler.AllDone(remaining)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      const ModelKind& kind = scheduler.kind(ticket->kind_index);
      // Later trials of a kind may take twice its first trial (or 15 % of the
      // budget), so one expensive setting cannot eat every other search's time.
      double limit = trial_limit;
      {
        absl::MutexLock lock(&mu);
        auto first = first_fit_s.find(kind.name);
        if (first != first_fit_s.end()) {
          limit = std::min(limit, std::max(2.0 * first->second, 0.15 * o.budget_s));
        }
      }
      TrialOptions to;
      to.deadline = deadline.Min(Deadline::In(clock_, limit));
      to.threads = 1;
      to.seed = o.seed + static_cast<uint64_t>(id);
      to.scratch_dir = scratch;
      to.clock = clock_;
      absl::StatusOr<TrialResult> result =
          RunTrial(kind, ticket->params, kind.needs_image ? raw_split : reduced_split, to);
      if (!result.ok()) {
        scheduler.Report(*ticket, -1, deadline.RemainingSeconds() < 0 ? 0 : trial_limit);
        say(absl::StrCat("trial ", kind.name, " failed: ", result.status().message()));
        continue;
      }
      scheduler.Report(*ticket, result->val_accuracy, result->fit_s);
      absl::MutexLock lock(&mu);
      ++trials_done;
      say(absl::StrFormat("trial %-13s val_acc %.4f  fit %6.1fs  %.3f ms/row%s  %s", kind.name,
                          result->val_accuracy, result->fit_s, result->latency_ms,
                          result->interrupted ? " (stopped at limit)" : "",
                          result->params.ToString()));
      first_fit_s.emplace(kind.name, result->fit_s);
      std::vector<KindBest>& kept = best[kind.name];
      kept.push_back(KindBest{*std::move(result), &kind, elapsed()});
      std::stable_sort(kept.begin(), kept.end(), [](const KindBest& a, const KindBest& b) {
        return a.trial.val_accuracy > b.trial.val_accuracy;
      });
      if (kept.size() > kKeepPerKind) kept.pop_back();
    }
    running.fetch_sub(1);
  };

  // ---- publishing
  TrainReport report;
  report.reduce = pre->reducer_spec();
  std::vector<std::string> last_members;
  auto publish = [&](double cutoff_s) -> absl::Status {
    // Select among candidates completed by cutoff (under mu).
    std::vector<const KindBest*> pool;
    for (const auto& [name, kept] : best) {
      for (const KindBest& c : kept) {
        if (c.done_at <= cutoff_s) pool.push_back(&c);
      }
    }
    if (pool.empty()) return absl::OkStatus();
    std::vector<mliot::Candidate> cands;
    for (const KindBest* c : pool) cands.push_back({c->kind->name, c->trial.val_accuracy, c->trial.latency_ms});
    // An ensemble of `subset`: its weights and rule, and validation accuracy.
    // With --weighting auto the best rule on the validation rows wins; ties
    // keep the paper's.
    struct Scored {
      std::vector<double> weights;
      Weighting weighting = Weighting::kPaper;
      double accuracy = -1;
      double log_loss = 0;  // of the best-calibrated allowed weighting
    };
    auto score_subset = [&](const std::vector<int>& subset) {
      std::vector<double> acc;
      std::vector<const std::vector<float>*> proba;
      for (int i : subset) {
        acc.push_back(pool[i]->trial.val_accuracy);
        proba.push_back(&pool[i]->trial.val_proba);
      }
      Scored best_scored;
      double best_log_loss = std::numeric_limits<double>::infinity();
      for (Weighting m : {Weighting::kPaper, Weighting::kSoft, Weighting::kFitted}) {
        if (o.weighting != "auto" && o.weighting != WeightingName(m)) continue;
        std::vector<double> w = m == Weighting::kFitted ? FitWeights(proba, val_y, k) : SoftmaxWeights(acc);
        const double a = EnsembleAccuracy(proba, w, val_y, k, m);
        best_log_loss = std::min(best_log_loss, EnsembleLogLoss(proba, w, val_y, k));
        if (a > best_scored.accuracy + 1e-12) best_scored = Scored{std::move(w), m, a, 0};
      }
      best_scored.log_loss = best_log_loss;
      return best_scored;
    };
    // Greedy selection compares subsets by validation log-loss: smoother
    // than accuracy on a few thousand rows, where one row is 0.05 points.
    std::vector<int> chosen = policy.Select(
        cands, [&](const std::vector<int>& subset) { return -score_subset(subset).log_loss; });
    if (chosen.empty()) {
      chosen = SelectionPolicy::Parse("top_accuracy(1)")->Select(cands);
      say(absl::StrCat("selection '", o.select, "' chose nothing; using the most accurate candidate"));
    }
    std::vector<std::string> names;
    for (int i : chosen) names.push_back(pool[i]->kind->name);
    if (names == last_members) return absl::OkStatus();
    std::vector<const std::vector<float>*> proba;
    for (int i : chosen) proba.push_back(&pool[i]->trial.val_proba);
    const Scored scored = score_subset(chosen);
    const std::vector<double>& weights = scored.weights;
    const Weighting weighting = scored.weighting;
    double val_acc = scored.accuracy;
    BundleContents contents;
    contents.class_names = data.class_names;
    contents.feature_names = data.feature_names;
    contents.num_features = static_cast<int>(data.cols);
    contents.shape = data.shape;
    contents.preprocess = pre.get();
    for (size_t j = 0; j < chosen.size(); ++j) {
      const KindBest& c = *pool[chosen[j]];
      contents.members.push_back(BundleMember{c.kind, c.trial.params, c.trial.model.get(),
                                              c.trial.val_accuracy, weights[j], c.trial.fit_s,
                                              c.trial.latency_ms});
    }
    contents.weighting = weighting;
    if (detector) {
      // tau: the two-stage validation accuracy decides; ties favour the
      // lower threshold (more answers from the cheap stage).
      std::vector<float> rows(chosen.size() * static_cast<size_t>(k)), cert(static_cast<size_t>(k));
      std::vector<int> stage2(static_cast<size_t>(n_val));
      for (int64_t i = 0; i < n_val; ++i) {
        for (size_t j = 0; j < proba.size(); ++j) std::copy_n(proba[j]->data() + i * k, k, rows.data() + j * k);
        stage2[i] = Combine(rows.data(), static_cast<int>(proba.size()), k, weights.data(), weighting, cert.data());
      }
      double best_tau = 1.01, best_acc = -1;
      for (double tau : {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01}) {
        int64_t correct = 0;
        for (int64_t i = 0; i < n_val; ++i) {
          const int label = val_background[i] >= tau ? background : stage2[i];
          correct += label == val_y[i];
        }
        const double a = n_val > 0 ? static_cast<double>(correct) / n_val : 0;
        if (a > best_acc + 1e-12) {
          best_acc = a;
          best_tau = tau;
        }
      }
      contents.two_stage = TwoStageSpec{background, best_tau, detector.get()};
      val_acc = best_acc;
      report.background_threshold = best_tau;
    }
    contents.val_accuracy = val_acc;
    contents.data_source = o.data_source;
    contents.selection = o.select;
    if (report.versions.empty()) {
      MLIOT_RETURN_IF_ERROR(WriteBundleData(o.out_dir, "train", data));
    }
    MLIOT_ASSIGN_OR_RETURN(int64_t version, WriteBundleVersion(o.out_dir, contents));
    last_members = names;
    report.bundle_version = version;
    report.val_accuracy = val_acc;
    report.weighting = WeightingName(weighting);
    report.members.clear();
    for (const BundleMember& m : contents.members) {
      report.members.push_back({m.kind->name, m.params, m.val_accuracy, m.fit_s, m.latency_ms});
    }
    report.versions.push_back({version, elapsed(), names, val_acc});
    say(absl::StrFormat("published version %d: %s (validation accuracy %.4f, %s vote)", version,
                        absl::StrJoin(names, ", "), val_acc, WeightingName(weighting)));
    return absl::OkStatus();
  };

  say(absl::StrFormat("training %d kinds on %d workers: budget %.0fs, time bound %.0fs, hpo %s",
                      kinds.size(), workers, o.budget_s, time_bound, o.hpo));
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(worker, i);
  absl::Status publish_status;
  bool v1_done = false;
  while (running.load() > 0 && publish_status.ok()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    const double now = elapsed();
    absl::MutexLock lock(&mu);
    if (!v1_done && now >= time_bound) {
      // Version 1 holds what finished by T; if nothing had, the first to finish.
      bool any_by_t = false;
      for (const auto& [name, kept] : best) {
        for (const KindBest& c : kept) any_by_t = any_by_t || c.done_at <= time_bound;
      }
      publish_status = publish(any_by_t ? time_bound : now);
      v1_done = !report.versions.empty();
    } else if (v1_done) {
      if (!scheduler.TakeFinished(deadline.RemainingSeconds()).empty()) publish_status = publish(now);
    }
  }
  for (std::thread& t : threads) t.join();
  MLIOT_RETURN_IF_ERROR(publish_status);
  {
    absl::MutexLock lock(&mu);
    if (best.empty()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no model finished within the budget of ", o.budget_s, "s; raise --budget-s"));
    }
    MLIOT_RETURN_IF_ERROR(publish(elapsed()));
    report.trials = trials_done;
    for (const auto& [name, kept] : best) {
      const KindBest& c = kept.front();
      report.candidates.push_back({name, c.trial.params, c.trial.val_accuracy, c.trial.fit_s, c.trial.latency_ms});
    }
  }
  report.elapsed_s = elapsed();
  return report;
}

}  // namespace mliot
