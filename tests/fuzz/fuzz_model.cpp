// Fuzzes the safetensors model reader: any input must load fully or throw a mnistnn::Error,
// never crash, leak, hang or allocate more than the file's size.
//
// An input that starts with '{' is a header and data without the 8-byte length: the file is
// u64le(length of the JSON) + JSON + data, the JSON ending at the first NUL byte of the input
// (valid JSON has none). This lets the fuzzer edit the JSON freely without also having to fix
// the length. Any other input is the file as is (so real model files are valid seeds).
// With MNISTNN_FUZZ_DUMP=DIR set, the file the reader saw is copied to DIR.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz_util.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string path;
    if (size > 0 && data[0] == '{') {
        const auto* nul = static_cast<const std::uint8_t*>(std::memchr(data, '\0', size));
        const std::size_t json = nul == nullptr ? size : static_cast<std::size_t>(nul - data);
        std::string file(8, '\0');
        for (int i = 0; i < 8; ++i) file[static_cast<std::size_t>(i)] = static_cast<char>((std::uint64_t{json} >> (8 * i)) & 0xFF);
        file.append(reinterpret_cast<const char*>(data), json);
        if (nul != nullptr) file.append(reinterpret_cast<const char*>(nul + 1), size - json - 1);
        path = mnistnn::fuzz::write_scratch(file.data(), file.size(), "model.safetensors");
    } else {
        path = mnistnn::fuzz::write_scratch(data, size, "model.safetensors");
    }
    mnistnn::fuzz::dump_if_asked(path);

    try {
        const mnistnn::SafetensorsFile file = mnistnn::read_safetensors(path);
        // Invariants of an accepted file: every tensor's values match its shape.
        for (const auto& [name, tensor] : file.tensors) {
            std::size_t count = 1;
            for (auto dim : tensor.shape) {
                if (dim < 0) std::abort();
                count *= static_cast<std::size_t>(dim);
            }
            if (count != tensor.values.size()) std::abort();
        }
    } catch (const mnistnn::Error&) {
    }
    try {
        const mnistnn::Model model = mnistnn::load_model(path);
        // Invariants of an accepted model.
        const auto& p = model.params;
        const auto h = p.hidden();
        if (h < 1 || h > mnistnn::kMaxHidden) std::abort();
        if (p.W1.rows() != h || p.W1.cols() != mnistnn::kPixels || p.b1.size() != h || p.W2.rows() != 10 ||
            p.W2.cols() != h || p.b2.size() != 10)
            std::abort();
        if (!p.W1.allFinite() || !p.W2.allFinite() || !p.b1.allFinite() || !p.b2.allFinite()) std::abort();
        if (model.metadata.at("format") != "mnistnn") std::abort();
        // A model that loads must be usable: a forward pass on a blank digit gives probabilities.
        const std::uint8_t blank[mnistnn::kPixels] = {};
        const auto probabilities = mnistnn::predict_one(p, blank);
        if (probabilities.size() != 10) std::abort();
    } catch (const mnistnn::Error&) {
    }
    return 0;
}
