// Fuzzes the CSV/IDX loader: any input must load or throw a mnistnn::Error, never crash, leak,
// hang or read out of bounds.
//
// The first input byte chooses how the rest becomes a file, so that the fuzzer gets past the
// header check (a valid header is 7 KB of text it would never guess) and into the gzip and IDX
// paths:
//   mode % 6 == 0  rest as is                          -> load_images(file)
//              1  "label,pixel0,...,pixel783\n" + rest -> load_images(file)
//              2  "pixel0,...,pixel783\n" + rest       -> load_images(file)
//              3  gzip(rest)                           -> load_images(file)
//              4  gzip(labelled header + "\n" + rest)  -> load_images(file)
//              5  rest split in two at the offset in its first 2 bytes (LE, mod length):
//                 IDX images + IDX labels              -> load_images(images, labels)
// With MNISTNN_FUZZ_DUMP=DIR set, the file(s) the loader saw are copied to DIR (to turn a crash
// into a fixture in tests/fixtures/regress/).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_util.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/loader.hpp"

namespace {

std::string header(bool labelled) {
    std::string h = labelled ? "label" : "";
    for (int i = 0; i < mnistnn::kPixels; ++i) {
        if (!h.empty()) h += ',';
        h += "pixel" + std::to_string(i);
    }
    return h + "\n";
}

void check(const mnistnn::Images& images) {
    if (images.rows == 0) std::abort();
    if (images.pixels.size() != images.rows * mnistnn::kPixels) std::abort();
    if (images.has_labels() && images.labels.size() != images.rows) std::abort();
    for (auto label : images.labels)
        if (label > 9) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const std::string labelled = header(true);
    static const std::string unlabelled = header(false);
    const unsigned mode = data[0] % 6u;
    const char* rest = reinterpret_cast<const char*>(data + 1);
    const std::size_t n = size - 1;

    std::string path;
    std::string labels_path;
    switch (mode) {
        case 0:
            path = mnistnn::fuzz::write_scratch(rest, n, "data.csv");
            break;
        case 1:
        case 2: {
            const std::string text = (mode == 1 ? labelled : unlabelled) + std::string(rest, n);
            path = mnistnn::fuzz::write_scratch(text.data(), text.size(), "data.csv");
            break;
        }
        case 3:
            path = mnistnn::fuzz::write_scratch_gz(rest, n, "data.csv.gz");
            break;
        case 4: {
            const std::string text = labelled + std::string(rest, n);
            path = mnistnn::fuzz::write_scratch_gz(text.data(), text.size(), "data.csv.gz");
            break;
        }
        default: {
            if (n < 2) return 0;
            const std::size_t body = n - 2;
            const std::size_t split = body == 0 ? 0 : (std::size_t{data[1]} | std::size_t{data[2]} << 8) % (body + 1);
            path = mnistnn::fuzz::write_scratch(rest + 2, split, "images.idx");
            labels_path = mnistnn::fuzz::write_scratch(rest + 2 + split, body - split, "labels.idx");
            break;
        }
    }
    mnistnn::fuzz::dump_if_asked(path);
    if (!labels_path.empty()) mnistnn::fuzz::dump_if_asked(labels_path);

    try {
        check(mnistnn::load_images(path, labels_path));
    } catch (const mnistnn::Error&) {
        // Refused with a message: the expected outcome for malformed input.
    }
    return 0;
}
