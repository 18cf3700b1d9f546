// Hyper-parameters as data.
//
// Every model kind declares its parameters once, as a list of ParamSpec;
// HPO samples from that declaration, bundles store values by name, and
// `mliot train --help-model KIND` prints it. Nothing else restates them.
//
//   {.name = "C", .type = ParamType::kDouble, .default_value = 1.0,
//    .min = 1e-3, .max = 1e3, .log_scale = true, .help = "inverse regularisation"}
#ifndef MLIOT_ML_PARAMS_H_
#define MLIOT_ML_PARAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace mliot {

enum class ParamType { kInt, kDouble, kChoice };

using ParamValue = std::variant<int64_t, double, std::string>;

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kDouble;
  ParamValue default_value;
  double min = 0;  // kInt / kDouble: inclusive range searched by HPO
  double max = 0;
  bool log_scale = false;
  std::vector<std::string> choices;  // kChoice
  std::string help;
  // When false, HPO leaves the parameter at its default.
  bool tunable = true;
};

// A full assignment of values, by parameter name.
class Params {
 public:
  Params() = default;
  // Every declared parameter at its default.
  static Params Defaults(const std::vector<ParamSpec>& specs);

  void Set(const std::string& name, ParamValue value) { values_[name] = std::move(value); }
  bool Has(const std::string& name) const { return values_.count(name) > 0; }

  // Typed access. A missing name or a different type is a programmer error
  // (values come from the declaration) and aborts in debug builds; release
  // builds return 0 / "".
  int64_t Int(const std::string& name) const;
  double Double(const std::string& name) const;
  const std::string& Choice(const std::string& name) const;

  const std::map<std::string, ParamValue>& values() const { return values_; }
  // Compact text form, e.g. "C=10 gamma=0.01 kernel=rbf".
  std::string ToString() const;

 private:
  std::map<std::string, ParamValue> values_;
};

// Parses "name=value" text against `specs` (for --params); errors name the
// parameter and list the declared ones.
absl::StatusOr<Params> ParseParams(const std::vector<ParamSpec>& specs, const std::string& text);

// Checks types and ranges against `specs`; fills any undeclared gap with
// defaults. Used when loading a bundle.
absl::StatusOr<Params> CompleteParams(const std::vector<ParamSpec>& specs, const Params& given);

// A point in the unit hypercube <-> Params (numeric params map linearly or
// log-linearly onto [0, 1]; choices onto equal-width bins). Only tunable
// parameters are encoded; the others stay at default.
std::vector<const ParamSpec*> TunableSpecs(const std::vector<ParamSpec>& specs);
Params DecodeUnit(const std::vector<ParamSpec>& specs, const std::vector<double>& unit);
std::vector<double> EncodeUnit(const std::vector<ParamSpec>& specs, const Params& params);

}  // namespace mliot

#endif  // MLIOT_ML_PARAMS_H_
