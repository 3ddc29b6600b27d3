#pragma once
// Helpers shared by the test executables: temporary folders, running the CLI, reading files,
// and the data and model fixtures of the end-to-end CLI tests.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

// A file of tests/fixtures/cli/ (see its README.md).
std::string cli_fixture(const std::string& name);

// A file of tests/fixtures/legacy/: tiny.csv, or a file of the set made on the kind of CPU these
// tests were built for, avx512/ or avx2/ (the vector width changes the order of sums; see
// tests/fixtures/legacy/regenerate.sh).
std::string legacy_fixture(const std::string& name);

// The number of '\n' in text.
std::size_t count_lines(const std::string& text);

// Little-endian bytes, for files built byte by byte (safetensors models: u64 header length,
// f32 tensor data).
std::string le64(std::uint64_t v);
std::string f32le(float value);

// The first bytes of every PNG file.
inline const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

// A PNG read back with stb_image: width×height pixels of `channels` bytes each.
struct DecodedPng {
    int width = 0;
    int height = 0;
    int channels = 0;
    std::vector<std::uint8_t> pixels;
};
// Decodes PNG file bytes, converted to `channels` bytes per pixel (0: the file's own count);
// throws std::runtime_error with stb's reason if they do not decode.
DecodedPng decode_png(const std::string& bytes, int channels = 0);

// A small labelled Kaggle CSV whose digits are easy: class r % 10 of row r lights up a block of
// pixels over a faint background; `variant` shifts the background, giving different data of the
// same shape.
std::string tiny_csv(int rows, int variant = 0);

// Labelled digits that a short training run gets mostly but not all right: row r is class r % 10,
// which lights a band of pixels, plus pseudo-random noise from a fixed LCG started at `seed`
// (so the data is the same every run); pixels are clamped to 255.
struct Rows {
    std::vector<int> labels;
    std::vector<std::vector<int>> pixels;
};
Rows noisy_rows(int n, std::uint32_t seed);

// Kaggle CSV text of rows: header, then one line per row (without the label column if !labelled).
std::string to_csv(const Rows& rows, bool labelled = true);

// Saves the "pixel vote" model of tests/fixtures/cli/README.md: it predicts the index of the
// brightest of pixel0..pixel9.
void save_pixel_vote_model(const std::string& path);

}  // namespace mnistnn::test
