#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "test_util.hpp"

// ---------------------------------------------------------------------------------------------
// Allocation tracking: records the largest single operator-new request while enabled, so a
// test can prove that a header claiming huge tensors is refused without allocating for them.
// (Skipped under AddressSanitizer, which owns operator new.)
#if defined(__SANITIZE_ADDRESS__)
#define MNISTNN_TRACK_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MNISTNN_TRACK_ALLOCATIONS 0
#endif
#endif
#ifndef MNISTNN_TRACK_ALLOCATIONS
#define MNISTNN_TRACK_ALLOCATIONS 1
#endif

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest_allocation{0};
}  // namespace

#if MNISTNN_TRACK_ALLOCATIONS
// Not inlined, so GCC does not see malloc()/free() meet new/delete (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
    if (g_tracking.load(std::memory_order_relaxed)) {
        std::size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
        while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
        }
    }
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace mnistnn {
namespace {

using test::f32le;
using test::le64;
using test::read_text;
using test::TempDir;
using test::write_text;
using nlohmann::json;


// ---------------------------------------------------------------------------------------------
// Building files byte by byte

std::string floats(std::size_t n, float value = 0.25f) {
    const std::string one = f32le(value);
    std::string s(n * 4, '\0');
    for (std::size_t i = 0; i < n; ++i) s.replace(i * 4, 4, one);
    return s;
}

// u64 LE header length + header text + data buffer.
std::string raw_file(const std::string& header, const std::string& buffer = "") {
    return le64(header.size()) + header + buffer;
}

struct Spec {
    std::string name;
    std::string shape;          // JSON text, e.g. "[3,784]"
    std::string data;           // the tensor's bytes, appended to the buffer in order
    std::string dtype = "F32";
    std::string offsets = "";   // JSON text; empty: [begin,end] of `data` in the buffer
};

// A safetensors file from tensor specs (in the given order), optional __metadata__ JSON and
// optional stray bytes after the last tensor.
std::string build(const std::vector<Spec>& specs, const std::string& metadata = "",
                  const std::string& trailing = "") {
    std::string header = "{";
    std::string buffer;
    if (!metadata.empty()) header += "\"__metadata__\":" + metadata;
    for (const Spec& spec : specs) {
        const std::string offsets =
            spec.offsets.empty() ? "[" + std::to_string(buffer.size()) + "," +
                                       std::to_string(buffer.size() + spec.data.size()) + "]"
                                 : spec.offsets;
        buffer += spec.data;
        if (header.size() > 1) header += ",";
        header += "\"" + spec.name + "\":{\"dtype\":\"" + spec.dtype + "\",\"shape\":" + spec.shape +
                  ",\"data_offsets\":" + offsets + "}";
    }
    header += "}";
    return raw_file(header, buffer + trailing);
}

std::string metadata_json(const std::string& format = "mnistnn", const std::string& version = "1",
                          const std::string& activation = "relu", const std::string& extra = "") {
    return R"({"format":")" + format + R"(","format_version":")" + version + R"(","activation":")" +
           activation + "\"" + extra + "}";
}

// The four parameter tensors of an H-hidden model, every value 0.25.
std::vector<Spec> model_specs(std::size_t h) {
    const std::string hs = std::to_string(h);
    return {{"W1", "[" + hs + ",784]", floats(h * kPixels)},
            {"b1", "[" + hs + "]", floats(h)},
            {"W2", "[10," + hs + "]", floats(kClasses * h)},
            {"b2", "[10]", floats(kClasses)}};
}

std::vector<Spec> without(std::vector<Spec> specs, const std::string& name) {
    specs.erase(std::remove_if(specs.begin(), specs.end(), [&](const Spec& s) { return s.name == name; }),
                specs.end());
    return specs;
}

Spec& find_spec(std::vector<Spec>& specs, const std::string& name) {
    for (Spec& s : specs)
        if (s.name == name) return s;
    throw std::logic_error("no spec " + name);
}

// Writes `bytes` to a file and loads it; succeeds if load_model throws ModelFormatError whose
// message names the file and contains `expected`.
::testing::AssertionResult refused(const std::string& bytes, const std::string& expected) {
    TempDir dir;
    const std::string path = dir.file("bad.safetensors");
    write_text(path, bytes);
    try {
        load_model(path);
    } catch (const ModelFormatError& e) {
        const std::string msg = e.what();
        if (msg.rfind(path + ": ", 0) != 0)
            return ::testing::AssertionFailure() << "message does not start with the path: " << msg;
        if (msg.find(expected) == std::string::npos)
            return ::testing::AssertionFailure() << "message lacks \"" << expected << "\": " << msg;
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "wrong exception type: " << e.what();
    }
    return ::testing::AssertionFailure() << "file was accepted";
}

// ---------------------------------------------------------------------------------------------
// Models with random parameters

Params random_params(int h, std::uint32_t seed, Activation activation = Activation::ReLU) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
    const auto fill = [&](auto& m) {
        for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = dist(gen);
    };
    Params p;
    p.W1.resize(h, kPixels);
    p.b1.resize(h);
    p.W2.resize(kClasses, h);
    p.b2.resize(kClasses);
    fill(p.W1);
    fill(p.b1);
    fill(p.W2);
    fill(p.b2);
    // Values whose bits a sloppy conversion would not preserve.
    p.W1(0, 0) = -0.0f;
    p.W1(h - 1, 783) = std::numeric_limits<float>::denorm_min();
    p.b2(9) = std::numeric_limits<float>::max();
    p.b2(0) = -std::numeric_limits<float>::min();
    p.activation = activation;
    return p;
}

