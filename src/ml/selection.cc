#include "ml/selection.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mliot {

namespace {

bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }
bool IsIdentStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNumberStart(char c) {
  return absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '+' || c == '-';
}
bool IsNonAscii(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// Text safe to put on one line: control characters become ' ' (whitespace)
// or '?', byte for byte, so columns still line up with the user's text.
std::string OneLine(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = IsSpace(c) ? ' ' : '?';
  }
  return out;
}

}  // namespace

// Recursive-descent parser over the raw text; `pos_` is a byte offset. A
// friend of SelectionPolicy, so it builds the private clause list directly.
class SelectionPolicyParser {
 public:
  using Op = SelectionPolicy::Op;
  using Clause = SelectionPolicy::Clause;

  explicit SelectionPolicyParser(absl::string_view text) : text_(text) {}

  absl::Status Parse(std::vector<Clause>* clauses) {
    SkipSpace();
    if (AtEnd()) {
      return Error(
          absl::StrCat("empty policy at column ", Column(pos_),
                       "; expected a clause, e.g. 'min_accuracy(0.8) and lowest_latency(3)'"));
    }
    while (true) {
      absl::Status s = ParseClause(clauses);
      if (!s.ok()) return s;
      SkipSpace();
      if (AtEnd()) return absl::OkStatus();
      const size_t at = pos_;
      const absl::string_view word = TokenAt(at);
      if (word == "and") {
        pos_ += word.size();
        SkipSpace();
        if (AtEnd()) {
          return Error(
              absl::StrCat("nothing after 'and' at column ", Column(at), "; expected a clause"));
        }
        continue;
      }
      if (word == "or") return OrError(at);
      return Error(absl::StrCat("unexpected '", OneLine(word), "' at column ", Column(at),
                                "; expected 'and' or end of policy"));
    }
  }

 private:
  enum class ArgKind { kNone, kPositiveInt, kUnitInterval, kPositiveNumber };

  static const char* Requirement(ArgKind kind) {
    switch (kind) {
      case ArgKind::kPositiveInt:
        return "an integer >= 1";
      case ArgKind::kUnitInterval:
        return "a number between 0 and 1";
      case ArgKind::kPositiveNumber:
        return "a number > 0";
      case ArgKind::kNone:
        break;
    }
    return "no argument";
  }

  absl::Status ParseClause(std::vector<Clause>* clauses) {
    const size_t name_at = pos_;
    if (!IsIdentStart(text_[pos_])) {
      return Error(absl::StrCat("expected a function name, got ", Got(name_at)));
    }
    const absl::string_view name = TokenAt(name_at);
    pos_ += name.size();
    if (name == "and") {
      return Error(absl::StrCat("expected a clause before 'and' at column ", Column(name_at)));
    }
    if (name == "or") return OrError(name_at);
    const Function* f = FindFunction(name);
    if (f == nullptr) {
      std::string msg = absl::StrCat("unknown function '", name, "' at column ", Column(name_at),
                                     "; known: ", KnownFunctions());
      const std::string lower = absl::AsciiStrToLower(name);
      if (lower != name && FindFunction(lower) != nullptr) {
        absl::StrAppend(&msg, " (names are case-sensitive: did you mean '", lower, "'?)");
      }
      return Error(msg);
    }
    SkipSpace();
    if (f->arg == ArgKind::kNone) {
      if (!AtEnd() && text_[pos_] == '(') {
        return Error(absl::StrCat(name, " takes no argument, got '(' at column ", Column(pos_)));
      }
      clauses->push_back({f->op, 0});
      return absl::OkStatus();
    }
    if (AtEnd() || text_[pos_] != '(') {
      return Error(absl::StrCat("expected '(' after '", name, "', got ", Got(pos_)));
    }
    ++pos_;
    SkipSpace();
    const size_t arg_at = pos_;
    const absl::string_view arg = AtEnd() ? absl::string_view() : TokenAt(arg_at);
    double value = 0;
    if (!ParseArg(f->arg, arg, &value)) {
      return Error(absl::StrCat(name, " needs ", Requirement(f->arg), ", got ", Got(arg_at)));
    }
    pos_ += arg.size();
    SkipSpace();
    if (AtEnd() || text_[pos_] != ')') {
      return Error(absl::StrCat("expected ')' after the argument of ", name, ", got ", Got(pos_)));
    }
    ++pos_;
    clauses->push_back({f->op, value});
    return absl::OkStatus();
  }

