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
#include "train/ensemble_builder.h"
#include "train/folds.h"
#include "train/reducer_choice.h"
#include "train/scheduler.h"
#include "train/trial.h"

namespace mliot {
namespace {

// One of the best trials of a kind so far, with when it completed. With
// cross-validation the trial has no model; `refit` holds the model fitted on
// all rows once the candidate is first published.
struct KindBest {
  TrialResult trial;
  const ModelKind* kind = nullptr;
  double done_at = 0;  // seconds since the start of training
  std::unique_ptr<Model> refit;
  const Model* model() const { return refit ? refit.get() : trial.model.get(); }
};

// Data sets up to this many rows are cross-validated by default.
constexpr int64_t kCrossValidateBelowRows = 3000;

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
  if (o.cv_folds < 0 || o.cv_folds == 1 || o.cv_folds > 20) {
    return absl::InvalidArgumentError(absl::StrCat("--cv must be 0 (auto), or 2 to 20 folds, got ", o.cv_folds));
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
  if (o.scale != "auto" && o.scale != "feature" && o.scale != "global") {
    return absl::InvalidArgumentError(absl::StrCat("--scale '", o.scale, "': valid: auto, feature, global"));
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
  const int n_folds = o.cv_folds > 1 ? o.cv_folds : (data.rows < kCrossValidateBelowRows ? 5 : 1);
  // Trials stop early enough to publish the last version within the budget;
  // cross-validated members are re-fitted on all rows then, which needs more.
  const double reserve_s = n_folds > 1 ? 0.15 * o.budget_s : std::min(3.0, 0.04 * o.budget_s);
  const Deadline deadline(clock_, t0 + o.budget_s - reserve_s);
  const double time_bound = std::min(o.time_bound_s.value_or(o.budget_s), o.budget_s);
  const int workers = o.threads > 0 ? o.threads : ThreadPool::DefaultSize();
  const double trial_limit = o.trial_limit_s > 0 ? o.trial_limit_s : 0.75 * o.budget_s;
  const int k = data.num_classes();
  const SelectionPolicy policy = *SelectionPolicy::Parse(o.select);

  // ---- validation folds
  Folds folds = Folds::Make(data, n_folds, o.val_fraction, o.seed);
  const std::vector<int32_t>& eval_y = folds.eval_y();
  if (folds.cross_validated()) {
    say(absl::StrFormat("%d rows x %d features, %d classes: %d-fold cross-validation", data.rows,
                        data.cols, k, n_folds));
  } else {
    say(absl::StrFormat("%d rows x %d features, %d classes: %d train / %d validation", data.rows,
                        data.cols, k, folds.fold(0).train_rows.size(), folds.fold(0).val_rows.size()));
  }

  // ---- preprocess
  const Fold& first = folds.fold(0);
  ReducerChoiceInput choice_in{first.train_raw.data(), first.train_y.data(),
                               static_cast<int64_t>(first.train_rows.size()), first.val_raw.data(),
                               first.val_y.data(), static_cast<int64_t>(first.val_rows.size()),
                               data.cols, k, data.shape.has_value(), data.shape ? data.shape->height : 0,
                               data.shape ? data.shape->width : 0, o.seed, workers};
  // The automatic choices get at most a quarter of the budget: on a slow
  // device (a small CPU quota) their proxies could otherwise use all of it
  // and leave no time for a single model.
  const Deadline choice_deadline(clock_, t0 + std::min(0.25 * o.budget_s, o.budget_s - reserve_s));
  const PreprocessChoice prep = ChoosePreprocessing(choice_in, o.scale, o.reduce, choice_deadline, say);
  FitControl pre_control;
  pre_control.seed = o.seed;
  const Dataset pre_rows = data.Subset(folds.preprocess_rows());
  MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Preprocessor> pre,
                         Preprocessor::Fit(pre_rows.features.data(), pre_rows.rows, data.cols,
                                           prep.global_scale, prep.reducer, pre_control));
  folds.Reduce(*pre);
  const int64_t r = pre->out_dim();
  // Every row reduced, for re-fitting on all rows; with hold_out_validation
  // every row but fold 0's validation rows, which no version then has seen
  // (guarded promotion compares versions on them, src/lifecycle/).
  const Dataset held_out = o.hold_out_validation && folds.cross_validated() ? data.Subset(first.train_rows) : Dataset{};
  const Dataset& refit = o.hold_out_validation && folds.cross_validated() ? held_out : data;
  std::vector<float> all_red(static_cast<size_t>(refit.rows * r));
  pre->TransformBatch(refit.features.data(), refit.rows, all_red.data());
  const FitInput all_reduced{all_red.data(), refit.rows, r, refit.labels.data(), k, std::nullopt};
  const FitInput all_raw{refit.features.data(), refit.rows, refit.cols, refit.labels.data(), k, refit.shape};
  say(absl::StrCat("preprocessing: ", prep.global_scale ? "global" : "per-feature",
                   " standardisation + ", pre->reducer_spec(), " -> ", r, " features"));

  // ---- two-stage detector (background vs rest), scored like the members
  std::unique_ptr<Model> detector;
  std::vector<float> eval_background;  // P(background) per evaluation row
  std::optional<BackgroundScores> background;
  if (o.background_class) {
    const int bg = static_cast<int>(
        std::find(data.class_names.begin(), data.class_names.end(), *o.background_class) -
        data.class_names.begin());
    MLIOT_ASSIGN_OR_RETURN(const ModelKind* logreg, models_.Find("logreg"));
    auto fit_detector = [&](const FitInput& in) -> absl::StatusOr<std::unique_ptr<Model>> {
      std::vector<int32_t> binary(static_cast<size_t>(in.rows));
      for (int64_t i = 0; i < in.rows; ++i) binary[i] = in.y[i] == bg ? 1 : 0;
      std::unique_ptr<Model> m = logreg->create();
      FitControl c;
      c.seed = o.seed;
      MLIOT_RETURN_IF_ERROR(Annotate(
          m->Fit(FitInput{in.x, in.rows, in.cols, binary.data(), 2, std::nullopt},
                 Params::Defaults(logreg->params), c),
          "two-stage detector"));
      return m;
    };
    for (int f = 0; f < folds.size(); ++f) {
      const SplitData split = folds.Split(f, /*raw=*/false);
      MLIOT_ASSIGN_OR_RETURN(std::unique_ptr<Model> m, fit_detector(split.train));
      std::vector<float> p(static_cast<size_t>(split.val_rows * 2));
      m->PredictProbaBatch(split.val_x, split.val_rows, p.data());
      for (int64_t i = 0; i < split.val_rows; ++i) eval_background.push_back(p[i * 2 + 1]);
      if (!folds.cross_validated()) detector = std::move(m);
    }
    if (folds.cross_validated()) {
      MLIOT_ASSIGN_OR_RETURN(detector, fit_detector(all_reduced));
    }
    background = BackgroundScores{bg, &eval_background};
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
  absl::Status first_failure;  // of the trials, guarded by mu
  // The best trials of each kind (up to kKeepPerKind, best first): the
  // library the ensemble is selected from. Guarded by mu.
  constexpr size_t kKeepPerKind = 3;
  std::map<std::string, std::vector<KindBest>> best;
  std::map<std::string, double> first_fit_s;  // guarded by mu
  int trials_done = 0;                        // guarded by mu
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
        auto first_fit = first_fit_s.find(kind.name);
        if (first_fit != first_fit_s.end()) {
          limit = std::min(limit, std::max(2.0 * first_fit->second, 0.15 * o.budget_s));
        }
      }
      TrialOptions to;
      to.deadline = deadline.Min(Deadline::In(clock_, limit));
      to.threads = 1;
      to.seed = o.seed + static_cast<uint64_t>(id);
      to.scratch_dir = scratch;
      to.clock = clock_;
      absl::StatusOr<TrialResult> result = RunFoldedTrial(kind, ticket->params, folds, to);
      if (!result.ok()) {
        scheduler.Report(*ticket, -1, deadline.RemainingSeconds() < 0 ? 0 : limit);
        say(absl::StrCat("trial ", kind.name, " failed: ", result.status().message()));
        absl::MutexLock lock(&mu);
        if (first_failure.ok()) first_failure = result.status();
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
      kept.push_back(KindBest{*std::move(result), &kind, elapsed(), nullptr});
      std::stable_sort(kept.begin(), kept.end(), [](const KindBest& a, const KindBest& b) {
        return a.trial.val_accuracy > b.trial.val_accuracy;
      });
      if (kept.size() > kKeepPerKind) kept.pop_back();
    }
    running.fetch_sub(1);
  };

