// Fuzzes the image path of `predict FILE` and `serve`: decode (PNG, JPEG, PGM/PPM) and normalise.
// Any input must give a 28×28 sample or throw an ImageError, never crash, leak, hang or allocate
// beyond what the pixel limit allows (4 megapixels here, so the fuzzer stays fast).
// With MNISTNN_FUZZ_DUMP=DIR set, the input is copied to DIR as image.bin.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_util.hpp"
#include "mnistnn/digit_image.hpp"
#include "mnistnn/image_decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (std::getenv("MNISTNN_FUZZ_DUMP") != nullptr) {
        mnistnn::fuzz::dump_if_asked(mnistnn::fuzz::write_scratch(data, size, "image.bin"));
    }
    constexpr std::uint64_t kMaxPixels = 4'000'000;
    try {
        mnistnn::DecodeOptions decode;
        decode.max_pixels = kMaxPixels;
        const mnistnn::GreyImage image = mnistnn::decode_image(data, size, "fuzz", decode);
        // Invariants of a decoded picture.
        if (image.width < 1 || image.height < 1) std::abort();
        const auto pixels = static_cast<std::uint64_t>(image.width) * static_cast<std::uint64_t>(image.height);
        if (pixels > kMaxPixels || image.pixels.size() != pixels) std::abort();
    } catch (const mnistnn::ImageError&) {
    }
    try {
        mnistnn::DigitImageOptions options;
        options.max_pixels = kMaxPixels;
        const mnistnn::DigitPixels sample = mnistnn::normalize_digit_image(data, size, "fuzz", options);
        // A sample is never blank (a blank picture is an error).
        if (*std::max_element(sample.begin(), sample.end()) == 0) std::abort();
    } catch (const mnistnn::ImageError&) {
    }
    return 0;
}