template <typename M>
bool bit_identical(const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0;
}

void expect_params_identical(const Params& a, const Params& b) {
    EXPECT_TRUE(bit_identical(a.W1, b.W1));
    EXPECT_TRUE(bit_identical(a.b1, b.b1));
    EXPECT_TRUE(bit_identical(a.W2, b.W2));
    EXPECT_TRUE(bit_identical(a.b2, b.b2));
    EXPECT_EQ(a.activation, b.activation);
}

Model sample_model(int h, std::uint32_t seed, Activation activation = Activation::ReLU) {
    Model m;
    m.params = random_params(h, seed, activation);
    m.metadata["seed"] = std::to_string(seed);
    m.metadata["note"] = "h\xC3\xA9llo \xE2\x9C\x93 \"quoted\" \\ back";
    m.metadata["empty"] = "";
    m.extra_tensors["adam_m"] = Tensor{{2, 3}, {1, 2, 3, 4, 5, -6}};
    m.extra_tensors["step"] = Tensor{{}, {42.0f}};  // a scalar: shape [] holds one value
    m.extra_tensors["nothing"] = Tensor{{0}, {}};   // empty tensor: zero-length range
    return m;
}

// The header JSON and data buffer of a file written by us.
struct Parsed {
    std::uint64_t header_length = 0;
    json header;
    std::string buffer;
};

Parsed parse_raw(const std::string& bytes) {
    Parsed p;
    for (int i = 0; i < 8; ++i)
        p.header_length |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]))
                           << (8 * i);
    p.header = json::parse(bytes.substr(8, p.header_length));
    p.buffer = bytes.substr(8 + p.header_length);
    return p;
}

float float_at(const std::string& buffer, std::size_t offset) {
    std::uint32_t bits = 0;
    for (int i = 0; i < 4; ++i)
        bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(buffer[offset + static_cast<std::size_t>(i)]))
                << (8 * i);
    float f = 0;
    std::memcpy(&f, &bits, 4);
    return f;
}

// =============================================================================================
// Round trips

class RoundTrip : public ::testing::TestWithParam<int> {};

