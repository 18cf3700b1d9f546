// Tokens of policy text (internal to coord/policy.cc): numbers, 'single' or
// "double" quoted strings, dotted names, comparison operators and
// parentheses. Shared by `require` and `prefer` so both report errors the
// same way:
//
//   require 'cores >> 4': unexpected '>' at column 8
//
// Columns are 1-based byte offsets into the text as given.
#ifndef MLIOT_COORD_POLICY_LEXER_H_
#define MLIOT_COORD_POLICY_LEXER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mliot::policy_internal {

struct Token {
  enum class Kind { kEnd, kNumber, kString, kName, kOp, kLParen, kRParen };
  Kind kind = Kind::kEnd;
  std::string text;   // as written (strings with their quotes)
  double number = 0;  // kNumber
  std::string value;  // kString: the contents without quotes
  int begin = 0;      // byte offsets into the text
  int end = 0;
  int column() const { return begin + 1; }
};

// Splits text into tokens on demand, so the leftmost error is the one
// reported. Does not own `text`, which must outlive the lexer.
class Lexer {
 public:
  // `clause` names the policy part in errors: "require" or "prefer".
  Lexer(absl::string_view clause, absl::string_view text) : clause_(clause), text_(text) {}

  // The next token; kEnd (repeatedly) at the end of the text. Errors are
  // InvalidArgument: unexpected characters, unterminated strings, "40ms".
  absl::StatusOr<Token> Next();

  // InvalidArgument "<clause> '<text>': <message> at column <column><suffix>",
  // on one line whatever the text holds.
  absl::Status Error(int column, absl::string_view message, absl::string_view suffix = "") const;
  // "unexpected 'x' at column N" or "unexpected end of text at column N".
  absl::Status Unexpected(const Token& token, absl::string_view suffix = "") const;

  // The column just past the text, where "end of text" is reported.
  int end_column() const { return static_cast<int>(text_.size()) + 1; }
  int column_of(const Token& token) const {
    return token.kind == Token::Kind::kEnd ? end_column() : token.column();
  }
  absl::string_view text() const { return text_; }

 private:
  Token Finish(Token t, size_t len);
  absl::StatusOr<Token> Number(Token t);
  absl::StatusOr<Token> String(Token t);
  absl::StatusOr<Token> Name(Token t);

  std::string clause_;
  absl::string_view text_;
  size_t pos_ = 0;
};

// "'x'" for a token, "end of text" at the end.
std::string Describe(const Token& token);

}  // namespace mliot::policy_internal

#endif  // MLIOT_COORD_POLICY_LEXER_H_
