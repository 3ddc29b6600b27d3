#include "image_maker.hpp"

#include <png.h>
#include <zlib.h>

#include <stdexcept>

// stb_image_write is third-party code: its implementation is compiled here, static, with its
// own warnings silenced (as in src/png_encoder.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace mnistnn::test {
namespace {

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF), static_cast<char>((v >> 8) & 0xFF),
            static_cast<char>(v & 0xFF)};
}

void append(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace

std::string png_chunk(const std::string& type, const std::string& data) {
    const std::string body = type + data;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return be32(static_cast<std::uint32_t>(data.size())) + body + be32(static_cast<std::uint32_t>(crc));
}

std::string zlib_compress(const std::string& data) {
    uLongf size = compressBound(static_cast<uLong>(data.size()));
    std::string out(size, '\0');
    if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                  static_cast<uLong>(data.size()), 6) != Z_OK) {
        throw std::runtime_error("zlib compress2 failed");
    }
    out.resize(size);
    return out;
}

std::string png_file(std::uint32_t width, std::uint32_t height, int colour_type, int bit_depth,
                     const std::string& scanlines, const std::string& extra) {
    std::string ihdr = be32(width) + be32(height);
    ihdr += static_cast<char>(bit_depth);
    ihdr += static_cast<char>(colour_type);
    ihdr += std::string(3, '\0');  // compression, filter, interlace
    return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + extra +
           png_chunk("IDAT", zlib_compress(scanlines)) + png_chunk("IEND", "");
}

std::string png_scanlines(const std::vector<std::uint8_t>& samples, int rows, int row_bytes) {
    std::string out;
    for (int y = 0; y < rows; ++y) {
        out += '\0';
        out.append(reinterpret_cast<const char*>(samples.data()) + static_cast<std::size_t>(y) * static_cast<std::size_t>(row_bytes),
                   static_cast<std::size_t>(row_bytes));
    }
    return out;
}

std::string stb_png(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
    std::string out;
    if (!stbi_write_png_to_func(append, &out, width, height, channels, pixels.data(), width * channels)) {
        throw std::runtime_error("stbi_write_png_to_func failed");
    }
    return out;
}

std::string stb_jpeg(int width, int height, int channels, const std::vector<std::uint8_t>& pixels, int quality) {
    std::string out;
    if (!stbi_write_jpg_to_func(append, &out, width, height, channels, pixels.data(), quality)) {
        throw std::runtime_error("stbi_write_jpg_to_func failed");
    }
    return out;
}

std::string libpng_interlaced(int width, int height, int channels, const std::vector<std::uint8_t>& pixels) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    std::string out;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        throw std::runtime_error("libpng write failed");
    }
    png_set_write_fn(
        png, &out, [](png_structp p, png_bytep data, png_size_t n) {
            static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(data), n);
        },
        nullptr);
    const int type = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, type,
                 PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    std::vector<png_bytep> rows(static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y) {
        rows[static_cast<std::size_t>(y)] =
            const_cast<png_bytep>(pixels.data()) + static_cast<std::size_t>(y) * static_cast<std::size_t>(width * channels);
    }
    png_set_rows(png, info, rows.data());
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
    png_destroy_write_struct(&png, &info);
    return out;
}

}  // namespace mnistnn::test