TEST_P(RoundTrip, SaveThenLoadIsBitIdentical) {
    const int h = GetParam();
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    const Model model = sample_model(h, 1234u + static_cast<std::uint32_t>(h));
    save_model(path, model);
    const Model loaded = load_model(path);

    expect_params_identical(model.params, loaded.params);
    for (const auto& [key, value] : model.metadata) EXPECT_EQ(loaded.metadata.at(key), value) << key;
    EXPECT_EQ(loaded.metadata.at("format"), "mnistnn");
    EXPECT_EQ(loaded.metadata.at("format_version"), "1");
    EXPECT_EQ(loaded.metadata.at("activation"), "relu");
    EXPECT_EQ(loaded.metadata.at("hidden"), std::to_string(h));
    EXPECT_EQ(loaded.metadata.size(), model.metadata.size() + 4);
    ASSERT_EQ(loaded.extra_tensors.size(), 3u);
    for (const auto& [name, tensor] : model.extra_tensors) {
        const Tensor& got = loaded.extra_tensors.at(name);
        EXPECT_EQ(got.shape, tensor.shape) << name;
        EXPECT_EQ(got.values, tensor.values) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Hidden, RoundTrip, ::testing::Values(1, 3, 10, 64));

TEST(ModelFile, LayoutIsRowMajorLittleEndianWithAlignedHeader) {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    Model model;
    model.params = random_params(10, 7);
    model.params.W1(2, 5) = 1.5f;   // 0x3FC00000
    model.params.W2(9, 1) = -2.0f;  // 0xC0000000
    save_model(path, model);

    const std::string bytes = read_text(path);
    const Parsed p = parse_raw(bytes);
    EXPECT_EQ(p.header_length % 8, 0u);
    EXPECT_EQ((8 + p.header_length) % 8, 0u);
    EXPECT_EQ(bytes.substr(8, 1), "{");
    // Tensors are stored in name order, back to back.
    const auto range = [&](const std::string& name) {
        const auto& o = p.header.at(name).at("data_offsets");
        return std::pair<std::size_t, std::size_t>(o[0].get<std::size_t>(), o[1].get<std::size_t>());
    };
    EXPECT_EQ(range("W1"), std::make_pair(std::size_t{0}, std::size_t{10 * 784 * 4}));
    EXPECT_EQ(range("W2").first, range("W1").second);
    EXPECT_EQ(range("b1").first, range("W2").second);
    EXPECT_EQ(range("b2").first, range("b1").second);
    EXPECT_EQ(range("b2").second, p.buffer.size());
    EXPECT_EQ(p.header.at("W1").at("dtype"), "F32");
    EXPECT_EQ(p.header.at("W1").at("shape"), json::array({10, 784}));
    EXPECT_EQ(p.header.at("W2").at("shape"), json::array({10, 10}));
    EXPECT_EQ(p.header.at("b1").at("shape"), json::array({10}));
    EXPECT_EQ(p.header.at("__metadata__").at("format"), "mnistnn");
    EXPECT_EQ(p.header.at("__metadata__").at("hidden"), "10");

    // W1(2,5), row-major: element 2*784+5 of W1's range; the bytes spelled out by hand.
    const std::size_t w1_25 = range("W1").first + (2 * 784 + 5) * 4;
    EXPECT_EQ(p.buffer.substr(w1_25, 4), std::string("\x00\x00\xC0\x3F", 4));
    const std::size_t w2_91 = range("W2").first + (9 * 10 + 1) * 4;
    EXPECT_EQ(p.buffer.substr(w2_91, 4), std::string("\x00\x00\x00\xC0", 4));
    // And a few more elements against the matrices.
    for (const auto& [r, c] : {std::pair{0, 0}, std::pair{9, 783}, std::pair{4, 100}})
        EXPECT_EQ(float_at(p.buffer, range("W1").first + static_cast<std::size_t>(r * 784 + c) * 4),
                  model.params.W1(r, c));
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(float_at(p.buffer, range("b2").first + static_cast<std::size_t>(i) * 4),
                  model.params.b2(i));
}

TEST(ModelFile, ActivationRoundTrips) {
    TempDir dir;
    const std::string path = dir.file("m.safetensors");
    Model model;
    model.params = random_params(3, 5, Activation::Sigmoid);
    save_model(path, model);
    const Model loaded = load_model(path);
    EXPECT_EQ(loaded.params.activation, Activation::Sigmoid);
    EXPECT_EQ(loaded.metadata.at("activation"), "sigmoid");
}

TEST(ModelFile, SaveOverridesReservedMetadata) {
    TempDir dir;
    const std::string path = dir.file("m.safetensors");
    Model model;
    model.params = random_params(3, 5);
    model.metadata = {{"format", "bogus"}, {"format_version", "9"}, {"activation", "tanh"},
                      {"hidden", "77"}, {"kept", "yes"}};
    save_model(path, model);
    const Model loaded = load_model(path);
    EXPECT_EQ(loaded.metadata.at("format"), "mnistnn");
    EXPECT_EQ(loaded.metadata.at("format_version"), "1");
    EXPECT_EQ(loaded.metadata.at("activation"), "relu");
    EXPECT_EQ(loaded.metadata.at("hidden"), "3");
    EXPECT_EQ(loaded.metadata.at("kept"), "yes");
}

TEST(ModelFile, LargestHiddenSizeRoundTrips) {
    TempDir dir;
    const std::string path = dir.file("big.safetensors");
    Model model;
    model.params = random_params(kMaxHidden, 11);
    save_model(path, model);
    expect_params_identical(model.params, load_model(path).params);
}

TEST(ModelFile, SaveRejectsInconsistentParams) {
    TempDir dir;
    const std::string path = dir.file("m.safetensors");
    write_text(path, "previous");
    Model model;
    model.params = random_params(3, 1);
    model.params.b1.resize(4);
    EXPECT_THROW(save_model(path, model), UsageError);
    model.params = random_params(3, 1);
    model.extra_tensors["W1"] = Tensor{{1}, {0.0f}};
    EXPECT_THROW(save_model(path, model), UsageError);
    model.extra_tensors.clear();
    model.params.W1.resize(kMaxHidden + 1, kPixels);
    model.params.b1.resize(kMaxHidden + 1);
    model.params.W2.resize(kClasses, kMaxHidden + 1);
    EXPECT_THROW(save_model(path, model), UsageError);
    EXPECT_EQ(read_text(path), "previous");
}

TEST(ModelFile, SaveReplacesAnExistingModel) {
    TempDir dir;
    const std::string path = dir.file("m.safetensors");
    Model first;
    first.params = random_params(10, 1);
    save_model(path, first);
    Model second;
    second.params = random_params(3, 2);
    save_model(path, second);
    expect_params_identical(second.params, load_model(path).params);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}), 1);
}

