#include "test_util.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "mnistnn/model_file.hpp"

// stb_image (the decoder) is compiled into the test helpers only, to read back the PNGs the tool
// writes; third-party code, so without our warning flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

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

std::string legacy_fixture(const std::string& name) {
    const std::string dir = source_path("tests/fixtures/legacy/");
    if (name == "tiny.csv") return dir + name;
#ifdef __AVX512F__
    return dir + "avx512/" + name;
#else
    return dir + "avx2/" + name;
#endif
}

std::string cli_fixture(const std::string& name) { return source_path("tests/fixtures/cli/" + name); }

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

Rows noisy_rows(int n, std::uint32_t seed) {
    Rows rows;
    std::uint32_t state = seed;
    auto next = [&state] {
        state = state * 1664525u + 1013904223u;
        return static_cast<int>(state >> 24);  // 0..255
    };
    for (int r = 0; r < n; ++r) {
        const int label = r % 10;
        std::vector<int> p(784);
        for (int i = 0; i < 784; ++i) p[static_cast<std::size_t>(i)] = std::min(255, (i / 78 == label ? 140 : 0) + next() / 2);
        rows.labels.push_back(label);
        rows.pixels.push_back(std::move(p));
    }
    return rows;
}

std::string to_csv(const Rows& rows, bool labelled) {
    std::ostringstream s;
    if (labelled) s << "label,";
    for (int i = 0; i < 784; ++i) s << (i ? "," : "") << "pixel" << i;
    s << '\n';
    for (std::size_t r = 0; r < rows.pixels.size(); ++r) {
        if (labelled) s << rows.labels[r] << ',';
        for (std::size_t i = 0; i < 784; ++i) s << (i ? "," : "") << rows.pixels[r][i];
        s << '\n';
    }
    return s.str();
}

void save_pixel_vote_model(const std::string& path) {
    Model m;
    m.params.W1 = Eigen::MatrixXf::Zero(10, 784);
    for (int k = 0; k < 10; ++k) m.params.W1(k, k) = 1.0f;
    m.params.b1 = Eigen::VectorXf::Zero(10);
    m.params.W2 = 10.0f * Eigen::MatrixXf::Identity(10, 10);
    m.params.b2 = Eigen::VectorXf::Zero(10);
    m.params.activation = Activation::ReLU;
    save_model(path, m);
}

std::string le64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

std::string f32le(float value) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((bits >> (8 * i)) & 0xFF);
    return s;
}

std::string tiny_csv(int rows, int variant) {
    std::ostringstream s;
    s << "label";
    for (int i = 0; i < 784; ++i) s << ",pixel" << i;
    s << '\n';
    for (int r = 0; r < rows; ++r) {
        const int label = r % 10;
        s << label;
        for (int i = 0; i < 784; ++i)
            s << ',' << ((i / 78) == label ? 200 + (r % 50) : (r * 7 + i + variant) % 30);
        s << '\n';
    }
    return s.str();
}

DecodedPng decode_png(const std::string& bytes, int channels) {
    DecodedPng out;
    int in_file = 0;
    stbi_uc* data = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
                                          &out.width, &out.height, &in_file, channels);
    if (data == nullptr) throw std::runtime_error(std::string("PNG does not decode: ") + stbi_failure_reason());
    out.channels = channels != 0 ? channels : in_file;
    out.pixels.assign(data, data + static_cast<std::size_t>(out.width) * static_cast<std::size_t>(out.height) *
                                       static_cast<std::size_t>(out.channels));
    stbi_image_free(data);
    return out;
}

}  // namespace mnistnn::test
