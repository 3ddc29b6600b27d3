#include "mnistnn/model_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"

namespace mnistnn {
namespace {

using nlohmann::json;

constexpr std::uint64_t kLengthPrefixBytes = 8;        // u64 LE header length
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the safetensors limit ("100 MB")
constexpr std::uint64_t kMaxFileBytes = 1ULL << 30;     // far above any mnistnn model (~13 MB)
constexpr std::uint64_t kF32Bytes = 4;
constexpr std::size_t kHeaderAlignment = 8;
constexpr int kMaxJsonDepth = 8;  // a valid header nests 3 deep ({ "t": { "shape": [ ...)
constexpr std::size_t kEncodeChunkFloats = 1 << 14;
constexpr auto kInputDim = static_cast<std::int64_t>(kPixels);  // 784
constexpr auto kClassDim = static_cast<std::int64_t>(kClasses);  // 10
constexpr const char* kMetadataKey = "__metadata__";

// Every dtype the safetensors spec defines; mnistnn itself reads and writes only F32.
constexpr std::array<std::string_view, 15> kKnownDtypes = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
    "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};

[[noreturn]] void bad(const std::string& path, const std::string& reason) {
    throw ModelFormatError(path + ": " + reason);
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) text += ",";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

// Byte order is spelled out with shifts so the file is little-endian on any host.
void put_u64_le(char* out, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFFu);
}

std::uint64_t get_u64_le(const char* in) {
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i)
        value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    return value;
}

void put_f32_le(char* out, float value) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xFFu);
}

float get_f32_le(const char* in) {
    std::uint32_t bits = 0;
    for (int i = 0; i < 4; ++i)
        bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    float value = 0.0f;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// a·b, or false if it overflows u64.
bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
    out = a * b;
    return true;
}

// ---------------------------------------------------------------------------------------------
// Writing

// Number of elements of a tensor about to be written; the caller's tensors must be consistent.
std::uint64_t checked_element_count(const std::string& name, const Tensor& tensor) {
    std::uint64_t count = 1;
    for (const std::int64_t dim : tensor.shape) {
        if (dim < 0 || !checked_mul(count, static_cast<std::uint64_t>(dim), count))
            throw UsageError("write_safetensors: tensor '" + name + "' has an invalid shape " +
                                        shape_text(tensor.shape));
    }
    if (count != tensor.values.size())
        throw UsageError("write_safetensors: tensor '" + name + "' has " +
                                    std::to_string(tensor.values.size()) + " values but shape " +
                                    shape_text(tensor.shape) + " needs " + std::to_string(count));
    return count;
}

void write_tensor_bytes(std::ostream& out, const std::vector<float>& values) {
    std::vector<char> chunk(kEncodeChunkFloats * kF32Bytes);
    for (std::size_t start = 0; start < values.size(); start += kEncodeChunkFloats) {
        const std::size_t n = std::min(kEncodeChunkFloats, values.size() - start);
        for (std::size_t i = 0; i < n; ++i) put_f32_le(chunk.data() + i * kF32Bytes, values[start + i]);
        out.write(chunk.data(), static_cast<std::streamsize>(n * kF32Bytes));
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

// Closes a file descriptor on scope exit.
class FdGuard {
public:
    explicit FdGuard(int fd) : fd_(fd) {}
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    ~FdGuard() { ::close(fd_); }
    int get() const { return fd_; }

private:
    int fd_;
};

// The whole file in one bounded read: its size is known (fstat) and limited before allocating.
std::string read_file_bytes(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError("cannot open " + path + ": " + std::strerror(errno));
    const FdGuard guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw IoError("cannot read " + path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw IoError("cannot read " + path + ": " + std::strerror(EISDIR));
    if (!S_ISREG(st.st_mode)) throw IoError("cannot read " + path + ": not a regular file");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > kMaxFileBytes)
        bad(path, "file is " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(kMaxFileBytes >> 20) + " MiB a model file may have");

    std::string data(static_cast<std::size_t>(size), '\0');
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t got = ::read(fd, data.data() + done, data.size() - done);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw IoError("cannot read " + path + ": " + std::strerror(errno));
        }
        if (got == 0) throw IoError("cannot read " + path + ": the file shrank while being read");
        done += static_cast<std::size_t>(got);
    }
    return data;
}