TEST(ModelFile, SaveIntoMissingFolderIsIoError) {
    TempDir dir;
    Model model;
    model.params = random_params(3, 1);
    EXPECT_THROW(save_model(dir.file("missing/m.safetensors"), model), IoError);
}

// =============================================================================================
// Generic safetensors reading and writing

TEST(Safetensors, WriteReadRoundTrip) {
    TempDir dir;
    const std::string path = dir.file("t.safetensors");
    SafetensorsFile file;
    file.metadata = {{"a", "1"}, {"b", ""}};
    file.tensors["x"] = Tensor{{2, 2}, {1, 2, 3, 4}};
    file.tensors["y"] = Tensor{{1, 1, 3}, {-1, 0.5f, 7}};
    write_safetensors(path, file);
    const SafetensorsFile back = read_safetensors(path);
    EXPECT_EQ(back.metadata, file.metadata);
    ASSERT_EQ(back.tensors.size(), 2u);
    EXPECT_EQ(back.tensors.at("x").shape, file.tensors.at("x").shape);
    EXPECT_EQ(back.tensors.at("x").values, file.tensors.at("x").values);
    EXPECT_EQ(back.tensors.at("y").values, file.tensors.at("y").values);
}

TEST(Safetensors, EmptyFileHasPaddedEmptyHeader) {
    TempDir dir;
    const std::string path = dir.file("t.safetensors");
    write_safetensors(path, SafetensorsFile{});
    EXPECT_EQ(read_text(path), raw_file("{}      "));
    const SafetensorsFile back = read_safetensors(path);
    EXPECT_TRUE(back.tensors.empty());
    EXPECT_TRUE(back.metadata.empty());
}

TEST(Safetensors, WriteRejectsValueCountNotMatchingShape) {
    TempDir dir;
    SafetensorsFile file;
    file.tensors["x"] = Tensor{{2, 3}, {1, 2, 3}};
    EXPECT_THROW(write_safetensors(dir.file("t"), file), UsageError);
    file.tensors["x"] = Tensor{{-1}, {}};
    EXPECT_THROW(write_safetensors(dir.file("t"), file), UsageError);
    EXPECT_FALSE(std::filesystem::exists(dir.file("t")));
}

// Files written by other tools: unpadded or space-padded header, other key order, tensors
// stored in a different order than their names, other whitespace, zero-length tensors.
TEST(Safetensors, AcceptsOtherValidLayouts) {
    TempDir dir;
    const std::string path = dir.file("t.safetensors");
    const std::string header =
        "{\n  \"z\": {\"data_offsets\": [0, 8], \"shape\": [2], \"dtype\": \"F32\"},\n"
        "  \"__metadata__\": {\"k\": \"v\"},\n"
        "  \"e\": {\"shape\": [0, 5], \"dtype\": \"F32\", \"data_offsets\": [8, 8]},\n"
        "  \"a\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [8, 12]}\n}   ";
    write_text(path, raw_file(header, f32le(1.0f) + f32le(2.0f) + f32le(-3.5f)));
    const SafetensorsFile file = read_safetensors(path);
    EXPECT_EQ(file.metadata.at("k"), "v");
    EXPECT_EQ(file.tensors.at("z").values, (std::vector<float>{1.0f, 2.0f}));
    EXPECT_EQ(file.tensors.at("a").shape, std::vector<std::int64_t>{});
    EXPECT_EQ(file.tensors.at("a").values, std::vector<float>{-3.5f});
    EXPECT_EQ(file.tensors.at("e").shape, (std::vector<std::int64_t>{0, 5}));
    EXPECT_TRUE(file.tensors.at("e").values.empty());
}

