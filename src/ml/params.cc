#include "ml/params.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mliot {

Params Params::Defaults(const std::vector<ParamSpec>& specs) {
  Params p;
  for (const ParamSpec& s : specs) p.Set(s.name, s.default_value);
  return p;
}

int64_t Params::Int(const std::string& name) const {
  auto it = values_.find(name);
  assert(it != values_.end() && std::holds_alternative<int64_t>(it->second));
  if (it == values_.end()) return 0;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return *v;
  if (const auto* d = std::get_if<double>(&it->second)) return static_cast<int64_t>(*d);
  return 0;
}

double Params::Double(const std::string& name) const {
  auto it = values_.find(name);
  assert(it != values_.end());
  if (it == values_.end()) return 0;
  if (const auto* v = std::get_if<double>(&it->second)) return *v;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  return 0;
}

const std::string& Params::Choice(const std::string& name) const {
  static const std::string* empty = new std::string();
  auto it = values_.find(name);
  assert(it != values_.end() && std::holds_alternative<std::string>(it->second));
  if (it == values_.end()) return *empty;
  if (const auto* v = std::get_if<std::string>(&it->second)) return *v;
  return *empty;
}

namespace {

std::string ValueText(const ParamValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&v)) return absl::StrCat(*d);
  return std::get<std::string>(v);
}

const ParamSpec* FindSpec(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (const ParamSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string SpecNames(const std::vector<ParamSpec>& specs) {
  std::vector<std::string> names;
  for (const ParamSpec& s : specs) names.push_back(s.name);
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

absl::StatusOr<ParamValue> CheckValue(const ParamSpec& spec, const ParamValue& v) {
  switch (spec.type) {
    case ParamType::kInt: {
      int64_t i;
      if (const auto* p = std::get_if<int64_t>(&v)) i = *p;
      else if (const auto* d = std::get_if<double>(&v); d && *d == std::floor(*d)) i = static_cast<int64_t>(*d);
      else return absl::InvalidArgumentError(absl::StrCat("parameter '", spec.name, "': expected an integer, got ", ValueText(v)));
      if (i < spec.min || i > spec.max) {
        return absl::InvalidArgumentError(absl::StrCat("parameter '", spec.name, "': ", i,
                                                       " outside [", spec.min, ", ", spec.max, "]"));
      }
      return ParamValue(i);
    }
    case ParamType::kDouble: {
      double d;
      if (const auto* p = std::get_if<double>(&v)) d = *p;
      else if (const auto* i = std::get_if<int64_t>(&v)) d = static_cast<double>(*i);
      else return absl::InvalidArgumentError(absl::StrCat("parameter '", spec.name, "': expected a number, got ", ValueText(v)));
      if (!(d >= spec.min && d <= spec.max)) {
        return absl::InvalidArgumentError(absl::StrCat("parameter '", spec.name, "': ", d,
                                                       " outside [", spec.min, ", ", spec.max, "]"));
      }
      return ParamValue(d);
    }
    case ParamType::kChoice: {
      const auto* s = std::get_if<std::string>(&v);
      if (s == nullptr || std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end()) {
        return absl::InvalidArgumentError(absl::StrCat("parameter '", spec.name, "': '", ValueText(v),
                                                       "' is not one of: ", absl::StrJoin(spec.choices, ", ")));
      }
      return v;
    }
  }
  return absl::InternalError("unreachable");
}

}  // namespace

std::string Params::ToString() const {
  std::vector<std::string> parts;
  for (const auto& [name, value] : values_) parts.push_back(absl::StrCat(name, "=", ValueText(value)));
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<Params> ParseParams(const std::vector<ParamSpec>& specs, const std::string& text) {
  Params out = Params::Defaults(specs);
  for (absl::string_view item : absl::StrSplit(text, absl::ByAnyChar(", "), absl::SkipEmpty())) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("parameter '", item, "': expected name=value"));
    }
    const std::string name(item.substr(0, eq));
    const std::string value(item.substr(eq + 1));
    const ParamSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown parameter '", name, "'; declared: ", SpecNames(specs)));
    }
    ParamValue v = value;
    if (spec->type != ParamType::kChoice) {
      double d;
      if (!absl::SimpleAtod(value, &d)) {
        return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "': '", value, "' is not a number"));
      }
      v = d;
    }
    absl::StatusOr<ParamValue> checked = CheckValue(*spec, v);
    if (!checked.ok()) return checked.status();
    out.Set(name, *checked);
  }
  return out;
}

absl::StatusOr<Params> CompleteParams(const std::vector<ParamSpec>& specs, const Params& given) {
  Params out = Params::Defaults(specs);
  for (const auto& [name, value] : given.values()) {
    const ParamSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown parameter '", name, "'; declared: ", SpecNames(specs)));
    }
    absl::StatusOr<ParamValue> checked = CheckValue(*spec, value);
    if (!checked.ok()) return checked.status();
    out.Set(name, *checked);
  }
  return out;
}

std::vector<const ParamSpec*> TunableSpecs(const std::vector<ParamSpec>& specs) {
  std::vector<const ParamSpec*> out;
  for (const ParamSpec& s : specs) {
    if (s.tunable) out.push_back(&s);
  }
  return out;
}

Params DecodeUnit(const std::vector<ParamSpec>& specs, const std::vector<double>& unit) {
  Params p = Params::Defaults(specs);
  const std::vector<const ParamSpec*> tunable = TunableSpecs(specs);
  for (size_t i = 0; i < tunable.size() && i < unit.size(); ++i) {
    const ParamSpec& s = *tunable[i];
    const double u = std::clamp(unit[i], 0.0, 1.0);
    if (s.type == ParamType::kChoice) {
      const size_t k = std::min(s.choices.size() - 1, static_cast<size_t>(u * s.choices.size()));
      p.Set(s.name, s.choices[k]);
      continue;
    }
    double v = s.log_scale ? std::exp(std::log(s.min) + u * (std::log(s.max) - std::log(s.min)))
                           : s.min + u * (s.max - s.min);
    if (s.type == ParamType::kInt) {
      p.Set(s.name, static_cast<int64_t>(std::clamp(std::llround(v), static_cast<long long>(s.min),
                                                    static_cast<long long>(s.max))));
    } else {
      p.Set(s.name, std::clamp(v, s.min, s.max));
    }
  }
  return p;
}

std::vector<double> EncodeUnit(const std::vector<ParamSpec>& specs, const Params& params) {
  std::vector<double> unit;
  for (const ParamSpec* s : TunableSpecs(specs)) {
    if (s->type == ParamType::kChoice) {
      const std::string& c = params.Choice(s->name);
      const size_t k = std::find(s->choices.begin(), s->choices.end(), c) - s->choices.begin();
      unit.push_back((static_cast<double>(k) + 0.5) / static_cast<double>(s->choices.size()));
      continue;
    }
    const double v = params.Double(s->name);
    double u = s->log_scale ? (std::log(v) - std::log(s->min)) / (std::log(s->max) - std::log(s->min))
                            : (v - s->min) / (s->max - s->min);
    if (!(s->max > s->min)) u = 0.5;
    unit.push_back(std::clamp(u, 0.0, 1.0));
  }
  return unit;
}

}  // namespace mliot
