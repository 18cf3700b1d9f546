#include "lifecycle/lifecycle_state.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/grpc_util.h"
#include "common/status_util.h"
#include "lifecycle/publish.h"
#include "nlohmann/json.hpp"

namespace mliot {
namespace {

constexpr size_t kEventsKept = 50;

std::string StatePath(const std::string& dir) { return dir + "/versions.json"; }

}  // namespace

std::string IsoTime(int64_t unix_ms) {
  const time_t t = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

void AppendEvent(std::deque<std::string>* events, const std::string& text, size_t keep) {
  events->push_back(absl::StrCat(IsoTime(NowUnixMs()), " ", text));
  while (events->size() > keep) events->pop_front();
}

std::vector<std::string> MergeEvents(std::vector<std::string> a, const std::deque<std::string>& b, size_t keep) {
  a.insert(a.end(), b.begin(), b.end());
  // The stamp is the first 20 characters ("2026-12-03T15:04:05Z").
  std::stable_sort(a.begin(), a.end(),
                   [](const std::string& x, const std::string& y) { return x.substr(0, 20) < y.substr(0, 20); });
  if (a.size() > keep) a.erase(a.begin(), a.end() - static_cast<std::ptrdiff_t>(keep));
  return a;
}

void LifecycleState::AddEvent(const std::string& text) { AppendEvent(&events, text, kEventsKept); }

absl::StatusOr<LifecycleState> ReadLifecycleState(const std::string& dir) {
  LifecycleState s;
  absl::StatusOr<std::string> text = ReadFile(StatePath(dir));
  if (!text.ok()) return s;  // none yet
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::DataLossError(absl::StrCat(StatePath(dir), ": not a lifecycle state"));
  try {
    s.serving = j.value("serving", int64_t{0});
    s.shadow = j.value("shadow", int64_t{0});
    // Each field is bound to a local first: a range-for over a member of a
    // temporary would read freed memory (C++20).
    const nlohmann::json promoted = j.value("promoted", nlohmann::json::array());
    const nlohmann::json retired = j.value("retired", nlohmann::json::object());
    const nlohmann::json feedback = j.value("feedback", nlohmann::json::object());
    const nlohmann::json events = j.value("events", nlohmann::json::array());
    const nlohmann::json validation = j.value("validation", nlohmann::json::object());
    for (const auto& [k, acc] : validation.items()) {
      int64_t v;
      if (absl::SimpleAtoi(k, &v)) s.validation[v] = acc.get<double>();
    }
    for (const auto& v : promoted) s.promoted.insert(v.get<int64_t>());
    for (const auto& [k, why] : retired.items()) {
      int64_t v;
      if (absl::SimpleAtoi(k, &v)) s.retired[v] = why.get<std::string>();
    }
    for (const auto& [k, score] : feedback.items()) {
      int64_t v;
      if (absl::SimpleAtoi(k, &v) && score.is_array() && score.size() == 2) {
        s.feedback[v] = FeedbackScore{score[0].get<int64_t>(), score[1].get<int64_t>()};
      }
    }
    for (const auto& e : events) s.events.push_back(e.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat(StatePath(dir), ": ", e.what()));
  }
  return s;
}

absl::Status WriteLifecycleState(const std::string& dir, const LifecycleState& s) {
  nlohmann::json j;
  j["serving"] = s.serving;
  j["shadow"] = s.shadow;
  j["promoted"] = s.promoted;
  nlohmann::json retired = nlohmann::json::object();
  for (const auto& [v, why] : s.retired) retired[std::to_string(v)] = why;
  j["retired"] = retired;
  nlohmann::json feedback = nlohmann::json::object();
  for (const auto& [v, f] : s.feedback) feedback[std::to_string(v)] = {f.correct, f.rows};
  j["feedback"] = feedback;
  j["events"] = s.events;
  nlohmann::json validation = nlohmann::json::object();
  for (const auto& [v, acc] : s.validation) validation[std::to_string(v)] = acc;
  j["validation"] = validation;
  return WriteFileAtomically(StatePath(dir), j.dump(1) + "\n");
}

int64_t ReadPin(const std::string& dir) {
  absl::StatusOr<std::string> text = ReadFile(dir + "/pin");
  int64_t v = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v) || v < 0) return 0;
  return v;
}

absl::Status WritePin(const std::string& dir, int64_t version) {
  if (version <= 0) {
    std::remove((dir + "/pin").c_str());
    return absl::OkStatus();
  }
  return WriteFileAtomically(dir + "/pin", absl::StrCat(version, "\n"));
}

}  // namespace mliot