  // ---- publishing (called with mu held)
  TrainReport report;
  report.reduce = pre->reducer_spec();
  report.scale = prep.global_scale ? "global" : "feature";
  std::vector<std::string> last_members;
  auto publish = [&](double cutoff_s) -> absl::Status {
    std::vector<KindBest*> pool;
    for (auto& [name, kept] : best) {
      for (KindBest& c : kept) {
        if (c.done_at <= cutoff_s) pool.push_back(&c);
      }
    }
    if (pool.empty()) return absl::OkStatus();
    std::vector<CandidateScores> scores;
    for (const KindBest* c : pool) {
      scores.push_back({c->kind->name, c->trial.val_accuracy, c->trial.latency_ms, &c->trial.val_proba});
    }
    const EnsembleChoice choice = ChooseEnsemble(policy, scores, eval_y, k, o.weighting, background);
    if (choice.fell_back) {
      say(absl::StrCat("selection '", o.select, "' chose nothing; using the most accurate candidate"));
    }
    std::vector<std::string> names;
    for (int i : choice.members) names.push_back(pool[i]->kind->name);
    if (names == last_members) return absl::OkStatus();
    // Cross-validated candidates are re-fitted on all rows once, when first
    // published.
    for (int i : choice.members) {
      KindBest& c = *pool[i];
      if (c.model() != nullptr) continue;
      const double start = clock_->NowSeconds();
      std::unique_ptr<Model> m = c.kind->create();
      FitControl control;
      control.seed = o.seed;
      control.threads = workers;
      MLIOT_RETURN_IF_ERROR(Annotate(m->Fit(c.kind->needs_image ? all_raw : all_reduced, c.trial.params, control),
                                     absl::StrCat("re-fitting ", c.kind->name, " on all rows")));
      c.refit = std::move(m);
      say(absl::StrFormat("re-fitted %s on all %d rows in %.1fs", c.kind->name, refit.rows,
                          clock_->NowSeconds() - start));
    }
    BundleContents contents;
    contents.class_names = data.class_names;
    contents.feature_names = data.feature_names;
    contents.num_features = static_cast<int>(data.cols);
    contents.shape = data.shape;
    contents.preprocess = pre.get();
    for (size_t j = 0; j < choice.members.size(); ++j) {
      const KindBest& c = *pool[choice.members[j]];
      contents.members.push_back(BundleMember{c.kind, c.trial.params, c.model(), c.trial.val_accuracy,
                                              choice.weights[j], c.trial.fit_s, c.trial.latency_ms});
    }
    contents.weighting = choice.weighting;
    if (detector) {
      contents.two_stage = TwoStageSpec{background->background_class, choice.threshold, detector.get()};
      report.background_threshold = choice.threshold;
    }
    contents.val_accuracy = choice.val_accuracy;
    contents.data_source = o.data_source;
    contents.selection = o.select;
    contents.featurizer = o.featurizer;
    if (report.versions.empty()) {
      // Fold 0's validation rows are kept apart: adaptation can then leave
      // them out, and a guarded promotion compares versions on rows neither
      // was fitted on (src/lifecycle/).
      MLIOT_RETURN_IF_ERROR(WriteBundleData(o.out_dir, "train", data.Subset(folds.fold(0).train_rows)));
      MLIOT_RETURN_IF_ERROR(WriteBundleData(o.out_dir, "validation", data.Subset(folds.fold(0).val_rows)));
    }
    contents.origin = absl::StrCat("lazy ", report.versions.size() + 1);
    contents.parent = report.versions.empty() ? 0 : report.bundle_version;
    MLIOT_ASSIGN_OR_RETURN(int64_t version, WriteBundleVersion(o.out_dir, contents));
    last_members = names;
    report.bundle_version = version;
    report.val_accuracy = choice.val_accuracy;
    report.weighting = WeightingName(choice.weighting);
    report.members.clear();
    for (const BundleMember& m : contents.members) {
      report.members.push_back({m.kind->name, m.params, m.val_accuracy, m.fit_s, m.latency_ms});
    }
    report.versions.push_back({version, elapsed(), names, choice.val_accuracy});
    say(absl::StrFormat("published version %d: %s (validation accuracy %.4f, %s vote)", version,
                        absl::StrJoin(names, ", "), choice.val_accuracy, WeightingName(choice.weighting)));
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
    if (best.empty() && !first_failure.ok()) {
      // Nothing trained and something failed: say what, not "too slow".
      return absl::Status(first_failure.code(), absl::StrCat("no model trained; a trial failed: ",
                                                             first_failure.message()));
    }
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
  report.cross_validation_folds = folds.cross_validated() ? folds.size() : 0;
  report.elapsed_s = elapsed();
  return report;
}

}  // namespace mliot
