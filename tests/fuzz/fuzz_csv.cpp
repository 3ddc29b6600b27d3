// Fuzzes the CSV/IDX loader: any input must load or throw a mnistnn::Error, never crash or leak.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_util.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = mnistnn::fuzz::write_scratch(data, size, ".csv");
    try {
        const mnistnn::Images images = mnistnn::load_images(path);
        // Invariants of a successful load.
        if (images.pixels.size() != images.rows * mnistnn::kPixels) std::abort();
        if (images.has_labels() && images.labels.size() != images.rows) std::abort();
        for (auto label : images.labels)
            if (label > 9) std::abort();
    } catch (const mnistnn::Error&) {
        // Refused with a message: the expected outcome for malformed input.
    }
    return 0;
}