  static bool ParseArg(ArgKind kind, absl::string_view token, double* value) {
    if (token.empty()) return false;
    if (kind == ArgKind::kPositiveInt) {
      int k = 0;
      if (!absl::SimpleAtoi(token, &k) || k < 1) return false;
      *value = k;
      return true;
    }
    double x = 0;
    if (!IsNumberStart(token[0]) || !absl::SimpleAtod(token, &x) || !std::isfinite(x)) {
      return false;
    }
    if (kind == ArgKind::kUnitInterval && !(x >= 0 && x <= 1)) return false;
    if (kind == ArgKind::kPositiveNumber && !(x > 0)) return false;
    *value = x;
    return true;
  }

  // The token starting at `at` (which must be < size): an identifier, a
  // number-like run, a run of non-ASCII bytes, or a single character.
  absl::string_view TokenAt(size_t at) const {
    size_t end = at + 1;
    const char c = text_[at];
    if (IsIdentStart(c)) {
      while (end < text_.size() && IsIdentChar(text_[end])) ++end;
    } else if (IsNumberStart(c)) {
      while (end < text_.size() && (IsIdentChar(text_[end]) || IsNumberStart(text_[end]))) {
        ++end;
      }
    } else if (IsNonAscii(c)) {
      while (end < text_.size() && IsNonAscii(text_[end])) ++end;
    }
    return text_.substr(at, end - at);
  }

  // "'tok' at column N" or "end of policy at column N".
  std::string Got(size_t at) const {
    if (at >= text_.size()) return absl::StrCat("end of policy at column ", Column(at));
    return absl::StrCat("'", OneLine(TokenAt(at)), "' at column ", Column(at));
  }