// Rejects duplicate keys (the spec's JSON maps a name to one tensor) and absurd nesting.
json parse_header_json(const std::string& path, const char* begin, const char* end) {
    std::vector<std::set<std::string>> open_objects;
    const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (depth >= kMaxJsonDepth) bad(path, "header JSON is nested too deeply");
                if (event == json::parse_event_t::object_start) open_objects.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!open_objects.empty()) open_objects.pop_back();
                break;
            case json::parse_event_t::key:
                if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
                    bad(path, "header JSON has the key '" + parsed.get<std::string>() + "' twice");
                break;
            default:
                break;
        }
        return true;
    };
    try {
        return json::parse(begin, end, check);
    } catch (const json::exception& e) {
        bad(path, std::string("header is not valid JSON: ") + e.what());
    }
}

struct Entry {
    std::string name;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

// A JSON value that is an integer ≥ 0 (floats such as 2.0 are not accepted, as in the
// reference implementation).
bool get_non_negative_integer(const json& value, std::uint64_t& out) {
    if (value.is_number_unsigned()) {
        out = value.get<std::uint64_t>();
        return true;
    }
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
        out = static_cast<std::uint64_t>(value.get<std::int64_t>());
        return true;
    }
    return false;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& info,
                  std::uint64_t buffer_size) {
    const std::string where = "tensor '" + name + "': ";
    if (!info.is_object()) bad(path, where + "entry must be an object with dtype, shape and data_offsets");

    const auto dtype_it = info.find("dtype");
    if (dtype_it == info.end()) bad(path, where + "missing 'dtype'");
    if (!dtype_it->is_string()) bad(path, where + "dtype must be a string");
    const auto& dtype = dtype_it->get_ref<const std::string&>();
    if (std::find(kKnownDtypes.begin(), kKnownDtypes.end(), dtype) == kKnownDtypes.end())
        bad(path, where + "unknown dtype '" + dtype + "'");
    if (dtype != "F32") bad(path, where + "dtype " + dtype + " is not supported (expected F32)");

    Entry entry;
    entry.name = name;
    const auto shape_it = info.find("shape");
    if (shape_it == info.end()) bad(path, where + "missing 'shape'");
    if (!shape_it->is_array()) bad(path, where + "shape must be an array of non-negative integers");
    std::uint64_t elements = 1;
    bool overflow = false;
    for (const json& dim_json : *shape_it) {
        std::uint64_t dim = 0;
        if (!get_non_negative_integer(dim_json, dim))
            bad(path, where + "shape entries must be non-negative integers, got " + dim_json.dump());
        if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            bad(path, where + "shape entry " + std::to_string(dim) + " is too large");
        entry.shape.push_back(static_cast<std::int64_t>(dim));
        if (!overflow && !checked_mul(elements, dim, elements)) overflow = true;
    }
    std::uint64_t needed = 0;
    if (overflow || !checked_mul(elements, kF32Bytes, needed))
        bad(path, where + "shape " + shape_text(entry.shape) + " is too large");

    const auto offsets_it = info.find("data_offsets");
    if (offsets_it == info.end()) bad(path, where + "missing 'data_offsets'");
    if (!offsets_it->is_array() || offsets_it->size() != 2 ||
        !get_non_negative_integer((*offsets_it)[0], entry.begin) ||
        !get_non_negative_integer((*offsets_it)[1], entry.end))
        bad(path, where + "data_offsets must be [begin, end] with non-negative integers, got " +
                      offsets_it->dump());
    const std::string offsets_text =
        "[" + std::to_string(entry.begin) + "," + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end) bad(path, where + "data_offsets " + offsets_text + " have begin > end");
    if (entry.end - entry.begin != needed)
        bad(path, where + "shape " + shape_text(entry.shape) + " needs " + std::to_string(needed) +
                      " bytes but data_offsets span " + std::to_string(entry.end - entry.begin));
    if (entry.end > buffer_size)
        bad(path, where.substr(0, where.size() - 2) + " ends at " + std::to_string(entry.end) +
                      " beyond the " + std::to_string(buffer_size) + "-byte data buffer");
    return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
    if (!value.is_object()) bad(path, "__metadata__ must be an object of strings, got " +
                                          std::string(value.type_name()));
    std::map<std::string, std::string> metadata;
    for (const auto& [key, item] : value.items()) {
        if (!item.is_string())
            bad(path, "__metadata__ values must be strings ('" + key + "' is " +
                          std::string(item.type_name()) + ")");
        metadata.emplace(key, item.get<std::string>());
    }
    return metadata;
}

