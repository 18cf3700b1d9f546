// The data-driven bad-input suite: every directory under tests/bad_input/ is
// one case, run against the real `mliot` binary. See tests/bad_input/README.md
// for the layout of a case.
//
// Each case must fail cleanly: exit code `exit_code` (default 2, always
// 0 < code < 128, never a signal), exactly one stderr line starting with
// "mliot: error: " that contains every line of `expected`, nothing on stdout,
// and nothing created, removed or resized in the scratch directory @TMP@.
//
// Environment (set by mliot_test in the top-level CMakeLists.txt):
//   MLIOT_SOURCE_DIR  the source tree, holding tests/bad_input/
//   MLIOT_BINARY      the mliot binary under test
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "process.h"

namespace {

namespace fs = std::filesystem;

constexpr auto kTimeout = std::chrono::seconds(60);

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

fs::path CasesDir() { return fs::path(Env("MLIOT_SOURCE_DIR")) / "tests" / "bad_input"; }

// Case directory names, sorted; empty when MLIOT_SOURCE_DIR is unset.
std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  if (Env("MLIOT_SOURCE_DIR").empty() || !fs::is_directory(CasesDir())) return names;
  for (const fs::directory_entry& e : fs::directory_iterator(CasesDir())) {
    if (e.is_directory() && fs::exists(e.path() / "args")) names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> NonEmptyLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// The arguments of a one-line command file, split on whitespace (no quoting),
// with @CASE@ and @TMP@ replaced.
std::vector<std::string> ReadArgs(const fs::path& file, const fs::path& case_dir,
                                  const fs::path& tmp) {
  std::string text = ReadFile(file);
  ReplaceAll(text, "@CASE@", case_dir.string());
  ReplaceAll(text, "@TMP@", tmp.string());
  std::vector<std::string> args;
  std::istringstream in(text);
  for (std::string arg; in >> arg;) args.push_back(arg);
  return args;
}

using Outcome = mliot::testing::RunResult;

// Every path under `dir` with its size (-1 for directories).
std::map<std::string, int64_t> Snapshot(const fs::path& dir) {
  std::map<std::string, int64_t> files;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(e.path(), dir).string();
    files[rel] = e.is_regular_file() ? static_cast<int64_t>(e.file_size()) : -1;
  }
  return files;
}

std::string Describe(const std::map<std::string, int64_t>& files) {
  std::string s;
  for (const auto& [path, size] : files) s += "  " + path + " (" + std::to_string(size) + ")\n";
  return s.empty() ? "  (empty)\n" : s;
}

std::string Join(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

// A fresh directory, removed with everything in it at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::string pattern =
        (fs::temp_directory_path() / ("mliot_bad_input_" + name + "_XXXXXX")).string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// What running one case produced; the test asserts on it.
struct CaseResult {
  std::string error;  // the case could not be run (bad case files, setup failed)
  std::vector<std::string> args;
  int want_code = 2;
  std::vector<std::string> expected;
  Outcome outcome;
  std::map<std::string, int64_t> before;  // @TMP@ after setup, before the command
  std::map<std::string, int64_t> after;   // @TMP@ after the command
};

CaseResult RunCase(const std::string& name) {
  CaseResult r;
  const fs::path case_dir = fs::absolute(CasesDir() / name);
  TempDir tmp(name), io(name + "_io");
  if (tmp.path().empty() || io.path().empty()) {
    r.error = "cannot create a temporary directory";
    return r;
  }
  if (fs::exists(case_dir / "setup")) {
    const std::vector<std::string> setup = ReadArgs(case_dir / "setup", case_dir, tmp.path());
    const Outcome o = mliot::testing::RunMliot(setup, kTimeout, io.path());
    if (!o.exited || o.exit_code != 0) {
      r.error = "setup `mliot " + Join(setup) + "` failed (exit " + std::to_string(o.exit_code) +
                ", signal " + std::to_string(o.signal) + "):\n" + o.err;
      return r;
    }
  }
  r.args = ReadArgs(case_dir / "args", case_dir, tmp.path());
  r.expected = NonEmptyLines(ReadFile(case_dir / "expected"));
  if (r.args.empty() || r.expected.empty()) {
    r.error = "args or expected is missing or empty in " + case_dir.string();
    return r;
  }
  if (fs::exists(case_dir / "exit_code")) r.want_code = std::stoi(ReadFile(case_dir / "exit_code"));
  r.before = Snapshot(tmp.path());
  r.outcome = mliot::testing::RunMliot(r.args, kTimeout, io.path());
  r.after = Snapshot(tmp.path());
  return r;
}

// The test name of a case (gtest names allow letters, digits and '_').
std::string TestName(std::string name) {
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class BadInputTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Each case starts a process that takes most of a second to load its
  // libraries, so the selected cases (--gtest_filter applies) run up front
  // on a few threads; each test then checks its case's result.
  static void SetUpTestSuite() {
    results_ = new std::map<std::string, CaseResult>();
    const std::string binary = Env("MLIOT_BINARY");
    if (binary.empty()) return;
    std::map<std::string, std::string> by_test_name;
    for (const std::string& name : CaseNames()) by_test_name[TestName(name)] = name;
    std::vector<std::string> selected;
    const ::testing::TestSuite* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
    for (int i = 0; suite != nullptr && i < suite->total_test_count(); ++i) {
      const ::testing::TestInfo* info = suite->GetTestInfo(i);
      const std::string test = info->name();
      auto it = by_test_name.find(test.substr(test.rfind('/') + 1));
      if (info->should_run() && it != by_test_name.end()) selected.push_back(it->second);
    }
    std::vector<CaseResult> results(selected.size());
    std::atomic<size_t> next{0};
    const unsigned workers = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers; ++w) {
      threads.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < selected.size();) {
          results[i] = RunCase(selected[i]);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < selected.size(); ++i) (*results_)[selected[i]] = std::move(results[i]);
  }

  static void TearDownTestSuite() {
    delete results_;
    results_ = nullptr;
  }

  static std::map<std::string, CaseResult>* results_;
};

std::map<std::string, CaseResult>* BadInputTest::results_ = nullptr;

TEST_P(BadInputTest, FailsWithOneLineNamingTheProblem) {
  ASSERT_FALSE(Env("MLIOT_BINARY").empty()) << "MLIOT_BINARY is not set";
  auto it = results_->find(GetParam());
  ASSERT_NE(it, results_->end()) << "case was not run";
  const CaseResult& r = it->second;
  ASSERT_EQ(r.error, "");
  const Outcome& o = r.outcome;
  SCOPED_TRACE("mliot " + Join(r.args) + "\nstderr:\n" + o.err);

  // A clean failure: an exit code below 128, not a signal or a hang.
  ASSERT_TRUE(o.exited) << "did not exit normally (signal " << o.signal << ")";
  EXPECT_GT(o.exit_code, 0);
  EXPECT_LT(o.exit_code, 128);
  EXPECT_EQ(o.exit_code, r.want_code);

  // One line, in the CLI's format, naming the problem.
  EXPECT_EQ(o.err.rfind("mliot: error: ", 0), 0u) << "stderr does not start with 'mliot: error: '";
  ASSERT_FALSE(o.err.empty());
  EXPECT_EQ(o.err.back(), '\n');
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << "stderr is not exactly one line";
  for (const std::string& text : r.expected) {
    EXPECT_NE(o.err.find(text), std::string::npos) << "stderr lacks: " << text;
  }
  EXPECT_EQ(o.out, "") << "a failed command printed to stdout";

  // Nothing half-written: the scratch directory is as the setup left it.
  EXPECT_EQ(r.after, r.before) << "@TMP@ changed. Before:\n"
                               << Describe(r.before) << "After:\n"
                               << Describe(r.after);
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInputTest, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return TestName(info.param);
                         });

// Guards against a suite that silently runs nothing.
TEST(BadInputSuiteTest, FindsTheCases) {
  ASSERT_FALSE(Env("MLIOT_SOURCE_DIR").empty()) << "MLIOT_SOURCE_DIR is not set";
  EXPECT_TRUE(fs::is_directory(CasesDir())) << CasesDir();
  EXPECT_GE(CaseNames().size(), 10u) << "too few case directories under " << CasesDir();
}

}  // namespace
