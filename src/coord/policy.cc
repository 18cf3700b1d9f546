#include "coord/policy.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"
#include "coord/policy_lexer.h"

namespace mliot {
namespace {

using policy_internal::Describe;
using policy_internal::Lexer;
using policy_internal::Token;

// ---------------------------------------------------------------------------
// Attributes

enum class ValueType { kNumber, kBool, kString, kLabel };  // kLabel: a string known at run time

// A node attribute a policy can name, and how to read it.
struct AttributeInfo {
  const char* name;
  ValueType type;  // what `get` returns: double, bool or std::string
  bool rankable;   // usable in prefer max()/min()
  PolicyValue (*get)(const NodeView&);
};

using V = PolicyValue;
using N = const NodeView&;

// The order here is the order error messages list the names in.
const AttributeInfo kAttributes[] = {
    {"cores", ValueType::kNumber, true, [](N n) -> V { return static_cast<double>(n.cores); }},
    {"memory_mb", ValueType::kNumber, true, [](N n) -> V { return n.memory_mb; }},
    {"gpu", ValueType::kBool, true, [](N n) -> V { return n.gpu; }},
    {"arch", ValueType::kString, false, [](N n) -> V { return n.arch; }},
    {"rtt_ms", ValueType::kNumber, true, [](N n) -> V { return n.rtt_ms; }},
    {"cpu", ValueType::kNumber, true, [](N n) -> V { return n.cpu; }},
    {"mem", ValueType::kNumber, true, [](N n) -> V { return n.mem; }},
    {"load", ValueType::kNumber, true, [](N n) -> V { return n.load; }},
    {"free_cpu", ValueType::kNumber, true, [](N n) -> V { return n.free_cpu; }},
    {"latency_ms", ValueType::kNumber, true, [](N n) -> V { return n.latency_ms; }},
    {"train_s", ValueType::kNumber, true, [](N n) -> V { return n.train_s; }},
    {"tasks", ValueType::kNumber, true, [](N n) -> V { return static_cast<double>(n.tasks); }},
    {"alive", ValueType::kBool, false, [](N n) -> V { return n.alive; }},
};

// A number, or a boolean as 0/1 (prefer max(gpu)); strings are 0.
double AsNumber(const PolicyValue& v) {
  if (const double* d = std::get_if<double>(&v)) return *d;
  if (const bool* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  return 0;
}

const AttributeInfo* FindAttribute(absl::string_view name) {
  for (const AttributeInfo& info : kAttributes) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

std::string KnownNames() {
  std::vector<std::string> names;
  for (const AttributeInfo& info : kAttributes) names.push_back(info.name);
  names.push_back("labels.<name>");
  return absl::StrJoin(names, ", ");
}

std::string RankableNames() {
  std::vector<std::string> names;
  for (const AttributeInfo& info : kAttributes) {
    if (info.rankable) names.push_back(info.name);
  }
  return absl::StrJoin(names, ", ");
}

// "4", "84.3", "0.05": integers without a fraction, others with at most three decimals.
std::string FormatNumber(double v) {
  if (!std::isfinite(v)) return absl::StrFormat("%g", v);
  if (v == std::floor(v) && std::abs(v) < 1e15) return absl::StrFormat("%.0f", v);
  if (std::abs(v) < 0.01) return absl::StrFormat("%.3g", v);
  std::string s = absl::StrFormat("%.3f", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// A label used as a condition: present and not "", "false" or "0".
bool LabelTruth(const std::string& value) {
  return !value.empty() && value != "false" && value != "0";
}

bool IsKeyword(absl::string_view s) {
  return s == "and" || s == "or" || s == "not" || s == "true" || s == "false" || s == "atleast" ||
         s == "atmost" || s == "equal";
}

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

std::optional<CompareOp> OpFromToken(const Token& t) {
  if (t.kind == Token::Kind::kOp) {
    if (t.text == "==") return CompareOp::kEq;
    if (t.text == "!=") return CompareOp::kNe;
    if (t.text == "<") return CompareOp::kLt;
    if (t.text == "<=") return CompareOp::kLe;
    if (t.text == ">") return CompareOp::kGt;
    if (t.text == ">=") return CompareOp::kGe;
  }
  if (t.kind == Token::Kind::kName) {
    if (t.text == "atleast") return CompareOp::kGe;
    if (t.text == "atmost") return CompareOp::kLe;
    if (t.text == "equal") return CompareOp::kEq;
  }
  return std::nullopt;
}

// Indexed by CompareOp: how the operator prints, and its negation (for
// "latency_ms 87.3 > 40" when `latency_ms <= 40` fails).
struct OpInfo {
  const char* symbol;
  CompareOp negation;
};
constexpr OpInfo kOps[] = {{"==", CompareOp::kNe}, {"!=", CompareOp::kEq}, {"<", CompareOp::kGe},
                           {"<=", CompareOp::kGt}, {">", CompareOp::kLe},  {">=", CompareOp::kLt}};

const char* OpSymbol(CompareOp op) { return kOps[static_cast<int>(op)].symbol; }
CompareOp Negate(CompareOp op) { return kOps[static_cast<int>(op)].negation; }

bool IsOrdering(CompareOp op) { return op != CompareOp::kEq && op != CompareOp::kNe; }

template <typename T>
bool Apply(CompareOp op, const T& a, const T& b) {
  switch (op) {
    case CompareOp::kEq:
      return a == b;
    case CompareOp::kNe:
      return a != b;
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
  }
  return false;
}

const char* TypeName(ValueType type) {
  switch (type) {
    case ValueType::kNumber:
      return "number";
    case ValueType::kBool:
      return "boolean";
    case ValueType::kString:
      return "string";
    case ValueType::kLabel:
      return "label";
  }
  return "?";
}

constexpr int kMaxDepth = 64;

}  // namespace

// ---------------------------------------------------------------------------
// The expression tree

struct RequireExpr::Node {
  enum class Kind { kLiteral, kAttribute, kLabel, kCompare, kAnd, kOr, kNot };
  Kind kind = Kind::kLiteral;
  ValueType type = ValueType::kBool;
  int column = 1;
  std::string text;  // the node's source text, as written
  PolicyValue literal;
  const AttributeInfo* attribute = nullptr;  // kAttribute
  std::string label;
  CompareOp op = CompareOp::kEq;
  // kCompare: {lhs, rhs}; kAnd / kOr: every operand; kNot: {operand}.
  std::vector<std::unique_ptr<const Node>> children;

  bool is_condition() const { return type == ValueType::kBool || type == ValueType::kLabel; }
};

namespace {

using Node = RequireExpr::Node;
using NodePtr = std::unique_ptr<const Node>;

class Parser {
 public:
  explicit Parser(absl::string_view text) : lexer_("require", text) {}

  absl::StatusOr<NodePtr> Parse() {
    MLIOT_RETURN_IF_ERROR(Advance());
    MLIOT_ASSIGN_OR_RETURN(NodePtr root, ParseOr(0));
    if (cur_.kind != Token::Kind::kEnd) return Unexpected();
    MLIOT_RETURN_IF_ERROR(RequireCondition(*root));
    return root;
  }

 private:
  absl::Status Advance() {
    MLIOT_ASSIGN_OR_RETURN(cur_, lexer_.Next());
    return absl::OkStatus();
  }

  absl::Status Unexpected() const { return lexer_.Unexpected(cur_); }

  absl::Status RequireCondition(const Node& node) const {
    if (node.is_condition()) return absl::OkStatus();
    return lexer_.Error(node.column, absl::StrCat("expected a condition, got ", TypeName(node.type),
                                                  " ", node.text));
  }

  bool AtWord(absl::string_view word) const {
    return cur_.kind == Token::Kind::kName && cur_.text == word;
  }

  std::string Span(int begin, int end) const {
    return std::string(lexer_.text().substr(begin, end - begin));
  }

  // or_expr / and_expr: n-ary nodes, so long chains stay shallow.
  absl::StatusOr<NodePtr> ParseOr(int depth) { return ParseChain(depth, "or", Node::Kind::kOr); }

  absl::StatusOr<NodePtr> ParseChain(int depth, absl::string_view word, Node::Kind kind) {
    const int begin = cur_.begin;
    std::vector<NodePtr> operands;
    while (true) {
      absl::StatusOr<NodePtr> operand =
          kind == Node::Kind::kOr ? ParseChain(depth, "and", Node::Kind::kAnd) : ParseNot(depth);
      if (!operand.ok()) return operand.status();
      operands.push_back(*std::move(operand));
      if (!AtWord(word)) break;
      MLIOT_RETURN_IF_ERROR(Advance());
    }
    if (operands.size() == 1) return std::move(operands.front());
    for (const NodePtr& operand : operands) MLIOT_RETURN_IF_ERROR(RequireCondition(*operand));
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->type = ValueType::kBool;
    node->column = begin + 1;
    node->text = Span(begin, last_end_);
    node->children = std::move(operands);
    return NodePtr(std::move(node));
  }

  absl::StatusOr<NodePtr> ParseNot(int depth) {
    if (!AtWord("not")) return ParseCompare(depth);
    const Token word = cur_;
    if (depth >= kMaxDepth) {
      return lexer_.Error(word.column(), absl::StrCat("nested deeper than ", kMaxDepth));
    }
    MLIOT_RETURN_IF_ERROR(Advance());
    MLIOT_ASSIGN_OR_RETURN(NodePtr operand, ParseNot(depth + 1));
    MLIOT_RETURN_IF_ERROR(RequireCondition(*operand));
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kNot;
    node->type = ValueType::kBool;
    node->column = word.column();
    node->text = Span(word.begin, last_end_);
    node->children.push_back(std::move(operand));
    return NodePtr(std::move(node));
  }

  absl::StatusOr<NodePtr> ParseCompare(int depth) {
    const int begin = cur_.begin;
    MLIOT_ASSIGN_OR_RETURN(NodePtr lhs, ParseOperand(depth));
    const std::optional<CompareOp> op = OpFromToken(cur_);
    if (!op) return lhs;
    const Token op_token = cur_;
    MLIOT_RETURN_IF_ERROR(Advance());
    MLIOT_ASSIGN_OR_RETURN(NodePtr rhs, ParseOperand(depth));
    MLIOT_RETURN_IF_ERROR(CheckComparable(*lhs, *op, op_token, *rhs));
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::kCompare;
    node->type = ValueType::kBool;
    node->column = begin + 1;
    node->text = Span(begin, last_end_);
    node->op = *op;
    node->children.push_back(std::move(lhs));
    node->children.push_back(std::move(rhs));
    return NodePtr(std::move(node));
  }

  absl::Status CheckComparable(const Node& lhs, CompareOp op, const Token& op_token,
                               const Node& rhs) const {
    const bool any_bool = lhs.type == ValueType::kBool || rhs.type == ValueType::kBool;
    if (any_bool && IsOrdering(op)) {
      return lexer_.Error(op_token.column(),
                          absl::StrCat("cannot order booleans with '", op_token.text, "'"));
    }
    if (lhs.type == rhs.type || lhs.type == ValueType::kLabel || rhs.type == ValueType::kLabel) {
      return absl::OkStatus();
    }
    return lexer_.Error(op_token.column(),
                        absl::StrCat("cannot compare ", TypeName(lhs.type), " ", lhs.text, " with ",
                                     TypeName(rhs.type), " ", rhs.text));
  }

  absl::StatusOr<NodePtr> ParseOperand(int depth) {
    const Token t = cur_;
    auto node = std::make_unique<Node>();
    node->column = t.column();
    node->text = t.text;
    switch (t.kind) {
      case Token::Kind::kNumber:
        node->kind = Node::Kind::kLiteral;
        node->type = ValueType::kNumber;
        node->literal = t.number;
        break;
      case Token::Kind::kString:
        node->kind = Node::Kind::kLiteral;
        node->type = ValueType::kString;
        node->literal = t.value;
        break;
      case Token::Kind::kLParen: {
        if (depth >= kMaxDepth) {
          return lexer_.Error(t.column(), absl::StrCat("nested deeper than ", kMaxDepth));
        }
        MLIOT_RETURN_IF_ERROR(Advance());
        MLIOT_ASSIGN_OR_RETURN(NodePtr inner, ParseOr(depth + 1));
        if (cur_.kind != Token::Kind::kRParen) {
          return lexer_.Unexpected(
              cur_, absl::StrCat("; expected ')' to close '(' at column ", t.column()));
        }
        last_end_ = cur_.end;
        MLIOT_RETURN_IF_ERROR(Advance());
        return inner;
      }
      case Token::Kind::kName:
        MLIOT_RETURN_IF_ERROR(ResolveName(t, node.get()));
        break;
      default:
        return Unexpected();
    }
    last_end_ = t.end;
    MLIOT_RETURN_IF_ERROR(Advance());
    return NodePtr(std::move(node));
  }

  absl::Status ResolveName(const Token& t, Node* node) const {
    if (t.text == "true" || t.text == "false") {
      node->kind = Node::Kind::kLiteral;
      node->type = ValueType::kBool;
      node->literal = t.text == "true";
      return absl::OkStatus();
    }
    if (IsKeyword(t.text)) return Unexpected();
    const size_t dot = t.text.find('.');
    if (dot == std::string::npos) {
      if (t.text == "labels") {
        return lexer_.Error(t.column(), "'labels' needs a label name, e.g. labels.locality,");
      }
      if (const AttributeInfo* info = FindAttribute(t.text)) {
        node->kind = Node::Kind::kAttribute;
        node->type = info->type;
        node->attribute = info;
        return absl::OkStatus();
      }
      node->kind = Node::Kind::kLabel;
      node->type = ValueType::kLabel;
      node->label = t.text;
      return absl::OkStatus();
    }
    if (t.text.substr(0, dot) == "labels") {
      node->kind = Node::Kind::kLabel;
      node->type = ValueType::kLabel;
      node->label = t.text.substr(dot + 1);
      return absl::OkStatus();
    }
    return lexer_.Error(t.column(), absl::StrCat("unknown name '", t.text, "'"),
                        absl::StrCat("; known: ", KnownNames()));
  }

  Lexer lexer_;
  Token cur_;
  int last_end_ = 0;  // end offset of the last token consumed into a node
};

// ---------------------------------------------------------------------------
// Evaluation

// One side of a comparison, evaluated for one node.
struct Operand {
  ValueType type = ValueType::kNumber;  // kLabel for labels, whatever they hold
  double number = 0;
  bool flag = false;
  std::string str;
  bool missing = false;  // a label the node does not have
  std::string label;     // the label's name, for "no label 'x'"
  std::string desc;      // "cores 4", "locality 'cloud'", "40", "(gpu or cores > 8) true"
};

bool EvalCondition(const Node& node, const NodeView& view, std::string* why);

// `describe`: fill `label` and `desc`, which only an explanation needs
// (placement evaluates every node, and explains only the rejected ones).
Operand EvalOperand(const Node& node, const NodeView& view, bool describe) {
  Operand out;
  out.type = node.type;
  switch (node.kind) {
    case Node::Kind::kLiteral:
    case Node::Kind::kAttribute: {
      const bool literal = node.kind == Node::Kind::kLiteral;
      PolicyValue value = literal ? node.literal : node.attribute->get(view);
      std::string shown;
      if (const double* d = std::get_if<double>(&value)) {
        out.number = *d;
        if (describe) shown = FormatNumber(*d);
      } else if (const bool* b = std::get_if<bool>(&value)) {
        out.flag = *b;
        if (describe) shown = *b ? "true" : "false";
      } else {
        out.str = std::move(std::get<std::string>(value));
        if (describe) shown = absl::StrCat("'", out.str, "'");
      }
      if (describe) out.desc = literal ? node.text : absl::StrCat(node.text, " ", shown);
      return out;
    }
    case Node::Kind::kLabel: {
      const auto it = view.labels->find(node.label);
      out.missing = it == view.labels->end();
      if (!out.missing) out.str = it->second;
      if (describe) {
        out.label = node.label;
        out.desc = absl::StrCat(node.text, " '", out.str, "'");
      }
      return out;
    }
    default:
      out.flag = EvalCondition(node, view, nullptr);
      if (describe) out.desc = absl::StrCat("(", node.text, ")", out.flag ? " true" : " false");
      return out;
  }
}

bool EvalCompare(const Node& node, const NodeView& view, std::string* why) {
  Operand a = EvalOperand(*node.children[0], view, why != nullptr);
  Operand b = EvalOperand(*node.children[1], view, why != nullptr);
  const Operand* missing = a.missing ? &a : (b.missing ? &b : nullptr);
  auto no_label = [&](const Operand& o) {
    if (why != nullptr) *why = absl::StrCat("no label '", o.label, "'");
  };
  bool result = false;
  if (a.type == ValueType::kBool || b.type == ValueType::kBool) {
    // A label compared with a boolean is its truth; a missing label is false.
    for (Operand* o : {&a, &b}) {
      if (o->type == ValueType::kLabel) o->flag = LabelTruth(o->str);
    }
    result = Apply(node.op, a.flag, b.flag);
  } else if (a.type == ValueType::kNumber || b.type == ValueType::kNumber) {
    if (missing != nullptr) {
      no_label(*missing);
      return false;
    }
    // A label compared with a number must hold a number ("floor=2").
    for (Operand* o : {&a, &b}) {
      if (o->type != ValueType::kLabel) continue;
      if (!absl::SimpleAtod(o->str, &o->number) || !std::isfinite(o->number)) {
        if (why != nullptr) *why = absl::StrCat(o->desc, " is not a number");
        return false;
      }
    }
    result = Apply(node.op, a.number, b.number);
  } else {
    result = Apply(node.op, a.str, b.str);  // strings and labels; a missing label is ""
  }
  if (why != nullptr) {
    if (missing != nullptr) {
      no_label(*missing);
    } else {
      *why = absl::StrCat(a.desc, " ", OpSymbol(result ? node.op : Negate(node.op)), " ", b.desc);
    }
  }
  return result;
}

// Evaluates a condition; `why` (if given) explains the outcome, true or false.
bool EvalCondition(const Node& node, const NodeView& view, std::string* why) {
  switch (node.kind) {
    case Node::Kind::kCompare:
      return EvalCompare(node, view, why);
    case Node::Kind::kAnd: {
      std::vector<std::string> reasons;
      for (const NodePtr& child : node.children) {
        std::string reason;
        if (!EvalCondition(*child, view, why != nullptr ? &reason : nullptr)) {
          if (why != nullptr) *why = std::move(reason);
          return false;
        }
        if (why != nullptr) reasons.push_back(std::move(reason));
      }
      if (why != nullptr) *why = absl::StrJoin(reasons, " and ");
      return true;
    }
    case Node::Kind::kOr: {
      std::vector<std::string> reasons;
      for (const NodePtr& child : node.children) {
        std::string reason;
        if (EvalCondition(*child, view, why != nullptr ? &reason : nullptr)) {
          if (why != nullptr) *why = std::move(reason);
          return true;
        }
        if (why != nullptr) reasons.push_back(std::move(reason));
      }
      if (why != nullptr) *why = absl::StrJoin(reasons, " and ");
      return false;
    }
    case Node::Kind::kNot: {
      std::string reason;
      const bool inner = EvalCondition(*node.children[0], view, why != nullptr ? &reason : nullptr);
      if (why != nullptr) *why = absl::StrCat("not (", reason, ")");
      return !inner;
    }
    case Node::Kind::kLabel: {
      const auto it = view.labels->find(node.label);
      if (it == view.labels->end()) {
        if (why != nullptr) *why = absl::StrCat("no label '", node.label, "'");
        return false;
      }
      const bool truth = LabelTruth(it->second);
      if (why != nullptr) {
        *why = absl::StrCat(node.text, " '", it->second, "' is ", truth ? "true" : "false");
      }
      return truth;
    }
    case Node::Kind::kAttribute: {
      const bool truth = AsNumber(node.attribute->get(view)) != 0;
      if (why != nullptr) *why = absl::StrCat(node.text, " is ", truth ? "true" : "false");
      return truth;
    }
    case Node::Kind::kLiteral: {
      const bool* b = std::get_if<bool>(&node.literal);
      const bool truth = b != nullptr && *b;
      if (why != nullptr) *why = truth ? "true" : "false";
      return truth;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<RequireExpr> RequireExpr::Parse(absl::string_view text) {
  RequireExpr expr;
  expr.text_ = std::string(text);
  if (absl::StripAsciiWhitespace(text).empty()) return expr;
  Parser parser(text);
  MLIOT_ASSIGN_OR_RETURN(NodePtr root, parser.Parse());
  expr.root_ = std::shared_ptr<const Node>(std::move(root));
  return expr;
}

bool RequireExpr::Matches(const NodeView& node, std::string* why) const {
  if (root_ == nullptr) return true;
  std::string reason;
  const bool ok = EvalCondition(*root_, node, why != nullptr ? &reason : nullptr);
  if (!ok && why != nullptr) *why = std::move(reason);
  return ok;
}

// ---------------------------------------------------------------------------
// prefer

absl::StatusOr<PreferRule> PreferRule::Parse(absl::string_view text) {
  PreferRule rule;
  rule.text_ = std::string(text);
  Lexer lexer("prefer", text);
  MLIOT_ASSIGN_OR_RETURN(Token t, lexer.Next());
  if (t.kind == Token::Kind::kEnd) return rule;
  if (t.kind == Token::Kind::kName && t.text == "best_effort") {
    MLIOT_ASSIGN_OR_RETURN(Token end, lexer.Next());
    if (end.kind != Token::Kind::kEnd) return lexer.Unexpected(end);
    return rule;
  }
  if (t.kind != Token::Kind::kName || (t.text != "max" && t.text != "min")) {
    return lexer.Error(
        t.column(),
        absl::StrCat("expected best_effort, max(attr) or min(attr), got ", Describe(t)));
  }
  rule.kind_ = t.text == "max" ? Kind::kMax : Kind::kMin;
  MLIOT_ASSIGN_OR_RETURN(Token open, lexer.Next());
  if (open.kind != Token::Kind::kLParen) return lexer.Unexpected(open);
  MLIOT_ASSIGN_OR_RETURN(Token name, lexer.Next());
  if (name.kind != Token::Kind::kName) return lexer.Unexpected(name);
  const AttributeInfo* info = FindAttribute(name.text);
  if (info == nullptr || !info->rankable) {
    return lexer.Error(name.column(), absl::StrCat("unknown attribute '", name.text, "'"),
                       absl::StrCat("; valid: ", RankableNames()));
  }
  rule.attribute_ = info->name;
  MLIOT_ASSIGN_OR_RETURN(Token close, lexer.Next());
  if (close.kind != Token::Kind::kRParen) return lexer.Unexpected(close);
  MLIOT_ASSIGN_OR_RETURN(Token end, lexer.Next());
  if (end.kind != Token::Kind::kEnd) return lexer.Unexpected(end);
  return rule;
}

double PreferRule::Key(const NodeView& node) const {
  if (kind_ == Kind::kBestEffort) {
    // Without the other nodes there is nothing to normalise against: the raw
    // weighted load (cpu and mem as fractions, load per core).
    return 0.5 * node.cpu / 100 + 0.3 * node.mem / 100 + 0.2 * node.load / std::max(1, node.cores);
  }
  const AttributeInfo* info = FindAttribute(attribute_);
  return info == nullptr ? 0 : AsNumber(info->get(node));
}

// ---------------------------------------------------------------------------
// Load

std::vector<double> LoadScores(const std::vector<NodeView>& nodes) {
  constexpr double kWeights[3] = {0.5, 0.3, 0.2};  // cpu %, mem %, load average per core
  std::vector<double> scores(nodes.size(), 0);
  if (nodes.empty()) return scores;
  for (int column = 0; column < 3; ++column) {
    std::vector<double> values;
    values.reserve(nodes.size());
    for (const NodeView& n : nodes) {
      const double v = column == 0 ? n.cpu : column == 1 ? n.mem : n.load / std::max(1, n.cores);
      values.push_back(std::isfinite(v) ? v : 0);
    }
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    const double range = *hi - *lo;
    if (range <= 0) continue;  // a constant column says nothing about who is less loaded
    for (size_t i = 0; i < nodes.size(); ++i) {
      scores[i] += kWeights[column] * (values[i] - *lo) / range;
    }
  }
  return scores;
}

}  // namespace mliot