// The tensors must tile the data buffer exactly: sorted by offset, each begins where the
// previous ended, and the last ends at the end of the buffer.
void check_layout(const std::string& path, std::vector<Entry>& entries, std::uint64_t buffer_size) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    std::uint64_t position = 0;
    const Entry* previous = nullptr;
    for (const Entry& entry : entries) {
        if (entry.begin < position)
            bad(path, "tensors '" + previous->name + "' and '" + entry.name + "' overlap");
        if (entry.begin > position)
            bad(path, "bytes " + std::to_string(position) + ".." + std::to_string(entry.begin) +
                          " of the data buffer belong to no tensor");
        position = entry.end;
        previous = &entry;
    }
    if (position != buffer_size)
        bad(path, "bytes " + std::to_string(position) + ".." + std::to_string(buffer_size) +
                      " of the data buffer belong to no tensor");
}

SafetensorsFile parse_safetensors(const std::string& path, const std::string& data) {
    const std::uint64_t file_size = data.size();
    if (file_size < kLengthPrefixBytes)
        bad(path, "file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
    const std::uint64_t header_size = get_u64_le(data.data());
    if (header_size > kMaxHeaderBytes)
        bad(path, "header length " + std::to_string(header_size) + " exceeds the 100 MB limit");
    if (header_size > file_size - kLengthPrefixBytes)
        bad(path, "header length " + std::to_string(header_size) + " exceeds the file size " +
                      std::to_string(file_size));
    if (header_size == 0) bad(path, "header is empty (expected a JSON object)");

    const char* header_begin = data.data() + kLengthPrefixBytes;
    const char* header_end = header_begin + header_size;
    if (*header_begin != '{') bad(path, "header is not a JSON object (it must start with '{')");
    const json header = parse_header_json(path, header_begin, header_end);
    if (!header.is_object()) bad(path, "header is not a JSON object");

    const std::uint64_t buffer_size = file_size - kLengthPrefixBytes - header_size;
    SafetensorsFile file;
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key == kMetadataKey)
            file.metadata = parse_metadata(path, value);
        else
            entries.push_back(parse_entry(path, key, value, buffer_size));
    }
    check_layout(path, entries, buffer_size);

    // Validated: every range lies inside the buffer, so the allocations below are bounded
    // by the file size.
    const char* buffer = header_end;
    for (const Entry& entry : entries) {
        Tensor tensor;
        tensor.shape = entry.shape;
        const auto count = static_cast<std::size_t>((entry.end - entry.begin) / kF32Bytes);
        tensor.values.resize(count);
        const char* src = buffer + entry.begin;
        for (std::size_t i = 0; i < count; ++i) tensor.values[i] = get_f32_le(src + i * kF32Bytes);
        file.tensors.emplace(entry.name, std::move(tensor));
    }
    return file;
}