TEST(Safetensors, ModelWithTensorsInAnotherOrderLoads) {
    std::vector<Spec> specs = model_specs(3);
    std::reverse(specs.begin(), specs.end());
    find_spec(specs, "b2").data = floats(10, -1.0f);
    TempDir dir;
    const std::string path = dir.file("m.safetensors");
    write_text(path, build(specs, metadata_json()));
    const Model m = load_model(path);
    EXPECT_EQ(m.params.hidden(), 3);
    EXPECT_EQ(m.params.b2(4), -1.0f);
    EXPECT_EQ(m.params.W1(2, 783), 0.25f);
}

TEST(Safetensors, MissingFileIsIoErrorNamingPath) {
    TempDir dir;
    const std::string path = dir.file("absent.safetensors");
    try {
        load_model(path);
        FAIL() << "no error";
    } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
    }
}

TEST(Safetensors, DirectoryIsIoErrorNamingPath) {
    TempDir dir;
    try {
        read_safetensors(dir.path());
        FAIL() << "no error";
    } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find(dir.path()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("Is a directory"), std::string::npos) << e.what();
    }
}

// =============================================================================================
// Malformed files: each one built byte by byte

TEST(Malformed, EmptyFile) { EXPECT_TRUE(refused("", "file is 0 bytes, too short for the 8-byte header length")); }

TEST(Malformed, ShorterThanLengthPrefix) {
    EXPECT_TRUE(refused(std::string("\x02\x00\x00\x00\x00", 5), "file is 5 bytes, too short for the 8-byte header length"));
}

TEST(Malformed, EveryTruncationIsRefused) {
    TempDir dir;
    const std::string good_path = dir.file("good.safetensors");
    Model model = sample_model(3, 99);
    save_model(good_path, model);
    const std::string good = read_text(good_path);
    ASSERT_NO_THROW(load_model(good_path));
    const std::string path = dir.file("cut.safetensors");
    int refusals = 0;
    for (std::size_t cut = 0; cut < good.size(); ++cut) {
        // A new file each time: truncating and rewriting one file makes ext4 flush it.
        std::filesystem::remove(path);
        write_text(path, good.substr(0, cut));
        try {
            load_model(path);
            ADD_FAILURE() << "accepted a file cut at " << cut << " of " << good.size();
        } catch (const ModelFormatError&) {
            ++refusals;
        } catch (const std::exception& e) {
            ADD_FAILURE() << "cut at " << cut << ": wrong exception: " << e.what();
        }
    }
    EXPECT_EQ(refusals, static_cast<int>(good.size()));
}

TEST(Malformed, HeaderLengthBeyondFile) {
    EXPECT_TRUE(refused(le64(999999) + "{}", "header length 999999 exceeds the file size 10"));
}

TEST(Malformed, HeaderLengthOver100MB) {
    EXPECT_TRUE(refused(le64(100'000'001) + "{}", "header length 100000001 exceeds the 100 MB limit"));
    EXPECT_TRUE(refused(le64(std::numeric_limits<std::uint64_t>::max()) + "{}", "exceeds the 100 MB limit"));
}

TEST(Malformed, EmptyHeader) { EXPECT_TRUE(refused(raw_file("", floats(2)), "header is empty")); }

TEST(Malformed, InvalidJson) {
    EXPECT_TRUE(refused(raw_file(R"({"W1": {"dtype": "F32",)"), "header is not valid JSON"));
    EXPECT_TRUE(refused(raw_file(R"({"W1": 1,})"), "header is not valid JSON"));
    EXPECT_TRUE(refused(raw_file(R"({} trailing)"), "header is not valid JSON"));
    EXPECT_TRUE(refused(raw_file("{\"a\xFF\": 1}"), "header is not valid JSON"));  // invalid UTF-8
}

TEST(Malformed, HeaderNotAnObject) {
    EXPECT_TRUE(refused(raw_file("[1, 2]  "), "header is not a JSON object"));
    EXPECT_TRUE(refused(raw_file("\"text\""), "header is not a JSON object"));
    EXPECT_TRUE(refused(raw_file(" {}"), "header is not a JSON object"));  // must start with '{'
}

TEST(Malformed, DuplicateTensorName) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    EXPECT_TRUE(refused(raw_file(header, floats(2)), "header JSON has the key 'a' twice"));
}

