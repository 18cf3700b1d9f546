#include "lifecycle/promotion.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace mliot {

void PairedCounts::Add(bool serving_right, bool shadow_right) {
  ++rows;
  serving_correct += serving_right;
  shadow_correct += shadow_right;
  only_shadow += shadow_right && !serving_right;
  only_serving += serving_right && !shadow_right;
}

namespace {

struct Bounds {
  double d = 0, lo = 0, hi = 0;
};

Bounds Interval(const PairedCounts& c, double z) {
  const double n = static_cast<double>(c.rows);
  Bounds b;
  b.d = static_cast<double>(c.only_shadow - c.only_serving) / n;
  const double var = std::max(0.0, static_cast<double>(c.only_shadow + c.only_serving) / n - b.d * b.d);
  const double se = std::sqrt(var / n);
  b.lo = b.d - z * se;
  b.hi = b.d + z * se;
  return b;
}

std::string Describe(const char* what, const PairedCounts& c, const Bounds& b) {
  const double n = static_cast<double>(c.rows);
  return absl::StrFormat("%s: shadow %.3f vs serving %.3f on %d rows (difference %+.3f, 95%% bounds %+.3f..%+.3f)",
                         what, c.shadow_correct / n, c.serving_correct / n, c.rows, b.d, b.lo, b.hi);
}

}  // namespace

Decision DecidePromotion(const PairedCounts& validation, const PairedCounts& feedback, double waited_s,
                         double idle_s, const PromotionRule& rule) {
  const bool have_val = validation.rows >= rule.min_rows;
  const bool have_fb = feedback.rows >= rule.min_rows;
  const Bounds v = have_val ? Interval(validation, rule.z) : Bounds{};
  const Bounds f = have_fb ? Interval(feedback, rule.z) : Bounds{};
  if (have_val && v.hi < -rule.margin) {
    return {Verdict::kRetire, absl::StrFormat("worse by more than %.2f on %s", rule.margin,
                                              Describe("validation rows", validation, v))};
  }
  if (have_fb && f.hi < -rule.margin) {
    return {Verdict::kRetire, absl::StrFormat("worse by more than %.2f on %s", rule.margin,
                                              Describe("later feedback", feedback, f))};
  }
  const bool val_ok = have_val && v.lo > -rule.margin;
  const bool fb_ok = !have_fb || f.lo > -rule.margin;
  // Without enough validation rows (a tiny data set), the later feedback alone decides.
  if ((have_val ? val_ok : have_fb) && fb_ok) {
    std::string why = have_val ? Describe("validation rows", validation, v) : "";
    if (have_fb) why += (why.empty() ? "" : "; ") + Describe("later feedback", feedback, f);
    return {Verdict::kPromote, absl::StrFormat("not worse by more than %.2f: %s", rule.margin, why)};
  }
  if ((have_val || have_fb) && (idle_s >= rule.settle_s || waited_s >= rule.max_wait_s)) {
    // Inconclusive at 95 %, and no more evidence is coming: the point estimates decide.
    std::string why = have_val ? Describe("validation rows", validation, v) : "";
    if (have_fb) why += (why.empty() ? "" : "; ") + Describe("later feedback", feedback, f);
    const bool not_worse = (!have_val || v.d > -rule.margin) && (!have_fb || f.d > -rule.margin);
    return {not_worse ? Verdict::kPromote : Verdict::kRetire,
            absl::StrFormat("inconclusive at 95%% after %.0fs; point estimate %s than -%.2f: %s", waited_s,
                            not_worse ? "no worse" : "worse", rule.margin, why)};
  }
  if (waited_s >= rule.max_wait_s) {
    return {Verdict::kRetire, absl::StrFormat("no evidence within %.0fs (%d validation rows, %d feedback rows)",
                                              rule.max_wait_s, validation.rows, feedback.rows)};
  }
  return {Verdict::kWait, ""};
}

}  // namespace mliot
