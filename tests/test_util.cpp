#include "test_util.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace mnistnn::test {

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mnistnn-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
}

void write_text(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

RunResult run_cli(const std::string& args, const std::string& cwd, const std::string& env) {
    TempDir capture;
    const std::string out_path = capture.file("out");
    const std::string err_path = capture.file("err");
    const std::string cmd = "cd '" + cwd + "' && " + env + " '" + MNISTNN_BINARY + "' " + args +
                            " >'" + out_path + "' 2>'" + err_path + "' </dev/null";
    const int status = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_text(out_path);
    r.err = read_text(err_path);
    return r;
}

std::string source_path(const std::string& relative) {
    return std::string(MNISTNN_SOURCE_DIR) + "/" + relative;
}

}  // namespace mnistnn::test
