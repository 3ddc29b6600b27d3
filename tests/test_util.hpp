#pragma once
// Helpers shared by the test executables: temporary folders, running the CLI, reading files.
#include <string>

namespace mnistnn::test {

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

void write_text(const std::string& path, const std::string& content);
std::string read_text(const std::string& path);

struct RunResult {
    int exit_code = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

// Runs the built mnistnn binary with `args` (a shell-quoted string) in `cwd`.
RunResult run_cli(const std::string& args, const std::string& cwd = ".", const std::string& env = "");

// Path inside the source tree (e.g. "tests/fixtures/x.csv").
std::string source_path(const std::string& relative);

}  // namespace mnistnn::test
