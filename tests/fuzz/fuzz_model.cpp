// Fuzzes the safetensors model reader: any input must load fully or throw a mnistnn::Error.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_util.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = mnistnn::fuzz::write_scratch(data, size, ".safetensors");
    try {
        (void)mnistnn::read_safetensors(path);
    } catch (const mnistnn::Error&) {
    }
    try {
        const mnistnn::Model model = mnistnn::load_model(path);
        // Invariants of an accepted model.
        const auto& p = model.params;
        const int h = p.hidden();
        if (h < 1 || h > mnistnn::kMaxHidden) std::abort();
        if (p.W1.cols() != mnistnn::kPixels || p.b1.size() != h || p.W2.rows() != 10 || p.W2.cols() != h ||
            p.b2.size() != 10)
            std::abort();
        if (!p.W1.allFinite() || !p.W2.allFinite() || !p.b1.allFinite() || !p.b2.allFinite()) std::abort();
    } catch (const mnistnn::Error&) {
    }
    return 0;
}