  absl::Status OrError(size_t at) const {
    return Error(absl::StrCat("'or' at column ", Column(at),
                              " is not supported; clauses are combined with 'and', e.g. "
                              "'min_accuracy(0.8) and lowest_latency(3)'"));
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("policy '", OneLine(text_), "': ", what));
  }

  static size_t Column(size_t at) { return at + 1; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }

  // One policy function. Synonyms share an op but are not listed in "known:".
  struct Function {
    absl::string_view name;
    Op op;
    ArgKind arg;
    bool synonym;
  };

  // The registry of policy functions, in the order they are listed to users.
  static constexpr Function kFunctions[] = {
      {"top_accuracy", Op::kTopAccuracy, ArgKind::kPositiveInt, false},
      {"lowest_latency", Op::kLowestLatency, ArgKind::kPositiveInt, false},
      {"min_accuracy", Op::kMinAccuracy, ArgKind::kUnitInterval, false},
      {"max_latency_ms", Op::kMaxLatencyMs, ArgKind::kPositiveNumber, false},
      {"within", Op::kWithin, ArgKind::kUnitInterval, false},
      {"greedy", Op::kGreedy, ArgKind::kPositiveInt, false},
      {"all", Op::kAll, ArgKind::kNone, false},
      // The paper's wording.
      {"atleast_accuracy", Op::kMinAccuracy, ArgKind::kUnitInterval, true},
      {"atmost_latency_ms", Op::kMaxLatencyMs, ArgKind::kPositiveNumber, true},
  };

  static const Function* FindFunction(absl::string_view name) {
    for (const Function& f : kFunctions) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  static std::string KnownFunctions() {
    std::string out;
    for (const Function& f : kFunctions) {
      if (f.synonym) continue;
      absl::StrAppend(&out, out.empty() ? "" : ", ", f.name);
    }
    return out;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

namespace {

// Sort keys that keep the ordering strict-weak even for NaN inputs: a NaN
// accuracy ranks last, a NaN latency counts as infinitely slow.
double AccuracyKey(const Candidate& c) {
  return std::isnan(c.val_accuracy) ? -std::numeric_limits<double>::infinity() : c.val_accuracy;
}
double LatencyKey(const Candidate& c) {
  return std::isnan(c.latency_ms) ? std::numeric_limits<double>::infinity() : c.latency_ms;
}

// Best accuracy first; ties by lower latency, then lower index.
bool AccuracyOrder(const std::vector<Candidate>& cs, int a, int b) {
  const double aa = AccuracyKey(cs[a]), ab = AccuracyKey(cs[b]);
  if (aa != ab) return aa > ab;
  const double la = LatencyKey(cs[a]), lb = LatencyKey(cs[b]);
  if (la != lb) return la < lb;
  return a < b;
}

// Lowest latency first; ties by higher accuracy, then lower index.
bool LatencyOrder(const std::vector<Candidate>& cs, int a, int b) {
  const double la = LatencyKey(cs[a]), lb = LatencyKey(cs[b]);
  if (la != lb) return la < lb;
  const double aa = AccuracyKey(cs[a]), ab = AccuracyKey(cs[b]);
  if (aa != ab) return aa > ab;
  return a < b;
}

}  // namespace

absl::StatusOr<SelectionPolicy> SelectionPolicy::Parse(absl::string_view text) {
  SelectionPolicy policy;
  absl::Status s = SelectionPolicyParser(text).Parse(&policy.clauses_);
  if (!s.ok()) return s;
  policy.text_ = std::string(text);
  return policy;
}

std::vector<int> SelectionPolicy::Select(const std::vector<Candidate>& candidates,
                                         const EnsembleScore& score) const {
  std::vector<int> chosen(candidates.size());
  std::iota(chosen.begin(), chosen.end(), 0);
  const auto by_accuracy = [&](int a, int b) { return AccuracyOrder(candidates, a, b); };
  const auto by_latency = [&](int a, int b) { return LatencyOrder(candidates, a, b); };
  const auto keep_first = [&](double k) {
    if (k < static_cast<double>(chosen.size())) chosen.resize(static_cast<size_t>(k));
  };
  for (const Clause& c : clauses_) {
    switch (c.op) {
      case Op::kTopAccuracy:
        std::sort(chosen.begin(), chosen.end(), by_accuracy);
        keep_first(c.arg);
        break;
      case Op::kLowestLatency:
        std::sort(chosen.begin(), chosen.end(), by_latency);
        keep_first(c.arg);
        break;
      case Op::kMinAccuracy:
        std::erase_if(chosen, [&](int i) { return !(candidates[i].val_accuracy >= c.arg); });
        break;
      case Op::kMaxLatencyMs:
        std::erase_if(chosen, [&](int i) { return !(candidates[i].latency_ms <= c.arg); });
        break;
      case Op::kWithin: {
        double best = -std::numeric_limits<double>::infinity();
        for (int i : chosen) best = std::max(best, AccuracyKey(candidates[i]));
        std::erase_if(chosen, [&](int i) { return !(candidates[i].val_accuracy >= best - c.arg); });
        break;
      }
      case Op::kGreedy: {
        if (!score) {
          std::sort(chosen.begin(), chosen.end(), by_accuracy);
          keep_first(c.arg);
          break;
        }
        // Candidates in accuracy order, so ties go to the more accurate one.
        std::vector<int> pool = chosen;
        std::sort(pool.begin(), pool.end(), by_accuracy);
        std::vector<int> picked;
        double current = -std::numeric_limits<double>::infinity();
        while (static_cast<double>(picked.size()) < c.arg && !pool.empty()) {
          size_t best = 0;
          double best_score = -std::numeric_limits<double>::infinity();
          for (size_t j = 0; j < pool.size(); ++j) {
            std::vector<int> trial = picked;
            trial.push_back(pool[j]);
            const double s = score(trial);
            if (s > best_score + 1e-12) {
              best_score = s;
              best = j;
            }
          }
          // A member must raise the score by a little (0.1 % of it), or it
          // only adds latency.
          const double min_gain = 1e-3 * std::max(std::abs(current), 1e-3);
          if (!picked.empty() && !(best_score > current + min_gain)) break;
          picked.push_back(pool[best]);
          current = best_score;
          pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(best));
        }
        chosen = picked;
        break;
      }
      case Op::kAll:
        break;
    }
  }
  std::sort(chosen.begin(), chosen.end(), by_accuracy);
  return chosen;
}

}  // namespace mliot
