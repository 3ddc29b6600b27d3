// End-to-end robustness of the mnistnn executable: malformed CSV and model files, bad command
// lines, unreadable inputs and unwritable outputs, signals during training and divergence.
// Every refusal must exit non-zero with ONE line on stderr naming the problem, and must leave a
// model file that already existed byte-identical, with no temporary files beside it.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mnistnn/model_file.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

namespace fs = std::filesystem;
using test::count_lines;
using test::f32le;
using test::le64;
using test::read_text;
using test::TempDir;
using test::write_text;

// ---------------------------------------------------------------------------------------------
// Running the binary

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

struct Child {
    pid_t pid = -1;
    std::string out_path;
    std::string err_path;
};

struct Finished {
    int exit_code = -1;   // exit status, or 128 + signal
    long max_rss_kb = 0;  // peak resident set of the process
    std::string out;
    std::string err;
};

// Starts `binary` (no shell) in `cwd` with stdout/stderr to files in `capture` (created before
// it starts, so they can be polled at once), optionally as user nobody (only possible as root).
Child spawn(const std::string& binary, const std::vector<std::string>& args, const std::string& cwd,
            const TempDir& capture, bool as_nobody = false) {
    Child child;
    child.out_path = capture.file("stdout");
    child.err_path = capture.file("stderr");
    std::vector<std::string> argv_strings{binary};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = ::open(child.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    const int err = ::open(child.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (in < 0 || out < 0 || err < 0) throw std::runtime_error("cannot open the capture files");
    child.pid = ::fork();
    if (child.pid == 0) {
        // Only async-signal-safe calls from here on; failures are reported on the child's stderr.
        const auto die = [](const char* what) {
            if (::write(2, what, std::strlen(what)) < 0) ::_exit(126);
            ::_exit(125);
        };
        if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(125);
        if (as_nobody && (::setgroups(0, nullptr) != 0 || ::setgid(kNogroup) != 0 || ::setuid(kNobody) != 0)) {
            die("test harness: cannot switch to user nobody\n");
        }
        if (::chdir(cwd.c_str()) != 0) die("test harness: cannot enter the working folder\n");
        ::execv(argv[0], argv.data());
        die("test harness: cannot execute the mnistnn binary\n");
    }
    ::close(in);
    ::close(out);
    ::close(err);
    if (child.pid < 0) throw std::runtime_error("fork failed");
    return child;
}

Child spawn(const std::vector<std::string>& args, const std::string& cwd, const TempDir& capture) {
    return spawn(MNISTNN_BINARY, args, cwd, capture);
}

Finished finish(const Child& child) {
    Finished f;
    int status = 0;
    struct rusage usage {};
    while (::wait4(child.pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    f.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    f.max_rss_kb = usage.ru_maxrss;
    f.out = read_text(child.out_path);
    f.err = read_text(child.err_path);
    return f;
}

Finished run(const std::vector<std::string>& args, const std::string& cwd, bool as_nobody = false) {
    TempDir capture;
    if (!as_nobody) return finish(spawn(MNISTNN_BINARY, args, cwd, capture));
    // The build folder may not be reachable by nobody (e.g. a clone under /root): run a copy.
    ::chmod(capture.path().c_str(), 0755);
    const std::string copy = capture.file("mnistnn");
    fs::copy_file(MNISTNN_BINARY, copy);
    ::chmod(copy.c_str(), 0755);
    return finish(spawn(copy, args, cwd, capture, true));
}

bool running_as_root() { return ::geteuid() == 0; }

// The unprivileged-user cases run as nobody when the tests run as root (root ignores
// permission bits); otherwise as the current user, for whom the bits already apply.
bool drop_privileges() { return running_as_root(); }

// Makes `path` usable by the user the unprivileged cases run as.
void give_to_test_user(const std::string& path) {
    if (drop_privileges()) {
        ASSERT_EQ(::chown(path.c_str(), kNobody, kNogroup), 0) << path << ": " << std::strerror(errno);
    }
}

// Polls until `predicate` is true or `seconds` have passed.
bool wait_for(const std::function<bool()>& predicate, double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return predicate();
}

std::string last_line(const std::string& text) {
    std::string t = text;
    if (!t.empty() && t.back() == '\n') t.pop_back();
    const auto nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

// The common contract of a refusal: non-zero exit (the given one when known), one line on
// stderr containing each of `needles`, nothing on stdout.
void expect_refusal(const Finished& r, int exit_code, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << "stderr must be one line:\n" << r.err;
    EXPECT_EQ(r.err.rfind("mnistnn: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << "stdout: " << r.out;
    EXPECT_LT(r.err.size(), 1000u) << "message too long: " << r.err.substr(0, 300);
    for (const auto& needle : needles) EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

// A failure after training started: stderr has the training banner (and log) first, then ONE
// line with the error.
void expect_failure_after_banner(const Finished& r, int exit_code, const std::vector<std::string>& needles) {
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    EXPECT_EQ(r.err.rfind("training 784-", 0), 0u) << r.err;
    const std::string message = last_line(r.err);
    EXPECT_EQ(message.rfind("mnistnn: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << "stdout: " << r.out;
    for (const auto& needle : needles) EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' not in: " << message;
}

std::vector<std::string> temp_files(const std::string& dir) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.find(".tmp.") != std::string::npos) found.push_back(name);
    }
    return found;
}

// ---------------------------------------------------------------------------------------------
// Data

std::string header(bool labelled = true) {
    std::string h = labelled ? "label" : "";
    for (int i = 0; i < 784; ++i) {
        if (!h.empty()) h += ',';
        h += "pixel" + std::to_string(i);
    }
    return h;
}

// One labelled row whose class k lights up a block of pixels (easy to learn).
std::vector<int> row_values(int r) {
    const int label = r % 10;
    std::vector<int> v{label};
    for (int i = 0; i < 784; ++i) v.push_back((i / 78) == label ? 150 + (r * 13) % 100 : (r * 7 + i * 3) % 40);
    return v;
}

std::string join(const std::vector<int>& values) {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) s += ',';
        s += std::to_string(values[i]);
    }
    return s;
}

std::string data_row(int r) { return join(row_values(r)); }

std::string csv(int rows) {
    std::string s = header() + "\n";
    for (int r = 0; r < rows; ++r) s += data_row(r) + "\n";
    return s;
}

// A row's fields as text, to be edited by a test.
std::vector<std::string> fields(int r) {
    std::vector<std::string> out;
    for (int v : row_values(r)) out.push_back(std::to_string(v));
    return out;
}

std::string join(const std::vector<std::string>& values) {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i > 0) s += ',';
        s += values[i];
    }
    return s;
}

// A CSV of 5 good rows with line 2+`at` replaced by `bad_row` (line numbers are 1-based, the
// header is line 1).
std::string csv_with_row(int at, const std::string& bad_row) {
    std::string s = header() + "\n";
    for (int r = 0; r < 5; ++r) s += (r == at ? bad_row : data_row(r)) + "\n";
    return s;
}

std::string gzip(const std::string& data) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&z, data.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// ---------------------------------------------------------------------------------------------
// Model files, byte by byte: u64 LE header length + JSON header + tensor bytes.

std::string floats(std::size_t n, float value = 0.01f) {
    std::string s(n * 4, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        const float v = value * static_cast<float>(1 + i % 7);
        std::uint32_t bits = 0;
        std::memcpy(&bits, &v, 4);
        for (std::size_t b = 0; b < 4; ++b) s[i * 4 + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
    }
    return s;
}

struct TensorSpec {
    std::string name;
    std::string dtype = "F32";
    std::string shape;    // JSON, e.g. "[2,784]"
    std::string bytes;    // appended to the data buffer in order
    std::string offsets;  // JSON; empty: the real [begin,end] of `bytes`
};

struct ModelSpec {
    std::map<std::string, std::string> metadata{
        {"format", "mnistnn"}, {"format_version", "1"}, {"activation", "relu"}};
    std::vector<TensorSpec> tensors;
    std::string raw_header;  // replaces the generated JSON when not empty
    std::uint64_t length = 0;  // header length to write; 0: the real one
    std::string trailing;      // bytes after the tensors
};

std::string json_string(const std::string& s) { return "\"" + s + "\""; }

std::string build(const ModelSpec& spec) {
    std::string json = "{";
    if (!spec.metadata.empty()) {
        json += "\"__metadata__\":{";
        bool first = true;
        for (const auto& [k, v] : spec.metadata) {
            if (!first) json += ",";
            first = false;
            json += json_string(k) + ":" + json_string(v);
        }
        json += "}";
    }
    std::string data;
    for (const auto& t : spec.tensors) {
        const std::string offsets = t.offsets.empty() ? "[" + std::to_string(data.size()) + "," +
                                                            std::to_string(data.size() + t.bytes.size()) + "]"
                                                      : t.offsets;
        data += t.bytes;
        if (json.size() > 1) json += ",";
        json += json_string(t.name) + ":{\"dtype\":" + json_string(t.dtype) + ",\"shape\":" + t.shape +
                ",\"data_offsets\":" + offsets + "}";
    }
    json += "}";
    if (!spec.raw_header.empty()) json = spec.raw_header;
    json.append((8 - json.size() % 8) % 8, ' ');
    return le64(spec.length != 0 ? spec.length : json.size()) + json + data + spec.trailing;
}

// A valid model with `hidden` units, as the tensors W1 [H,784], b1 [H], W2 [10,H], b2 [10].
ModelSpec model_spec(std::size_t hidden = 2) {
    ModelSpec m;
    const std::string h = std::to_string(hidden);
    m.metadata["hidden"] = h;
    m.tensors = {{"W1", "F32", "[" + h + ",784]", floats(hidden * 784), ""},
                 {"b1", "F32", "[" + h + "]", floats(hidden), ""},
                 {"W2", "F32", "[10," + h + "]", floats(10 * hidden), ""},
                 {"b2", "F32", "[10]", floats(10), ""}};
    return m;
}

TensorSpec& tensor(ModelSpec& m, const std::string& name) {
    for (auto& t : m.tensors)
        if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
}

// ---------------------------------------------------------------------------------------------
// A folder with a small labelled CSV and a model trained on it, as a user would have.

class WithGoodModel : public ::testing::Test {
protected:
    void SetUp() override {
        write_text(dir.file("good.csv"), csv(30));
        const auto r = run({"train", "--data", "good.csv", "--holdout", "5", "--iters", "3", "--quiet"}, dir.path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        model_before = read_text(dir.file("model.safetensors"));
        ASSERT_GT(model_before.size(), 8u);
    }

    void expect_model_untouched() const {
        EXPECT_EQ(read_text(dir.file("model.safetensors")), model_before) << "the existing model was changed";
        EXPECT_TRUE(temp_files(dir.path()).empty()) << "temporary file left: " << temp_files(dir.path()).front();
    }

    TempDir dir;
    std::string model_before;
};

// =============================================================================================
// Bad CSV given to `train --data`: one case per test.

struct CsvCase {
    const char* name;
    std::function<void(const std::string& path)> make;  // writes the bad input at `path`
    int exit_code;
    std::vector<std::string> needles;  // besides the file name
};

void write_bytes(const std::string& path, const std::string& bytes) { write_text(path, bytes); }

std::string with_field(int row, int col, const std::string& value) {
    auto f = fields(row);
    f[static_cast<std::size_t>(col)] = value;
    return join(f);
}

std::vector<CsvCase> csv_cases() {
    const std::string h = header();
    return {
        {"EmptyFile", [](const std::string& p) { write_bytes(p, ""); }, 1, {"bad.csv:1:1", "empty file"}},
        {"HeaderOnly", [h](const std::string& p) { write_bytes(p, h + "\n"); }, 1, {"bad.csv:2:1", "no data rows"}},
        {"HeaderNotKaggle",
         [](const std::string& p) { write_bytes(p, "id,x,y\n1,2,3\n"); }, 1,
         {"bad.csv:1:1", "expected header 'label,pixel0,...,pixel783'", "'id,x,y'"}},
        {"HeaderWithAMisspelledColumn",
         [h](const std::string& p) {
             std::string bad = h;
             bad.replace(bad.find("pixel17,"), 8, "pixle17,");
             write_bytes(p, bad + "\n" + data_row(0) + "\n");
         },
         1, {"bad.csv:1:19 (pixel17)", "'pixle17"}},
        {"NoHeader", [](const std::string& p) { write_bytes(p, data_row(1) + "\n" + data_row(2) + "\n"); }, 1,
         {"bad.csv:1:1", "no header row"}},
        {"RowWithTooFewFields",
         [](const std::string& p) {
             auto f = fields(2);
             f.resize(500);
             write_bytes(p, csv_with_row(2, join(f)));
         },
         1, {"bad.csv:4:501 (pixel499)", "expected 785 fields, found only 500"}},
        {"RowWithTooManyFields",
         [](const std::string& p) { write_bytes(p, csv_with_row(1, data_row(1) + ",7,8")); }, 1,
         {"bad.csv:3:786", "expected 785 fields, found 787"}},
        {"EmptyField", [](const std::string& p) { write_bytes(p, csv_with_row(3, with_field(3, 101, ""))); }, 1,
         {"bad.csv:5:102 (pixel100)", "an empty field"}},
        {"NonNumber", [](const std::string& p) { write_bytes(p, csv_with_row(0, with_field(0, 5, "abc"))); }, 1,
         {"bad.csv:2:6 (pixel4)", "expected an integer 0-255, found 'abc'"}},
        {"NegativePixel", [](const std::string& p) { write_bytes(p, csv_with_row(4, with_field(4, 300, "-3"))); }, 1,
         {"bad.csv:6:301 (pixel299)", "found '-3'"}},
        {"PixelAbove255", [](const std::string& p) { write_bytes(p, csv_with_row(2, with_field(2, 784, "256"))); }, 1,
         {"bad.csv:4:785 (pixel783)", "expected an integer 0-255, found '256'"}},
        {"LabelAbove9", [](const std::string& p) { write_bytes(p, csv_with_row(1, with_field(1, 0, "10"))); }, 1,
         {"bad.csv:3:1 (label)", "expected an integer 0-9, found '10'"}},
        {"NegativeLabel", [](const std::string& p) { write_bytes(p, csv_with_row(1, with_field(1, 0, "-1"))); }, 1,
         {"bad.csv:3:1 (label)", "found '-1'"}},
        {"FloatPixel", [](const std::string& p) { write_bytes(p, csv_with_row(3, with_field(3, 50, "12.5"))); }, 1,
         {"bad.csv:5:51 (pixel49)", "found '12.5'"}},
        {"FloatLabel", [](const std::string& p) { write_bytes(p, csv_with_row(0, with_field(0, 0, "3.0"))); }, 1,
         {"bad.csv:2:1 (label)", "found '3.0'"}},
        {"CrOnlyLineEnds",
         [](const std::string& p) {
             std::string text = csv(4);
             std::replace(text.begin(), text.end(), '\n', '\r');
             write_bytes(p, text);
         },
         1, {"bad.csv:1:", "CR-only"}},
        {"NulByteInsideARow",
         [](const std::string& p) {
             std::string row = data_row(2);
             row[row.find(',', 100) + 1] = '\0';
             write_bytes(p, csv_with_row(2, row));
         },
         1, {"bad.csv:4:", "NUL byte"}},
        {"NulBytesAfterTheHeader",
         [h](const std::string& p) { write_bytes(p, h + "\n" + std::string(64, '\0')); }, 1,
         {"bad.csv:2:1", "NUL byte"}},
        {"TenMegabyteLine",
         [h](const std::string& p) {
             std::string line = "1";
             line.reserve(10u << 20);
             while (line.size() < (10u << 20)) line += ",0";
             write_bytes(p, h + "\n" + line + "\n");
         },
         1, {"bad.csv:2:786", "expected 785 fields"}},
        {"TenMegabyteHeaderLine",
         [](const std::string& p) { write_bytes(p, std::string(10u << 20, 'x') + "\n1,2\n"); }, 1,
         {"bad.csv:1:1", "expected header"}},
        {"PngFile",
         [](const std::string& p) {
             write_bytes(p, std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x1c\0\0\0\x1c\x08\0\0\0\0", 29));
         },
         1, {"bad.csv:1:1", "PNG"}},
        {"ZipFile", [](const std::string& p) { write_bytes(p, std::string("PK\x03\x04\x14\0\0\0\x08\0", 10) + "x"); },
         1, {"bad.csv:1:1", "ZIP"}},
        {"IdxLabelsFile",
         [](const std::string& p) { write_bytes(p, be32(0x801) + be32(3) + std::string("\x01\x02\x03", 3)); }, 1,
         {"bad.csv", "IDX label file"}},
        {"TruncatedIdxImagesFile",
         [](const std::string& p) { write_bytes(p, be32(0x803) + be32(2) + be32(28) + be32(28) + std::string(900, '\0')); },
         1, {"bad.csv", "file truncated"}},
        {"FileTruncatedMidRow",
         [](const std::string& p) {
             const std::string text = csv(3);
             write_bytes(p, text.substr(0, text.size() - 700));
         },
         1, {"bad.csv:4:", "is the file truncated?"}},
        {"TruncatedGzip",
         [](const std::string& p) {
             const std::string z = gzip(csv(5));
             write_bytes(p, z.substr(0, z.size() / 2));
         },
         1, {"bad.csv", "truncated"}},
        {"EmptyLineBetweenRows",
         [](const std::string& p) { write_bytes(p, header() + "\n" + data_row(0) + "\n\n" + data_row(1) + "\n"); }, 1,
         {"bad.csv:3:1", "empty line"}},
        {"SemicolonSeparated",
         [](const std::string& p) {
             std::string text = csv(2);
             std::replace(text.begin(), text.end(), ',', ';');
             write_bytes(p, text);
         },
         1, {"bad.csv:1:1", "separator must be a comma"}},
        {"Directory", [](const std::string& p) { fs::create_directory(p); }, 1, {"bad.csv", "Is a directory"}},
        {"Missing", [](const std::string&) {}, 1, {"'bad.csv' not found"}},
    };
}

void PrintTo(const CsvCase& c, std::ostream* os) { *os << c.name; }

class BadCsv : public WithGoodModel, public ::testing::WithParamInterface<CsvCase> {};

TEST_P(BadCsv, TrainRefusesWithOneLineAndKeepsTheModel) {
    const CsvCase& c = GetParam();
    c.make(dir.file("bad.csv"));
    const auto r = run({"train", "--data", "bad.csv", "--holdout", "1", "--iters", "2"}, dir.path());
    std::vector<std::string> needles = c.needles;
    expect_refusal(r, c.exit_code, needles);
    expect_model_untouched();
}

INSTANTIATE_TEST_SUITE_P(Train, BadCsv, ::testing::ValuesIn(csv_cases()),
                         [](const ::testing::TestParamInfo<CsvCase>& p) { return std::string(p.param.name); });

// IDX files of the rows csv(rows) holds: images (magic 0x803, rows×28×28) and labels (0x801).
std::string idx_images(int rows) {
    std::string s = be32(0x803) + be32(static_cast<std::uint32_t>(rows)) + be32(28) + be32(28);
    for (int r = 0; r < rows; ++r) {
        const std::vector<int> v = row_values(r);
        for (std::size_t i = 1; i < v.size(); ++i) s += static_cast<char>(v[i]);
    }
    return s;
}

std::string idx_labels(int rows) {
    std::string s = be32(0x801) + be32(static_cast<std::uint32_t>(rows));
    for (int r = 0; r < rows; ++r) s += static_cast<char>(row_values(r)[0]);
    return s;
}

// An IDX images file is recognised by its magic bytes (raw or gzip) and loads; without --labels
// it has no labels, and train and eval say so (a usage problem, exit 2), pointing at --labels
// rather than at a CSV label column.
std::vector<std::string> idx_without_labels_needles(const std::string& file, const std::string& purpose) {
    return {"'" + file + "' is an IDX image file, which holds no labels: " + purpose +
            "; give its IDX label file with --labels FILE"};
}

TEST_F(WithGoodModel, IdxImagesWithoutLabelsIsRefusedByTrain) {
    write_text(dir.file("images.idx"), idx_images(30));
    write_text(dir.file("images.idx.gz"), gzip(idx_images(30)));
    for (const std::string file : {"images.idx", "images.idx.gz"}) {
        const auto r = run({"train", "--data", file, "--holdout", "1", "--iters", "2"}, dir.path());
        expect_refusal(r, 2, idx_without_labels_needles(file, "training needs labelled data"));
        EXPECT_EQ(r.err.find("label column"), std::string::npos) << r.err;
        expect_model_untouched();
    }
}

TEST_F(WithGoodModel, IdxImagesWithoutLabelsIsRefusedByEval) {
    write_text(dir.file("images.idx"), idx_images(30));
    write_text(dir.file("images.idx.gz"), gzip(idx_images(30)));
    for (const std::string file : {"images.idx", "images.idx.gz"}) {
        const auto r = run({"eval", "--data", file}, dir.path());
        expect_refusal(r, 2, idx_without_labels_needles(file, "eval needs labelled data to score against"));
        EXPECT_EQ(r.err.find("label column"), std::string::npos) << r.err;
    }
}

// The same IDX files with --labels: train, and eval both ways (the model's recorded split, which
// reloads the recorded label file, and --data with --labels).
TEST_F(WithGoodModel, IdxImagesWithLabelsTrainAndEvaluate) {
    write_text(dir.file("images.idx"), idx_images(30));
    write_text(dir.file("labels.idx.gz"), gzip(idx_labels(30)));
    const auto t = run({"train", "--data", "images.idx", "--labels", "labels.idx.gz", "--holdout", "5", "--iters", "3",
                        "--quiet", "--model", "idx.safetensors"},
                       dir.path());
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const auto held_out = run({"eval", "--json", "--model", "idx.safetensors"}, dir.path());
    ASSERT_EQ(held_out.exit_code, 0) << held_out.err;
    EXPECT_NE(held_out.out.find("\"rows\":5"), std::string::npos) << held_out.out;
    const auto all = run({"eval", "--json", "--model", "idx.safetensors", "--data", "images.idx", "--labels",
                          "labels.idx.gz"},
                         dir.path());
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_NE(all.out.find("\"rows\":30"), std::string::npos) << all.out;
    expect_model_untouched();
}

// A data file the user may not read: run as nobody (as root, permission bits do not apply).
TEST_F(WithGoodModel, UnreadableCsvIsRefused) {
    write_text(dir.file("secret.csv"), csv(5));
    ASSERT_EQ(::chmod(dir.file("secret.csv").c_str(), 0000), 0);
    ::chmod(dir.path().c_str(), 0755);
    give_to_test_user(dir.path());
    const auto r = run({"train", "--data", "secret.csv", "--holdout", "1", "--iters", "2"}, dir.path(), drop_privileges());
    expect_refusal(r, 1, {"secret.csv", "Permission denied"});
    expect_model_untouched();
}

// =============================================================================================
// Bad model files given to `eval --model X` and `predict --model X --index 0`.

struct ModelCase {
    const char* name;
    std::function<std::string()> bytes;
    std::vector<std::string> needles;  // besides the file name
};

std::vector<ModelCase> model_cases() {
    return {
        {"EmptyFile", [] { return std::string(); }, {"too short for the 8-byte header length"}},
        {"ShorterThanTheLength", [] { return std::string("\x10\0\0", 3); }, {"too short"}},
        {"Truncated",
         [] {
             const std::string good = build(model_spec());
             return good.substr(0, good.size() - 1000);
         },
         {"beyond the"}},
        {"TruncatedInsideTheHeader",
         [] {
             const std::string good = build(model_spec());
             return good.substr(0, 60);
         },
         {"exceeds the file size"}},
        {"HeaderLengthLargerThanTheFile",
         [] {
             ModelSpec m = model_spec();
             m.length = 1u << 20;
             return build(m);
         },
         {"header length 1048576 exceeds the file size"}},
        {"HeaderLengthOver100MB",
         [] {
             ModelSpec m = model_spec();
             m.length = 150'000'000;
             return build(m);
         },
         {"header length 150000000 exceeds the 100 MB limit"}},
        {"HeaderLengthHuge",
         [] {
             ModelSpec m = model_spec();
             m.length = std::numeric_limits<std::uint64_t>::max();
             return build(m);
         },
         {"exceeds the 100 MB limit"}},
        {"InvalidJson",
         [] {
             ModelSpec m = model_spec();
             m.raw_header = "{\"W1\": {\"dtype\": \"F32\", \"shape\": [2,784], ";
             return build(m);
         },
         {"header is not valid JSON"}},
        {"NotJsonAtAll",
         [] {
             ModelSpec m = model_spec();
             m.raw_header = "hello, world";
             return build(m);
         },
         {"not a JSON object"}},
        {"MissingTensor",
         [] {
             ModelSpec m = model_spec();
             m.tensors.erase(m.tensors.begin() + 2);  // W2
             return build(m);
         },
         {"missing tensor 'W2'"}},
        {"WrongDtype",
         [] {
             ModelSpec m = model_spec();
             TensorSpec& b1 = tensor(m, "b1");
             b1.dtype = "F64";
             b1.shape = "[1]";
             return build(m);
         },
         {"tensor 'b1'", "dtype F64 is not supported (expected F32)"}},
        {"UnknownDtype",
         [] {
             ModelSpec m = model_spec();
             tensor(m, "b2").dtype = "F33";
             return build(m);
         },
         {"unknown dtype 'F33'"}},
        {"ShapeNotMatchingTheByteRange",
         [] {
             ModelSpec m = model_spec();
             tensor(m, "b2").shape = "[11]";
             return build(m);
         },
         {"tensor 'b2'", "shape [11] needs 44 bytes but data_offsets span 40"}},
        {"OverlappingOffsets",
         [] {
             ModelSpec m = model_spec();
             tensor(m, "b2").offsets = "[0,40]";
             return build(m);
         },
         {"overlap"}},
        {"OffsetsOutsideTheFile",
         [] {
             ModelSpec m = model_spec();
             tensor(m, "b2").offsets = "[1099511627776,1099511627816]";
             return build(m);
         },
         {"tensor 'b2' ends at 1099511627816 beyond the"}},
        {"OffsetsBeginAfterEnd",
         [] {
             ModelSpec m = model_spec();
             tensor(m, "b2").offsets = "[40,0]";
             return build(m);
         },
         {"begin > end"}},
        {"BytesBelongingToNoTensor",
         [] {
             ModelSpec m = model_spec();
             m.trailing = "garbage!";
             return build(m);
         },
         {"belong to no tensor"}},
        {"HiddenSizeZero",
         [] {
             ModelSpec m = model_spec(0);
             return build(m);
         },
         {"hidden size 0 is out of range 1..4096"}},
        {"HiddenSizeAbsurdlyLarge",
         [] {
             ModelSpec m = model_spec();
             m.metadata["hidden"] = "1000000";
             TensorSpec& w1 = tensor(m, "W1");
             w1.shape = "[1000000,784]";
             w1.offsets = "[0,3136000000]";
             return build(m);
         },
         {"tensor 'W1'"}},
        {"HiddenSizeJustAboveTheLimit", [] { return build(model_spec(4097)); },
         {"hidden size 4097 is out of range 1..4096"}},
        {"HiddenMetadataDisagrees",
         [] {
             ModelSpec m = model_spec();
             m.metadata["hidden"] = "3";
             return build(m);
         },
         {"metadata says hidden size '3' but W1 has 2 rows"}},
        {"W2ShapeDisagreesWithW1",
         [] {
             ModelSpec m = model_spec();
             TensorSpec& w2 = tensor(m, "W2");
             w2.shape = "[2,10]";
             return build(m);
         },
         {"tensor 'W2' has shape [2,10], expected [10,2]"}},
        {"UnknownFormatVersion",
         [] {
             ModelSpec m = model_spec();
             m.metadata["format_version"] = "2";
             return build(m);
         },
         {"unknown format version '2'"}},
        {"NotAnMnistnnModel",
         [] {
             ModelSpec m = model_spec();
             m.metadata.erase("format");
             return build(m);
         },
         {"not an mnistnn model"}},
        {"UnknownActivation",
         [] {
             ModelSpec m = model_spec();
             m.metadata["activation"] = "tanh";
             return build(m);
         },
         {"unknown activation 'tanh'"}},
        {"NanInTheWeights",
         [] {
             ModelSpec m = model_spec();
             TensorSpec& w1 = tensor(m, "W1");
             w1.bytes.replace(4 * 100, 4, f32le(std::numeric_limits<float>::quiet_NaN()));
             return build(m);
         },
         {"tensor 'W1' contains NaN or infinity at index 100"}},
        {"InfinityInTheBias",
         [] {
             ModelSpec m = model_spec();
             TensorSpec& b2 = tensor(m, "b2");
             b2.bytes.replace(4 * 9, 4, f32le(-std::numeric_limits<float>::infinity()));
             return build(m);
         },
         {"tensor 'b2' contains NaN or infinity at index 9"}},
        {"DuplicateKey",
         [] {
             ModelSpec m = model_spec();
             m.raw_header = "{\"a\":{},\"a\":{}}";
             return build(m);
         },
         {"the key 'a' twice"}},
        {"DeeplyNestedJson",
         [] {
             ModelSpec m = model_spec();
             m.raw_header = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
             return build(m);
         },
         {"nested too deeply"}},
        {"CsvGivenAsModel", [] { return csv(3); }, {"exceeds the"}},
    };
}

enum class Command { Eval, Predict };

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }
void PrintTo(Command c, std::ostream* os) { *os << (c == Command::Eval ? "eval" : "predict"); }

class BadModel : public WithGoodModel,
                 public ::testing::WithParamInterface<std::tuple<Command, ModelCase>> {};

TEST_P(BadModel, RefusedWithOneLine) {
    const auto& [command, c] = GetParam();
    write_text(dir.file("bad.safetensors"), c.bytes());
    const std::string before = read_text(dir.file("bad.safetensors"));
    std::vector<std::string> args = command == Command::Eval
                                        ? std::vector<std::string>{"eval", "--model", "bad.safetensors", "--data", "good.csv"}
                                        : std::vector<std::string>{"predict", "--model", "bad.safetensors", "--index", "0"};
    const auto r = run(args, dir.path());
    std::vector<std::string> needles = c.needles;
    needles.insert(needles.begin(), "bad.safetensors");
    expect_refusal(r, 1, needles);
    EXPECT_EQ(read_text(dir.file("bad.safetensors")), before);
    expect_model_untouched();
}

INSTANTIATE_TEST_SUITE_P(Files, BadModel,
                         ::testing::Combine(::testing::Values(Command::Eval, Command::Predict),
                                            ::testing::ValuesIn(model_cases())),
                         [](const ::testing::TestParamInfo<std::tuple<Command, ModelCase>>& p) {
                             return std::string(std::get<0>(p.param) == Command::Eval ? "Eval_" : "Predict_") +
                                    std::get<1>(p.param).name;
                         });

// The hand-built valid model really is valid: the bad cases above fail for their own reason.
TEST_F(WithGoodModel, HandBuiltModelIsAccepted) {
    write_text(dir.file("built.safetensors"), build(model_spec(3)));
    const auto e = run({"eval", "--model", "built.safetensors", "--data", "good.csv"}, dir.path());
    EXPECT_EQ(e.exit_code, 0) << e.err;
    const auto p = run({"predict", "--model", "built.safetensors", "--data", "good.csv", "--index", "0"}, dir.path());
    EXPECT_EQ(p.exit_code, 0) << p.err;
}

TEST_F(WithGoodModel, ModelThatIsADirectoryIsRefused) {
    fs::create_directory(dir.file("adir.safetensors"));
    for (const auto& args : {std::vector<std::string>{"eval", "--model", "adir.safetensors", "--data", "good.csv"},
                             std::vector<std::string>{"predict", "--model", "adir.safetensors", "--index", "0"}}) {
        expect_refusal(run(args, dir.path()), 1, {"adir.safetensors", "Is a directory"});
    }
}

TEST_F(WithGoodModel, UnreadableModelIsRefused) {
    ::chmod(dir.path().c_str(), 0755);
    write_text(dir.file("secret.safetensors"), model_before);
    ASSERT_EQ(::chmod(dir.file("secret.safetensors").c_str(), 0000), 0);
    give_to_test_user(dir.path());
    const auto r = run({"eval", "--model", "secret.safetensors", "--data", "good.csv"}, dir.path(), drop_privileges());
    expect_refusal(r, 1, {"secret.safetensors", "Permission denied"});
}

// =============================================================================================
// Command lines.

struct ArgsCase {
    const char* name;
    std::vector<std::string> args;
    int exit_code;
    std::vector<std::string> needles;
};

std::vector<ArgsCase> args_cases() {
    const auto train = [](const std::vector<std::string>& extra) {
        std::vector<std::string> args{"train", "--data", "good.csv"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    return {
        {"AlphaZero", train({"--alpha", "0"}), 2, {"--alpha", "finite number > 0"}},
        {"AlphaNegative", train({"--alpha", "-0.5"}), 2, {"--alpha", "finite number > 0"}},
        {"AlphaNan", train({"--alpha", "nan"}), 2, {"--alpha", "finite number > 0"}},
        {"AlphaInfinite", train({"--alpha", "inf"}), 2, {"--alpha", "finite number > 0"}},
        {"AlphaOverflowing", train({"--alpha", "1e999"}), 2,
         {"--alpha: 1e999 is out of range (must be a finite number > 0)"}},
        {"AlphaOverflowingNegative", train({"--alpha", "-1e999"}), 2,
         {"--alpha: -1e999 is out of range (must be a finite number > 0)"}},
        {"AlphaUnderflowing", train({"--alpha", "1e-999"}), 2,
         {"--alpha: 1e-999 is out of range (too close to 0 for a double; must be a finite number > 0)"}},
        {"EpsOverflowing", train({"--optimizer", "adam", "--eps", "1e999"}), 2,
         {"--eps: 1e999 is out of range (must be a finite number > 0)"}},
        {"MomentumOverflowing", train({"--optimizer", "momentum", "--momentum", "1e999"}), 2,
         {"--momentum: 1e999 is out of range (must be in [0, 1))"}},
        {"Beta2Overflowing", train({"--optimizer", "adam", "--beta2", "-1e999"}), 2,
         {"--beta2: -1e999 is out of range (must be in [0, 1))"}},
        {"L2Overflowing", train({"--l2", "1e999"}), 2, {"--l2: 1e999 is out of range (must be a finite number >= 0)"}},
        {"LrStepGammaOverflowing", train({"--lr-decay", "step", "--lr-step-every", "5", "--lr-step-gamma", "1e999"}), 2,
         {"--lr-step-gamma: 1e999 is out of range (must be in (0, 1])"}},
        {"AlphaEmpty", train({"--alpha", ""}), 2, {"--alpha", "'' is not a number"}},
        {"AlphaNotANumber", train({"--alpha", "fast"}), 2, {"--alpha", "'fast' is not a number"}},
        {"ItersNegative", train({"--iters", "-1"}), 2, {"--iters"}},
        {"ItersNotANumber", train({"--iters", "many"}), 2, {"--iters"}},
        {"HoldoutEqualToRows", train({"--holdout", "30"}), 2, {"holdout", "at most 29"}},
        {"HoldoutAboveRows", train({"--holdout", "1000"}), 2, {"holdout", "at most 29"}},
        {"HoldoutNegative", train({"--holdout", "-1"}), 2, {"--holdout", "-1"}},
        {"HiddenZero", train({"--hidden", "0"}), 2, {"--hidden"}},
        {"UnknownOption", train({"--alpah", "0.1"}), 2, {"--alpah"}},
        {"NoSubcommand", {}, 2, {"subcommand"}},
        {"IndexEqualToRows", {"predict", "--index", "30"}, 2, {"index 30 is out of range", "has 30 rows (valid 0..29)"}},
        {"IndexFarOutOfRange", {"predict", "--index", "1000000"}, 2, {"index 1000000 is out of range"}},
        {"IndexNegative", {"predict", "--index", "-1"}, 2, {"index -1 is out of range"}},
        {"IndexNotANumber", {"predict", "--index", "first"}, 2, {"--index"}},
        {"IndexOutOfRangeOfOtherData",
         {"predict", "--data", "other.csv", "--index", "7"}, 2, {"index 7 is out of range", "other.csv has 7 rows"}},
        {"SameFileForDataAndModel", train({"--model", "good.csv"}), 2, {"same file", "good.csv"}},
        {"SameFileForDataAndModelSpelledDifferently", train({"--model", "./sub/../good.csv"}), 2, {"same file"}},
        {"ModelFolderMissing", train({"--model", "no/such/folder/m.safetensors"}), 1,
         {"no/such/folder", "does not exist"}},
        {"ModelPathIsAFolder", train({"--model", "sub"}), 2, {"'sub' is a directory"}},
        {"SubmissionFolderMissing",
         {"predict", "--data", "good.csv", "--out", "missing/sub.csv"}, 1, {"missing", "does not exist"}},
        {"SubmissionOverwritesData", {"predict", "--data", "good.csv", "--out", "good.csv"}, 2, {"same file"}},
        {"SubmissionOverwritesModel",
         {"predict", "--data", "good.csv", "--out", "model.safetensors"}, 2, {"same file"}},
    };
}

void PrintTo(const ArgsCase& c, std::ostream* os) {
    *os << c.name << ": mnistnn";
    for (const auto& a : c.args) *os << ' ' << a;
}

class BadArgs : public WithGoodModel, public ::testing::WithParamInterface<ArgsCase> {
protected:
    void SetUp() override {
        WithGoodModel::SetUp();
        fs::create_directory(dir.file("sub"));
        write_text(dir.file("other.csv"), csv(7));
    }
};

TEST_P(BadArgs, RefusedWithOneLine) {
    const ArgsCase& c = GetParam();
    const std::string data_before = read_text(dir.file("good.csv"));
    const auto r = run(c.args, dir.path());
    expect_refusal(r, c.exit_code, c.needles);
    EXPECT_EQ(read_text(dir.file("good.csv")), data_before);
    expect_model_untouched();
}

INSTANTIATE_TEST_SUITE_P(Cli, BadArgs, ::testing::ValuesIn(args_cases()),
                         [](const ::testing::TestParamInfo<ArgsCase>& p) { return std::string(p.param.name); });

// A folder the user may not write to (as root every folder is writable: run as nobody).
TEST_F(WithGoodModel, ModelFolderNotWritableIsRefusedBeforeTraining) {
    ::chmod(dir.path().c_str(), 0755);
    fs::create_directory(dir.file("readonly"));
    ::chmod(dir.file("readonly").c_str(), 0555);
    give_to_test_user(dir.path());
    const auto r = run({"train", "--data", "good.csv", "--iters", "2", "--holdout", "5", "--model", "readonly/m.safetensors"},
                       dir.path(), drop_privileges());
    expect_refusal(r, 1, {"readonly", "not writable", "Permission denied"});
    EXPECT_TRUE(fs::is_empty(dir.file("readonly")));
    expect_model_untouched();
}

TEST_F(WithGoodModel, SubmissionFolderNotWritableIsRefused) {
    ::chmod(dir.path().c_str(), 0755);
    fs::create_directory(dir.file("readonly"));
    ::chmod(dir.file("readonly").c_str(), 0555);
    give_to_test_user(dir.path());
    const auto r = run({"predict", "--data", "good.csv", "--out", "readonly/sub.csv"}, dir.path(), drop_privileges());
    expect_refusal(r, 1, {"readonly", "not writable"});
    EXPECT_TRUE(fs::is_empty(dir.file("readonly")));
}

// A writable model file in a folder the user may not write to: the save (temp file + rename)
// is refused before training, and the file is not rewritten in place either.
TEST_F(WithGoodModel, ExistingModelInReadOnlyFolderIsKept) {
    ::chmod(dir.path().c_str(), 0755);
    fs::create_directory(dir.file("ro"));
    fs::copy_file(dir.file("model.safetensors"), dir.file("ro/model.safetensors"));
    ::chmod(dir.file("ro/model.safetensors").c_str(), 0666);
    give_to_test_user(dir.path());
    ::chmod(dir.file("ro").c_str(), 0555);
    const auto r = run({"train", "--data", "good.csv", "--iters", "2", "--holdout", "5", "--model", "ro/model.safetensors"},
                       dir.path(), drop_privileges());
    expect_refusal(r, 1, {"ro", "not writable"});
    EXPECT_EQ(read_text(dir.file("ro/model.safetensors")), model_before);
    EXPECT_TRUE(temp_files(dir.file("ro")).empty());
}

// =============================================================================================
// Nothing lost: SIGKILL, SIGINT/SIGTERM and divergence during training.

class LongTraining : public WithGoodModel {
protected:
    void SetUp() override {
        WithGoodModel::SetUp();
        write_text(dir.file("big.csv"), csv(3000));
    }

    // Starts `train` on big.csv for far more iterations than a test waits, logging every
    // iteration, and returns once it has logged `iterations` iteration lines.
    Child start(const std::vector<std::string>& extra, int iterations = 1) {
        std::vector<std::string> args{"train", "--data", "big.csv", "--iters", std::to_string(kIters), "--holdout", "100",
                                      "--log-every", "1", "--hidden", "16"};
        args.insert(args.end(), extra.begin(), extra.end());
        Child child = spawn(args, dir.path(), capture);
        const bool logged = wait_for(
            [&] {
                const std::string err = read_text(child.err_path);
                std::size_t n = 0;
                for (std::size_t pos = 0; (pos = err.find("\niter ", pos)) != std::string::npos; ++pos) ++n;
                return n >= static_cast<std::size_t>(iterations);
            },
            60);
        if (!logged) {
            ::kill(child.pid, SIGKILL);
            finish(child);
            ADD_FAILURE() << "training logged no iteration within 60 s: " << read_text(child.err_path);
        }
        return child;
    }

    static constexpr int kIters = 100000;
    TempDir capture;
};

TEST_F(LongTraining, SigkillLeavesTheOldModelIntactAndNoTempFile) {
    const Child child = start({});
    ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
    const auto r = finish(child);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
    expect_model_untouched();
}

int logged_iteration(const std::string& err) {
    // The last "iter N" line before the final message.
    const auto pos = err.rfind("\niter ");
    return pos == std::string::npos ? -1 : std::atoi(err.c_str() + pos + 6);
}

TEST_F(LongTraining, SigintWithoutSaveOnInterruptKeepsTheOldModel) {
    const Child child = start({}, 3);
    ASSERT_EQ(::kill(child.pid, SIGINT), 0);
    const auto r = finish(child);
    EXPECT_EQ(r.exit_code, 130) << r.err;
    const std::string message = last_line(r.err);
    EXPECT_EQ(message.rfind("mnistnn: interrupted after ", 0), 0u) << r.err;
    EXPECT_NE(message.find(" of 100000 iterations"), std::string::npos) << message;
    EXPECT_NE(message.find("no model written"), std::string::npos) << message;
    EXPECT_NE(message.find("--save-on-interrupt"), std::string::npos) << message;
    const int done = std::atoi(message.c_str() + std::strlen("mnistnn: interrupted after "));
    EXPECT_GE(done, logged_iteration(r.err.substr(0, r.err.size() - message.size() - 1)));
    EXPECT_LT(done, kIters);
    EXPECT_TRUE(r.out.empty()) << r.out;
    expect_model_untouched();
}

TEST_F(LongTraining, SigtermWithoutSaveOnInterruptKeepsTheOldModel) {
    const Child child = start({});
    ASSERT_EQ(::kill(child.pid, SIGTERM), 0);
    const auto r = finish(child);
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_NE(last_line(r.err).find("no model written"), std::string::npos) << r.err;
    expect_model_untouched();
}

TEST_F(LongTraining, SigintWithSaveOnInterruptSavesAValidPartialModel) {
    const Child child = start({"--save-on-interrupt"}, 3);
    ASSERT_EQ(::kill(child.pid, SIGINT), 0);
    const auto r = finish(child);
    EXPECT_EQ(r.exit_code, 130) << r.err;
    const std::string message = last_line(r.err);
    EXPECT_EQ(message.rfind("mnistnn: interrupted after ", 0), 0u) << r.err;
    EXPECT_NE(message.find("saved the partial model to model.safetensors"), std::string::npos) << message;
    const int done = std::atoi(message.c_str() + std::strlen("mnistnn: interrupted after "));

    const std::string after = read_text(dir.file("model.safetensors"));
    EXPECT_NE(after, model_before);
    EXPECT_TRUE(temp_files(dir.path()).empty());
    const Model m = load_model(dir.file("model.safetensors"));
    EXPECT_EQ(m.metadata.at("interrupted"), "true");
    const int iters = std::stoi(m.metadata.at("iters"));
    EXPECT_EQ(iters, done);
    EXPECT_GE(iters, 3);
    EXPECT_LT(iters, kIters);
    EXPECT_EQ(m.params.hidden(), 16);
    // The partial model is usable.
    const auto e = run({"eval"}, dir.path());
    EXPECT_EQ(e.exit_code, 0) << e.err;
}

// Divergence to NaN/inf: with ReLU, a learning rate of 1e11 or more overflows the weights
// within two iterations on this data (every seed tried; smaller rates up to 1e10 give a huge
// but finite loss, and a model is saved).
TEST_F(WithGoodModel, DivergenceStopsEarlyNamesTheIterationAndWritesNothing) {
    write_text(dir.file("big.csv"), csv(300));
    // The message shows alpha in its shortest form ("1e+12", not std::to_string's "1000000000000.000000").
    for (const auto& [alpha, shown] : {std::pair<std::string, std::string>{"1e12", "1e+12"}, {"1e30", "1e+30"}}) {
        const auto r = run({"train", "--data", "big.csv", "--iters", "100000", "--holdout", "10", "--alpha", alpha,
                            "--quiet"},
                           dir.path());
        expect_failure_after_banner(r, 1, {"training diverged at iteration ", "the loss is",
                                           "smaller --alpha (it was " + shown + ")"});
        // The named iteration is early: the run stopped as soon as the loss was not finite.
        const auto at = r.err.find("diverged at iteration ");
        ASSERT_NE(at, std::string::npos);
        EXPECT_LE(std::atoi(r.err.c_str() + at + std::strlen("diverged at iteration ")), 5) << r.err;
        expect_model_untouched();
    }
    // Nothing is written where there was no model either.
    const auto r = run({"train", "--data", "big.csv", "--iters", "1000", "--holdout", "10", "--alpha", "1e12",
                        "--model", "new.safetensors", "--quiet"},
                       dir.path());
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_FALSE(fs::exists(dir.file("new.safetensors")));
    EXPECT_TRUE(temp_files(dir.path()).empty());
}

// =============================================================================================
// Bounded memory: reading a large malformed file never uses memory in proportion to what the
// file claims, only to its size. Measured as the child's peak RSS (works under ASan too, where
// address-space limits do not).

class BoundedMemory : public WithGoodModel {
protected:
    // Peak RSS of refusing a tiny malformed CSV: the program's own baseline.
    long baseline_kb() {
        write_text(dir.file("tiny-bad.csv"), "x\n");
        const auto r = run({"train", "--data", "tiny-bad.csv", "--iters", "1"}, dir.path());
        EXPECT_EQ(r.exit_code, 1) << r.err;
        return r.max_rss_kb;
    }
};

TEST_F(BoundedMemory, TenMegabyteCsvLine) {
    const long base = baseline_kb();
    std::string line = "1";
    while (line.size() < (10u << 20)) line += ",255";
    write_text(dir.file("long.csv"), header() + "\n" + line + "\n");
    const auto r = run({"train", "--data", "long.csv", "--iters", "1"}, dir.path());
    expect_refusal(r, 1, {"long.csv:2:786"});
    // The line reader keeps a 48 MiB buffer; allow that, the file (10 MiB) a few times over,
    // and sanitizer overhead, but nothing like the 2.6 million fields x 784 it claims.
    const long allowed = base + 160 * 1024;
    EXPECT_LT(r.max_rss_kb, allowed) << "peak RSS " << r.max_rss_kb / 1024 << " MiB, baseline " << base / 1024 << " MiB";
    expect_model_untouched();
}

TEST_F(BoundedMemory, ModelHeaderClaimingAFourGigabyteTensor) {
    const long base = baseline_kb();
    ModelSpec m = model_spec();
    TensorSpec& w1 = tensor(m, "W1");
    w1.shape = "[1400000,784]";  // 4.39e9 bytes of F32
    w1.offsets = "[0,4390400000]";
    m.metadata["hidden"] = "1400000";
    write_text(dir.file("huge.safetensors"), build(m));
    for (const auto& args :
         {std::vector<std::string>{"eval", "--model", "huge.safetensors", "--data", "good.csv"},
          std::vector<std::string>{"predict", "--model", "huge.safetensors", "--index", "0", "--data", "good.csv"}}) {
        const auto r = run(args, dir.path());
        expect_refusal(r, 1, {"huge.safetensors", "tensor 'W1'"});
        EXPECT_LT(r.max_rss_kb, base + 64 * 1024) << "peak RSS " << r.max_rss_kb / 1024 << " MiB";
    }
}

TEST_F(BoundedMemory, SparseModelFileLargerThanTheLimit) {
    // 2 GiB on disk (sparse): refused from its size, before anything is read.
    const std::string path = dir.file("sparse.safetensors");
    write_text(path, build(model_spec()));
    ASSERT_EQ(::truncate(path.c_str(), 2LL << 30), 0);
    const long base = baseline_kb();
    const auto r = run({"eval", "--model", "sparse.safetensors", "--data", "good.csv"}, dir.path());
    expect_refusal(r, 1, {"sparse.safetensors", "more than the 1024 MiB a model file may have"});
    EXPECT_LT(r.max_rss_kb, base + 64 * 1024);
}

}  // namespace
}  // namespace mnistnn