TEST(Malformed, DeeplyNestedJson) {
    const std::string header = "{\"x\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
    EXPECT_TRUE(refused(raw_file(header), "nested too deeply"));
}

TEST(Malformed, TensorEntryNotAnObject) {
    EXPECT_TRUE(refused(raw_file(R"({"W1":[1,2]})"), "tensor 'W1': entry must be an object"));
}

TEST(Malformed, MissingEntryFields) {
    EXPECT_TRUE(refused(raw_file(R"({"W1":{"shape":[1],"data_offsets":[0,4]}})", floats(1)),
                        "tensor 'W1': missing 'dtype'"));
    EXPECT_TRUE(refused(raw_file(R"({"W1":{"dtype":"F32","data_offsets":[0,4]}})", floats(1)),
                        "tensor 'W1': missing 'shape'"));
    EXPECT_TRUE(refused(raw_file(R"({"W1":{"dtype":"F32","shape":[1]}})", floats(1)),
                        "tensor 'W1': missing 'data_offsets'"));
}

TEST(Malformed, MissingTensor) {
    EXPECT_TRUE(refused(build(without(model_specs(3), "b1"), metadata_json()), "missing tensor 'b1'"));
    EXPECT_TRUE(refused(build(without(model_specs(3), "W1"), metadata_json()), "missing tensor 'W1'"));
    EXPECT_TRUE(refused(build(without(model_specs(3), "b2"), metadata_json()), "missing tensor 'b2'"));
}

TEST(Malformed, DtypeF16IsKnownButUnsupported) {
    auto specs = model_specs(3);
    Spec& w1 = find_spec(specs, "W1");
    w1.dtype = "F16";
    w1.data = std::string(3 * 784 * 2, '\0');
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'W1': dtype F16 is not supported (expected F32)"));
}

TEST(Malformed, UnknownDtype) {
    auto specs = model_specs(3);
    find_spec(specs, "b1").dtype = "F33";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b1': unknown dtype 'F33'"));
    find_spec(specs, "b1").dtype = "f32";  // dtypes are case-sensitive
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b1': unknown dtype 'f32'"));
}

TEST(Malformed, ShapeDoesNotMatchByteRange) {
    auto specs = model_specs(3);
    find_spec(specs, "W1").data = floats(25);
    EXPECT_TRUE(refused(build(specs, metadata_json()),
                        "tensor 'W1': shape [3,784] needs 9408 bytes but data_offsets span 100"));
}

TEST(Malformed, NegativeShapeEntry) {
    auto specs = model_specs(3);
    find_spec(specs, "b1").shape = "[-3]";
    EXPECT_TRUE(refused(build(specs, metadata_json()),
                        "tensor 'b1': shape entries must be non-negative integers, got -3"));
}

TEST(Malformed, NonIntegerShapeEntry) {
    auto specs = model_specs(3);
    find_spec(specs, "b1").shape = "[3.0]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "shape entries must be non-negative integers, got 3.0"));
    find_spec(specs, "b1").shape = "[\"3\"]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "shape entries must be non-negative integers, got \"3\""));
    find_spec(specs, "b1").shape = "3";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b1': shape must be an array"));
}

TEST(Malformed, BadDataOffsets) {
    auto specs = model_specs(3);
    find_spec(specs, "b2").offsets = "[9500]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b2': data_offsets must be [begin, end]"));
    find_spec(specs, "b2").offsets = "[-1, 39]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b2': data_offsets must be [begin, end]"));
    find_spec(specs, "b2").offsets = "[0.5, 40.5]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b2': data_offsets must be [begin, end]"));
}

TEST(Malformed, OverlappingOffsets) {
    const std::vector<Spec> specs = {{"a", "[2]", floats(2), "F32", "[0,8]"},
                                     {"b", "[2]", floats(1), "F32", "[4,12]"}};
    EXPECT_TRUE(refused(build(specs), "tensors 'a' and 'b' overlap"));
}

TEST(Malformed, ZeroLengthTensorInsideAnother) {
    const std::vector<Spec> specs = {{"a", "[2]", floats(2), "F32", "[0,8]"},
                                     {"e", "[0]", "", "F32", "[4,4]"}};
    EXPECT_TRUE(refused(build(specs), "tensors 'a' and 'e' overlap"));
}

TEST(Malformed, OffsetsBeyondTheBuffer) {
    const std::vector<Spec> specs = {{"a", "[100]", floats(100)},
                                     {"b2", "[2]", "", "F32", "[991,999]"}};
    EXPECT_TRUE(refused(build(specs), "tensor 'b2' ends at 999 beyond the 400-byte data buffer"));
}

