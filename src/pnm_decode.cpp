// PGM/PPM (Netpbm) → grey plane. The format is a short text header and a raster; no Debian
// library reads the plain (ASCII) variants P2/P3 together with 16-bit maxvals, so this strict
// reader does: header tokens with '#' comments, maxval 1 … 65535, raw samples big-endian when
// maxval > 255, every sample ≤ maxval, nothing but whitespace after the raster.
#include <cctype>
#include <cstdint>
#include <string>

#include "image_decode_detail.hpp"
#include "mnistnn/digit_image.hpp"

namespace mnistnn::detail {
namespace {

class PnmReader {
public:
    PnmReader(const std::uint8_t* data, std::size_t size, const std::string& name)
        : data_(data), size_(size), name_(name) {}

    // The next unsigned decimal token (header field or plain sample), skipping whitespace and,
    // in the header, comments. `what` names it in errors.
    std::uint64_t number(const char* what, bool comments) {
        skip_space(comments);
        if (pos_ >= size_) fail(std::string("ends before the ") + what);
        if (!std::isdigit(data_[pos_])) fail(std::string("has '") + printable(data_[pos_]) + "' where the " + what + " should be");
        std::uint64_t value = 0;
        while (pos_ < size_ && std::isdigit(data_[pos_])) {
            value = value * 10 + static_cast<std::uint64_t>(data_[pos_] - '0');
            if (value > 0xFFFFFFFFull) fail(std::string("has a ") + what + " that is too large");
            ++pos_;
        }
        if (pos_ < size_ && !is_space(data_[pos_]) && data_[pos_] != '#') {
            fail(std::string("has '") + printable(data_[pos_]) + "' inside the " + what);
        }
        return value;
    }

    // Raw rasters start after exactly one whitespace byte following maxval.
    void single_space() {
        if (pos_ >= size_ || !is_space(data_[pos_])) fail("has no whitespace between the header and the pixels");
        ++pos_;
    }

    std::size_t position() const { return pos_; }
    void advance(std::size_t n) { pos_ += n; }
    std::size_t remaining() const { return size_ - pos_; }
    const std::uint8_t* here() const { return data_ + pos_; }

    void expect_end() {
        skip_space(false);
        if (pos_ != size_) fail("has " + std::to_string(size_ - pos_) + " unexpected bytes after the pixels");
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw ImageError(name_ + ": corrupt PGM/PPM: the file " + what + " (at byte " + std::to_string(pos_) + ")");
    }

private:
    static bool is_space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
    static std::string printable(std::uint8_t c) {
        if (c >= 0x20 && c < 0x7F) return std::string(1, static_cast<char>(c));
        static const char* hex = "0123456789abcdef";
        return std::string("\\x") + hex[c >> 4] + hex[c & 15];
    }
    void skip_space(bool comments) {
        while (pos_ < size_) {
            if (is_space(data_[pos_])) {
                ++pos_;
            } else if (comments && data_[pos_] == '#') {
                while (pos_ < size_ && data_[pos_] != '\n' && data_[pos_] != '\r') ++pos_;
            } else {
                break;
            }
        }
    }

    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 2;  // after the magic number
    const std::string& name_;
};

// Samples (in maxval units) of one pixel → grey byte.
std::uint8_t to_grey(const std::uint32_t* sample, int channels, double maxval) {
    const double y = channels == 1 ? sample[0] : luminance(sample[0], sample[1], sample[2]);
    return composite_on_white(y / maxval, 1.0);
}

}  // namespace

GreyImage decode_pnm(const std::uint8_t* data, std::size_t size, const std::string& name,
                     const DecodeOptions& options) {
    const char kind = static_cast<char>(data[1]);
    const bool plain = kind == '2' || kind == '3';
    const int channels = (kind == '3' || kind == '6') ? 3 : 1;
    const char* format = channels == 1 ? "PGM" : "PPM";

    PnmReader in(data, size, name);
    const std::uint64_t width = in.number("width", true);
    const std::uint64_t height = in.number("height", true);
    const std::uint64_t maxval = in.number("maxval", true);
    check_dimensions(width, height, name, format, options.max_pixels);
    if (maxval < 1 || maxval > 65535) in.fail("has maxval " + std::to_string(maxval) + " (expected 1 to 65535)");

    const std::size_t pixels = static_cast<std::size_t>(width * height);
    const int bytes = maxval > 255 ? 2 : 1;
    if (!plain) {
        in.single_space();
        const std::uint64_t needed = width * height * static_cast<std::uint64_t>(channels * bytes);
        if (in.remaining() < needed) {
            in.fail("is truncated: " + std::to_string(in.remaining()) + " bytes of pixels, expected " +
                    std::to_string(needed));
        }
    } else if (in.remaining() < pixels * static_cast<std::size_t>(channels) * 2 - 1) {
        // A plain sample takes at least two bytes (a digit and a separator).
        in.fail("is truncated: too short for " + std::to_string(pixels * static_cast<std::size_t>(channels)) + " samples");
    }

    GreyImage image;
    image.width = static_cast<int>(width);
    image.height = static_cast<int>(height);
    image.pixels.resize(pixels);
    const double scale = static_cast<double>(maxval);
    std::uint32_t sample[3] = {};
    for (std::size_t i = 0; i < pixels; ++i) {
        for (int c = 0; c < channels; ++c) {
            std::uint64_t v = 0;
            if (plain) {
                v = in.number("sample", false);
            } else {
                const std::uint8_t* p = in.here();
                v = bytes == 2 ? (std::uint64_t{p[0]} << 8 | p[1]) : p[0];
                in.advance(static_cast<std::size_t>(bytes));
            }
            if (v > maxval) {
                in.fail("has sample " + std::to_string(v) + " of pixel " + std::to_string(i) + " above maxval " +
                        std::to_string(maxval));
            }
            sample[c] = static_cast<std::uint32_t>(v);
        }
        image.pixels[i] = to_grey(sample, channels, scale);
    }
    in.expect_end();
    return image;
}

}  // namespace mnistnn::detail