// ---------------------------------------------------------------------------------------------
// mnistnn models

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Tensor matrix_tensor(const Eigen::MatrixXf& m) {
    Tensor t;
    t.shape = {static_cast<std::int64_t>(m.rows()), static_cast<std::int64_t>(m.cols())};
    t.values.resize(static_cast<std::size_t>(m.size()));
    Eigen::Map<RowMajorMatrix>(t.values.data(), m.rows(), m.cols()) = m;
    return t;
}

Tensor vector_tensor(const Eigen::VectorXf& v) {
    Tensor t;
    t.shape = {static_cast<std::int64_t>(v.size())};
    t.values.assign(v.data(), v.data() + v.size());
    return t;
}

const Tensor& require_tensor(const std::string& path, const SafetensorsFile& file, const std::string& name,
                             const std::vector<std::int64_t>& expected, const std::string& expected_text) {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) bad(path, "missing tensor '" + name + "'");
    if (it->second.shape != expected)
        bad(path, "tensor '" + name + "' has shape " + shape_text(it->second.shape) + ", expected " +
                      expected_text);
    return it->second;
}

void require_finite(const std::string& path, const std::string& name, const Tensor& tensor) {
    for (std::size_t i = 0; i < tensor.values.size(); ++i)
        if (!std::isfinite(tensor.values[i]))
            bad(path, "tensor '" + name + "' contains NaN or infinity at index " + std::to_string(i));
}

