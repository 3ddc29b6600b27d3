#pragma once
// Model files in the safetensors format (https://huggingface.co/docs/safetensors):
// u64 little-endian header length N, N bytes of JSON header, then the tensor bytes.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mnistnn/network.hpp"

namespace mnistnn {

constexpr const char* kModelFormatName = "mnistnn";
constexpr const char* kModelFormatVersion = "1";
constexpr int kMaxHidden = 4096;

// One F32 tensor, row-major, as it sits in the file.
struct Tensor {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

struct SafetensorsFile {
    std::map<std::string, std::string> metadata;  // "__metadata__": string → string
    std::map<std::string, Tensor> tensors;
};

// Writes atomically (temp file, fsync, rename); tensors in name order, header padded to 8 bytes.
void write_safetensors(const std::string& path, const SafetensorsFile& file);

// Reads and validates everything the safetensors spec requires; throws ModelFormatError
// (or IoError) with the path and the reason, and never returns a partly-read file.
SafetensorsFile read_safetensors(const std::string& path);

struct Model {
    Params params;
    std::map<std::string, std::string> metadata;
    std::map<std::string, Tensor> extra_tensors;  // e.g. optimizer state; not W1/b1/W2/b2
};

// Saves W1 [H,784], b1 [H], W2 [10,H], b2 [10] plus metadata; adds "format" and
// "format_version" and "activation" to the metadata.
void save_model(const std::string& path, const Model& model);

// Loads and validates an mnistnn model: format name and version, the four tensors with
// consistent shapes, 1 ≤ H ≤ kMaxHidden, finite values, a known activation.
Model load_model(const std::string& path);

}  // namespace mnistnn
