// Guarded promotion: is a new version (the shadow) not worse than the one
// serving? A paired non-inferiority test on rows both versions answered:
//
//   d   = acc(shadow) - acc(serving) = (b - c) / n
//   se  = sqrt((b + c) / n - d^2) / sqrt(n)
//
// where b counts rows only the shadow got right and c rows only the serving
// version got right (McNemar's discordant pairs). One-sided at 95 %
// (z = 1.645) with a non-inferiority margin m = 0.02:
//
//   worse         d + z se < -m   (the shadow is worse by more than m)
//   not worse     d - z se > -m   (it is at most m worse)
//
// on two sets of evidence: the held-back validation rows the task's training
// kept apart (DIR/data/validation, which no version of a guarded task is
// fitted on), available at once, and the labelled feedback that arrives
// after the shadow was loaded. Feedback may be wrong or malicious; the
// validation rows are the task's own. Decision:
//
//   retire    when either set (with >= min_rows rows) says worse;
//   promote   when the validation rows say not worse and the feedback either
//             says not worse or has fewer than min_rows rows (without
//             min_rows validation rows, the feedback alone decides);
//   wait      otherwise, for more feedback. When none has arrived for
//             settle_s (or after max_wait_s in all), the evidence there is
//             decides on its point estimates: promote when every set with
//             min_rows rows has d > -m, else retire. A few hundred
//             validation rows rarely settle a 2-point margin at 95 % when
//             the versions are close; a poisoned version is far worse and is
//             retired at once.
#ifndef MLIOT_LIFECYCLE_PROMOTION_H_
#define MLIOT_LIFECYCLE_PROMOTION_H_

#include <cstdint>
#include <string>

namespace mliot {

struct PairedCounts {
  int64_t rows = 0;
  int64_t serving_correct = 0;
  int64_t shadow_correct = 0;
  int64_t only_shadow = 0;   // b
  int64_t only_serving = 0;  // c
  void Add(bool serving_right, bool shadow_right);
};

struct PromotionRule {
  double margin = 0.02;
  double z = 1.645;
  int64_t min_rows = 30;
  double settle_s = 10;    // no new evidence for this long: decide on the point estimates
  double max_wait_s = 600;
};

enum class Verdict { kWait, kPromote, kRetire };

struct Decision {
  Verdict verdict = Verdict::kWait;
  std::string why;  // for the event: the accuracies, n, the bound
};

// `waited_s`: how long the shadow has been evaluated; `idle_s`: since the
// last evidence arrived (its start, or the last feedback call).
Decision DecidePromotion(const PairedCounts& validation, const PairedCounts& feedback, double waited_s,
                         double idle_s, const PromotionRule& rule = PromotionRule{});

}  // namespace mliot

#endif  // MLIOT_LIFECYCLE_PROMOTION_H_
