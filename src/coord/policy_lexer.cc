#include "coord/policy_lexer.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mliot::policy_internal {
namespace {

bool IsNameStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// An error message on one line: the quoted text keeps its columns.
std::string OneLine(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return out;
}

}  // namespace

absl::Status Lexer::Error(int column, absl::string_view message, absl::string_view suffix) const {
  return absl::InvalidArgumentError(
      OneLine(absl::StrCat(clause_, " '", text_, "': ", message, " at column ", column, suffix)));
}

absl::Status Lexer::Unexpected(const Token& token, absl::string_view suffix) const {
  return Error(column_of(token), absl::StrCat("unexpected ", Describe(token)), suffix);
}

absl::StatusOr<Token> Lexer::Next() {
  while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
    ++pos_;
  }
  Token t;
  t.begin = static_cast<int>(pos_);
  if (pos_ >= text_.size()) {
    t.end = t.begin;
    return t;
  }
  const char c = text_[pos_];
  const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
  if (IsDigit(c) || (c == '-' && IsDigit(next))) return Number(t);
  if (c == '\'' || c == '"') return String(t);
  if (IsNameStart(c)) return Name(t);
  if (c == '(' || c == ')') {
    t.kind = c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen;
    return Finish(t, 1);
  }
  if ((c == '=' || c == '!' || c == '<' || c == '>') && next == '=') {
    t.kind = Token::Kind::kOp;
    return Finish(t, 2);
  }
  if (c == '<' || c == '>') {
    t.kind = Token::Kind::kOp;
    return Finish(t, 1);
  }
  // Operators from other languages get a hint.
  if (c == '=') return Error(t.column(), "unexpected '='", "; use '=='");
  if (c == '!') return Error(t.column(), "unexpected '!'", "; use 'not' or '!='");
  if (c == '&' || c == '|') {
    const std::string seen(next == c ? 2 : 1, c);
    return Error(t.column(), absl::StrCat("unexpected '", seen, "'"),
                 c == '&' ? "; use 'and'" : "; use 'or'");
  }
  // Quote the whole UTF-8 sequence, not a lone lead byte.
  size_t len = 1;
  const auto lead = static_cast<unsigned char>(c);
  if (lead >= 0xF0) {
    len = 4;
  } else if (lead >= 0xE0) {
    len = 3;
  } else if (lead >= 0xC0) {
    len = 2;
  }
  len = std::min(len, text_.size() - pos_);
  return Error(t.column(), absl::StrCat("unexpected '", text_.substr(pos_, len), "'"));
}

Token Lexer::Finish(Token t, size_t len) {
  pos_ += len;
  t.end = static_cast<int>(pos_);
  t.text = std::string(text_.substr(t.begin, len));
  return t;
}

absl::StatusOr<Token> Lexer::Number(Token t) {
  size_t p = pos_;
  if (text_[p] == '-') ++p;
  while (p < text_.size() && IsDigit(text_[p])) ++p;
  if (p + 1 < text_.size() && text_[p] == '.' && IsDigit(text_[p + 1])) {
    ++p;
    while (p < text_.size() && IsDigit(text_[p])) ++p;
  }
  if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
    size_t q = p + 1;
    if (q < text_.size() && (text_[q] == '+' || text_[q] == '-')) ++q;
    if (q < text_.size() && IsDigit(text_[q])) {
      p = q;
      while (p < text_.size() && IsDigit(text_[p])) ++p;
    }
  }
  // "40ms", "1.2.3": letters or dots glued to a number.
  if (p < text_.size() && (IsNameChar(text_[p]) || text_[p] == '.')) {
    size_t q = p;
    while (q < text_.size() && (IsNameChar(text_[q]) || text_[q] == '.')) ++q;
    return Error(t.column(), absl::StrCat("bad number '", text_.substr(pos_, q - pos_), "'"));
  }
  t.kind = Token::Kind::kNumber;
  t = Finish(t, p - pos_);
  if (!absl::SimpleAtod(t.text, &t.number) || !std::isfinite(t.number)) {
    return Error(t.column(), absl::StrCat("bad number '", t.text, "'"));
  }
  return t;
}

absl::StatusOr<Token> Lexer::String(Token t) {
  const char quote = text_[pos_];
  const size_t close = text_.find(quote, pos_ + 1);
  if (close == absl::string_view::npos) return Error(t.column(), "unterminated string");
  t.kind = Token::Kind::kString;
  t.value = std::string(text_.substr(pos_ + 1, close - pos_ - 1));
  return Finish(t, close + 1 - pos_);
}

absl::StatusOr<Token> Lexer::Name(Token t) {
  size_t p = pos_;
  while (p < text_.size() && IsNameChar(text_[p])) ++p;
  while (p < text_.size() && text_[p] == '.') {
    if (p + 1 >= text_.size() || !IsNameStart(text_[p + 1])) {
      return Error(static_cast<int>(p) + 1, "expected a name after '.'");
    }
    ++p;
    while (p < text_.size() && IsNameChar(text_[p])) ++p;
  }
  t.kind = Token::Kind::kName;
  return Finish(t, p - pos_);
}

std::string Describe(const Token& token) {
  if (token.kind == Token::Kind::kEnd) return "end of text";
  return absl::StrCat("'", token.text, "'");
}

}  // namespace mliot::policy_internal