const std::string& require_metadata(const std::string& path, const SafetensorsFile& file,
                                    const std::string& key, const std::string& missing_reason) {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end()) bad(path, missing_reason);
    return it->second;
}

}  // namespace

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
    json header = json::object();
    if (!file.metadata.empty()) header[kMetadataKey] = file.metadata;
    std::uint64_t offset = 0;
    for (const auto& [name, tensor] : file.tensors) {
        if (name == kMetadataKey)
            throw UsageError("write_safetensors: '__metadata__' cannot name a tensor");
        const std::uint64_t bytes = checked_element_count(name, tensor) * kF32Bytes;
        header[name] = {{"dtype", "F32"},
                        {"shape", tensor.shape},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    // Invalid UTF-8 in names or metadata (e.g. from a file path) becomes U+FFFD rather than
    // failing the save.
    std::string text = header.dump(-1, ' ', false, json::error_handler_t::replace);
    text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
    if (text.size() > kMaxHeaderBytes)
        throw UsageError("write_safetensors: header exceeds the 100 MB limit");
    char prefix[kLengthPrefixBytes];
    put_u64_le(prefix, text.size());

    write_file_atomically(path, [&](std::ostream& out) {
        out.write(prefix, sizeof prefix);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        for (const auto& entry : file.tensors) write_tensor_bytes(out, entry.second.values);
    });
}

SafetensorsFile read_safetensors(const std::string& path) {
    return parse_safetensors(path, read_file_bytes(path));
}

void save_model(const std::string& path, const Model& model) {
    const Params& p = model.params;
    const Eigen::Index hidden = p.W1.rows();
    if (p.W1.cols() != kInputDim || p.b1.size() != hidden || p.W2.rows() != kClassDim ||
        p.W2.cols() != hidden || p.b2.size() != kClassDim)
        throw UsageError(
            "save_model: inconsistent parameter shapes W1 " + std::to_string(p.W1.rows()) + "x" +
            std::to_string(p.W1.cols()) + ", b1 " + std::to_string(p.b1.size()) + ", W2 " +
            std::to_string(p.W2.rows()) + "x" + std::to_string(p.W2.cols()) + ", b2 " +
            std::to_string(p.b2.size()));
    if (hidden < 1 || hidden > kMaxHidden)
        throw UsageError("save_model: hidden size " + std::to_string(hidden) +
                                    " is out of range 1.." + std::to_string(kMaxHidden));

    SafetensorsFile file;
    file.metadata = model.metadata;
    file.metadata["format"] = kModelFormatName;
    file.metadata["format_version"] = kModelFormatVersion;
    file.metadata["activation"] = to_string(p.activation);
    file.metadata["hidden"] = std::to_string(hidden);
    file.tensors = model.extra_tensors;
    for (const char* name : {"W1", "b1", "W2", "b2"})
        if (file.tensors.count(name) != 0)
            throw UsageError(std::string("save_model: extra tensor '") + name +
                                        "' would replace a parameter");
    file.tensors["W1"] = matrix_tensor(p.W1);
    file.tensors["b1"] = vector_tensor(p.b1);
    file.tensors["W2"] = matrix_tensor(p.W2);
    file.tensors["b2"] = vector_tensor(p.b2);
    write_safetensors(path, file);
}

Model load_model(const std::string& path) {
    SafetensorsFile file = read_safetensors(path);

    const std::string& format =
        require_metadata(path, file, "format", "not an mnistnn model (its metadata has no 'format')");
    if (format != kModelFormatName)
        bad(path, "not an mnistnn model (its metadata says format '" + format + "')");
    const std::string& version = require_metadata(
        path, file, "format_version", "not an mnistnn model (its metadata has no 'format_version')");
    if (version != kModelFormatVersion)
        bad(path, "unknown format version '" + version + "' (this mnistnn reads version " +
                      kModelFormatVersion + ")");

    // W1 decides H; everything else must agree with it.
    const auto w1_it = file.tensors.find("W1");
    if (w1_it == file.tensors.end()) bad(path, "missing tensor 'W1'");
    const std::vector<std::int64_t>& w1_shape = w1_it->second.shape;
    if (w1_shape.size() != 2 || w1_shape[1] != kInputDim)
        bad(path, "tensor 'W1' has shape " + shape_text(w1_shape) + ", expected [H,784]");
    const std::int64_t h = w1_shape[0];
    if (h < 1 || h > kMaxHidden)
        bad(path, "hidden size " + std::to_string(h) + " is out of range 1.." + std::to_string(kMaxHidden));
    const std::string hs = std::to_string(h);
    const Tensor& w1 = w1_it->second;
    const Tensor& b1 = require_tensor(path, file, "b1", {h}, "[" + hs + "]");
    const Tensor& w2 = require_tensor(path, file, "W2", {kClassDim, h}, "[10," + hs + "]");
    const Tensor& b2 = require_tensor(path, file, "b2", {kClassDim}, "[10]");

    if (const auto it = file.metadata.find("hidden"); it != file.metadata.end() && it->second != hs)
        bad(path, "metadata says hidden size '" + it->second + "' but W1 has " + hs + " rows");
    const std::string& activation_name =
        require_metadata(path, file, "activation", "its metadata has no 'activation'");
    Activation activation = Activation::ReLU;
    try {
        activation = activation_from_string(activation_name);
    } catch (const Error&) {
        bad(path, "unknown activation '" + activation_name + "'");
    }

    require_finite(path, "W1", w1);
    require_finite(path, "b1", b1);
    require_finite(path, "W2", w2);
    require_finite(path, "b2", b2);

    const auto rows = static_cast<Eigen::Index>(h);
    Model model;
    model.params.activation = activation;
    model.params.W1 = Eigen::Map<const RowMajorMatrix>(w1.values.data(), rows, kInputDim);
    model.params.b1 = Eigen::Map<const Eigen::VectorXf>(b1.values.data(), rows);
    model.params.W2 = Eigen::Map<const RowMajorMatrix>(w2.values.data(), kClassDim, rows);
    model.params.b2 = Eigen::Map<const Eigen::VectorXf>(b2.values.data(), kClassDim);
    model.metadata = std::move(file.metadata);
    for (auto& [name, tensor] : file.tensors)
        if (name != "W1" && name != "b1" && name != "W2" && name != "b2")
            model.extra_tensors.emplace(name, std::move(tensor));
    return model;
}

}  // namespace mnistnn