TEST(Malformed, HoleInTheBuffer) {
    const std::vector<Spec> specs = {{"a", "[10]", floats(10) + floats(2), "F32", "[0,40]"},
                                     {"b", "[2]", floats(2), "F32", "[48,56]"}};
    EXPECT_TRUE(refused(build(specs), "bytes 40..48 of the data buffer belong to no tensor"));
}

TEST(Malformed, HoleAtTheStartOfTheBuffer) {
    const std::vector<Spec> specs = {{"a", "[1]", floats(2), "F32", "[4,8]"}};
    EXPECT_TRUE(refused(build(specs), "bytes 0..4 of the data buffer belong to no tensor"));
}

TEST(Malformed, TrailingBytesAfterTheLastTensor) {
    EXPECT_TRUE(refused(build(model_specs(3), metadata_json(), "junk"),
                        "bytes 9580..9584 of the data buffer belong to no tensor"));
}

TEST(Malformed, BeginAfterEnd) {
    const std::vector<Spec> specs = {{"a", "[1]", floats(2), "F32", "[8,4]"}};
    EXPECT_TRUE(refused(build(specs), "tensor 'a': data_offsets [8,4] have begin > end"));
}

TEST(Malformed, HiddenSizeZero) {
    EXPECT_TRUE(refused(build(model_specs(0), metadata_json()), "hidden size 0 is out of range 1..4096"));
}

TEST(Malformed, HiddenSizeTooLargeButCorrectlySized) {
    EXPECT_TRUE(refused(build(model_specs(5000), metadata_json()), "hidden size 5000 is out of range 1..4096"));
}

// A small file whose header claims enormous tensors is refused before anything is allocated
// for them.
TEST(Malformed, HugeShapeInSmallFileIsRefusedWithoutAllocating) {
    struct Case {
        std::string header;
        std::string expected;
    };
    const std::vector<Case> cases = {
        // Offsets consistent with the shape (940 MB), far beyond the 16-byte buffer.
        {R"({"W1":{"dtype":"F32","shape":[300000,784],"data_offsets":[0,940800000]}})",
         "tensor 'W1' ends at 940800000 beyond the 16-byte data buffer"},
        // Offsets that do not match the shape.
        {R"({"W1":{"dtype":"F32","shape":[5000000000000,784],"data_offsets":[0,16]}})",
         "tensor 'W1': shape [5000000000000,784] needs 15680000000000000 bytes but data_offsets span 16"},
        // Element count overflowing 64 bits.
        {R"({"W1":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,16]}})",
         "tensor 'W1': shape [4611686018427387904,4611686018427387904] is too large"},
        {R"({"W1":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]}})",
         "is too large"},
        {R"({"W1":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,16]}})",
         "shape entry 18446744073709551615 is too large"},
    };
    for (const Case& c : cases) {
        g_largest_allocation = 0;
        g_tracking = true;
        const auto result = refused(raw_file(c.header, floats(4)), c.expected);
        g_tracking = false;
        EXPECT_TRUE(result) << c.header;
        if (MNISTNN_TRACK_ALLOCATIONS) {
            EXPECT_GT(g_largest_allocation.load(), 0u) << "allocation tracking is not active";
            EXPECT_LT(g_largest_allocation.load(), std::size_t{1} << 20) << c.header;
        }
    }
}

TEST(Malformed, WrongShapes) {
    auto specs = model_specs(3);
    find_spec(specs, "W1").shape = "[2352]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'W1' has shape [2352], expected [H,784]"));

    specs = model_specs(3);
    find_spec(specs, "W1").shape = "[784,3]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'W1' has shape [784,3], expected [H,784]"));

    specs = model_specs(3);
    find_spec(specs, "b1") = {"b1", "[4]", floats(4)};
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b1' has shape [4], expected [3]"));

    specs = model_specs(3);
    find_spec(specs, "W2").shape = "[3,10]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'W2' has shape [3,10], expected [10,3]"));

    specs = model_specs(3);
    find_spec(specs, "b2").shape = "[1,10]";
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b2' has shape [1,10], expected [10]"));
}

TEST(Malformed, HiddenMetadataDisagreesWithW1) {
    EXPECT_TRUE(refused(build(model_specs(3), metadata_json("mnistnn", "1", "relu", R"(,"hidden":"4")")),
                        "metadata says hidden size '4' but W1 has 3 rows"));
}

