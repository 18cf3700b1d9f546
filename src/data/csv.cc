#include "data/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"

namespace mliot {
namespace {

// Splits CSV text into records of fields, tracking the line each record
// starts on. Quoted fields may contain the delimiter, quotes ("") and newlines.
class CsvReader {
 public:
  CsvReader(std::string text, char delimiter) : text_(std::move(text)), delim_(delimiter) {
    if (text_.rfind("\xEF\xBB\xBF", 0) == 0) pos_ = 3;  // UTF-8 byte order mark
  }

  // Reads the next non-blank record into `fields`; false at end of input.
  bool Next(std::vector<std::string>& fields, int64_t& line) {
    while (pos_ < text_.size()) {
      line = line_;
      fields.clear();
      std::string field;
      bool quoted = false, was_quoted = false;
      while (pos_ < text_.size()) {
        const char c = text_[pos_++];
        if (quoted) {
          if (c == '"') {
            if (pos_ < text_.size() && text_[pos_] == '"') {
              field.push_back('"');
              ++pos_;
            } else {
              quoted = false;
            }
          } else {
            if (c == '\n') ++line_;
            field.push_back(c);
          }
        } else if (c == '"' && absl::StripAsciiWhitespace(field).empty()) {
          quoted = was_quoted = true;
          field.clear();
        } else if (c == delim_) {
          fields.push_back(Finish(field, was_quoted));
          field.clear();
          was_quoted = false;
        } else if (c == '\n') {
          ++line_;
          break;
        } else if (c != '\r') {
          field.push_back(c);
        }
      }
      fields.push_back(Finish(field, was_quoted));
      if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
      return true;
    }
    return false;
  }

 private:
  static std::string Finish(const std::string& field, bool was_quoted) {
    return was_quoted ? field : std::string(absl::StripAsciiWhitespace(field));
  }

  std::string text_;
  char delim_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

bool IsMissing(const std::string& s) {
  if (s.empty() || s == "?") return true;
  const std::string lower = absl::AsciiStrToLower(s);
  return lower == "na" || lower == "nan" || lower == "null" || lower == "none";
}

bool ParseFloat(const std::string& s, float& out) {
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (begin != end && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, out);
  return ec == std::errc() && ptr == end && std::isfinite(out);
}

// Orders class names numerically when they all parse as numbers.
void SortClassNames(std::vector<std::string>& names) {
  bool numeric = true;
  for (const std::string& n : names) {
    float v;
    numeric = numeric && ParseFloat(n, v);
  }
  if (numeric) {
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return std::stod(a) < std::stod(b);
    });
  } else {
    std::sort(names.begin(), names.end());
  }
}

// Reads `path`; when `time_column` is not empty that column goes to `times`.
absl::StatusOr<Dataset> ReadCsv(const std::string& path, const CsvOptions& options,
                                const std::string& time_column, std::vector<double>* times) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": binary data, not CSV text"));
  }
  // The delimiter is chosen from the header: the first line that is not blank.
  std::string_view first_line;
  for (std::string_view rest = text; !rest.empty();) {
    const size_t newline = rest.find('\n');
    first_line = rest.substr(0, newline);
    if (first_line.find_first_not_of(" \t\r\v\f") != std::string_view::npos) break;
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  }
  char delim = ',';
  if (first_line.find(',') == std::string_view::npos) {
    if (first_line.find(';') != std::string_view::npos) delim = ';';
    else if (first_line.find('\t') != std::string_view::npos) delim = '\t';
  }
  CsvReader reader(std::move(text), delim);
  std::vector<std::string> header;
  int64_t line = 0;
  if (!reader.Next(header, line)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty file (expected a header row)"));
  }
  int label_col = -1;
  int time_col = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == options.label_column) label_col = static_cast<int>(i);
    if (!time_column.empty() && header[i] == time_column) time_col = static_cast<int>(i);
  }
  if (!time_column.empty() && time_col < 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": no time column '", time_column,
                                                   "' in header (columns: ", absl::StrJoin(header, ", "),
                                                   "; see --time-column)"));
  }
  if (label_col < 0 && options.require_label) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": no label column '",
                                                   options.label_column, "' in header (columns: ",
                                                   absl::StrJoin(header, ", "), ")"));
  }
  Dataset ds;
  ds.source = path;
  ds.cols = static_cast<int64_t>(header.size()) - (label_col >= 0 ? 1 : 0) - (time_col >= 0 ? 1 : 0);
  if (ds.cols <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": no feature columns"));
  }
  for (size_t i = 0; i < header.size(); ++i) {
    if (static_cast<int>(i) != label_col && static_cast<int>(i) != time_col) {
      ds.feature_names.push_back(header[i]);
    }
  }
  std::vector<std::string> raw_labels;
  std::vector<std::string> fields;
  while (reader.Next(fields, line)) {
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": expected ", header.size(),
                                                     " fields (as in the header), got ",
                                                     fields.size()));
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      if (static_cast<int>(i) == label_col) {
        if (fields[i].empty()) {
          return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": column '",
                                                         header[i], "': empty label"));
        }
        raw_labels.push_back(fields[i]);
        continue;
      }
      if (static_cast<int>(i) == time_col) {
        double t = 0;
        const char* end = fields[i].data() + fields[i].size();
        auto [ptr, ec] = std::from_chars(fields[i].data(), end, t);
        if (fields[i].empty() || ec != std::errc() || ptr != end || !std::isfinite(t)) {
          return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": column '", header[i],
                                                         "': timestamp '", fields[i],
                                                         "' is not a number"));
        }
        times->push_back(t);
        continue;
      }
      float v;
      if (IsMissing(fields[i])) {
        v = std::nanf("");
      } else if (!ParseFloat(fields[i], v)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": column '", header[i],
                                                       "': non-numeric value '", fields[i], "'"));
      }
      ds.features.push_back(v);
    }
    ++ds.rows;
  }
  if (ds.rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no data rows after the header"));
  }
  if (label_col < 0) {
    ds.labels.assign(static_cast<size_t>(ds.rows), -1);
    return ds;
  }
  std::vector<std::string> names = raw_labels;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() < 2 && options.require_two_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": column '", options.label_column, "': fewer than two classes (only '",
        names.empty() ? "" : names[0], "'); a classifier needs at least two"));
  }
  SortClassNames(names);
  absl::flat_hash_map<std::string, int32_t> index;
  for (size_t i = 0; i < names.size(); ++i) index[names[i]] = static_cast<int32_t>(i);
  ds.labels.reserve(raw_labels.size());
  for (const std::string& l : raw_labels) ds.labels.push_back(index[l]);
  ds.class_names = std::move(names);
  return ds;
}

}  // namespace

absl::StatusOr<Dataset> LoadCsv(const std::string& path, const CsvOptions& options) {
  return ReadCsv(path, options, "", nullptr);
}

absl::StatusOr<TimedCsv> LoadTimedCsv(const std::string& path, const CsvOptions& options,
                                      const std::string& time_column) {
  TimedCsv out;
  MLIOT_ASSIGN_OR_RETURN(out.data, ReadCsv(path, options, time_column, &out.times));
  return out;
}

}  // namespace mliot