TEST(Malformed, UnknownFormatVersion) {
    EXPECT_TRUE(refused(build(model_specs(3), metadata_json("mnistnn", "2")),
                        "unknown format version '2' (this mnistnn reads version 1)"));
    EXPECT_TRUE(refused(build(model_specs(3), R"({"format":"mnistnn","activation":"relu"})"),
                        "no 'format_version'"));
}

TEST(Malformed, NotAnMnistnnModel) {
    EXPECT_TRUE(refused(build(model_specs(3), metadata_json("pytorch")), "not an mnistnn model"));
    EXPECT_TRUE(refused(build(model_specs(3), R"({"format":"pt"})"), "not an mnistnn model"));
    EXPECT_TRUE(refused(build(model_specs(3)), "not an mnistnn model"));  // no metadata at all
}

TEST(Malformed, UnknownActivation) {
    EXPECT_TRUE(refused(build(model_specs(3), metadata_json("mnistnn", "1", "tanh")), "unknown activation 'tanh'"));
    EXPECT_TRUE(refused(build(model_specs(3), R"({"format":"mnistnn","format_version":"1"})"), "'activation'"));
}

TEST(Malformed, NaNInWeights) {
    auto specs = model_specs(3);
    find_spec(specs, "W2").data.replace(17 * 4, 4, f32le(std::numeric_limits<float>::quiet_NaN()));
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'W2' contains NaN or infinity at index 17"));
}

TEST(Malformed, InfinityInWeights) {
    auto specs = model_specs(3);
    find_spec(specs, "b1").data.replace(1 * 4, 4, f32le(-std::numeric_limits<float>::infinity()));
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'b1' contains NaN or infinity at index 1"));
    specs = model_specs(3);
    find_spec(specs, "W1").data.replace(2000 * 4, 4, f32le(std::numeric_limits<float>::infinity()));
    EXPECT_TRUE(refused(build(specs, metadata_json()), "tensor 'W1' contains NaN or infinity at index 2000"));
}

TEST(Malformed, NonStringMetadataValue) {
    EXPECT_TRUE(refused(build(model_specs(3), metadata_json("mnistnn", "1", "relu", R"(,"hidden":3)")),
                        "__metadata__ values must be strings ('hidden' is number)"));
    EXPECT_TRUE(refused(build(model_specs(3), R"(["format","mnistnn"])"), "__metadata__ must be an object"));
}

// =============================================================================================
// Cross-check with an independent reader of the format (pure Python, no third-party modules)

int run_checker(const std::string& args) {
    const std::string script = test::source_path("tests/check_safetensors.py");
    const std::string cmd = "/usr/bin/python3 '" + script + "' " + args + " >/dev/null 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(PythonChecker, AcceptsSavedModelsAndRejectsBrokenFiles) {
    ASSERT_EQ(::access("/usr/bin/python3", X_OK), 0)
        << "/usr/bin/python3 is required to cross-check the file format with tests/check_safetensors.py";
    TempDir dir;
    for (const int h : {3, 10}) {
        const std::string path = dir.file("model" + std::to_string(h) + ".safetensors");
        save_model(path, sample_model(h, static_cast<std::uint32_t>(h)));
        EXPECT_EQ(run_checker("--mnistnn '" + path + "'"), 0) << path;
    }
    // The checker is not a rubber stamp: it rejects what read_safetensors rejects.
    const std::vector<std::string> broken = {
        build(model_specs(3), metadata_json(), "junk"),
        build({{"a", "[2]", floats(2), "F32", "[0,8]"}, {"b", "[2]", floats(1), "F32", "[4,12]"}}),
        build({{"a", "[3]", floats(2)}}),
        build({{"a", "[2]", floats(2), "F33"}}),
        raw_file("{\"a\":1", ""),
        le64(50) + "{}",
    };
    for (std::size_t i = 0; i < broken.size(); ++i) {
        const std::string path = dir.file("broken" + std::to_string(i));
        write_text(path, broken[i]);
        EXPECT_EQ(run_checker("'" + path + "'"), 1) << "case " << i;
    }
    // --mnistnn adds the model checks.
    auto specs = model_specs(3);
    find_spec(specs, "W2").data.replace(0, 4, f32le(std::numeric_limits<float>::quiet_NaN()));
    write_text(dir.file("nan"), build(specs, metadata_json()));
    EXPECT_EQ(run_checker("'" + dir.file("nan") + "'"), 0);
    EXPECT_EQ(run_checker("--mnistnn '" + dir.file("nan") + "'"), 1);
}

}  // namespace
}  // namespace mnistnn
