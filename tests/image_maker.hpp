#pragma once
// Image files built in memory for the digit_image tests: PNGs written chunk by chunk (any colour
// type, bit depth or header claim, extra chunks), and PNG/JPEG through stb_image_write, an encoder
// independent of the decoders under test.
#include <cstdint>
#include <string>
#include <vector>

namespace mnistnn::test {

// One PNG chunk: length, type, data, CRC.
std::string png_chunk(const std::string& type, const std::string& data);

// The zlib stream of `data` (deflate level 6).
std::string zlib_compress(const std::string& data);

// A whole PNG: IHDR claiming width×height (colour type, bit depth), then `extra` chunks (raw
// chunk bytes, e.g. from png_chunk), one IDAT holding `scanlines` (each row: filter byte 0 then the
// samples, 16-bit samples big-endian) compressed, IEND. The claim need not match the data.
std::string png_file(std::uint32_t width, std::uint32_t height, int colour_type, int bit_depth,
                     const std::string& scanlines, const std::string& extra = "");

// Scanlines (filter byte 0 per row) of rows×row_bytes samples taken from `samples`.
std::string png_scanlines(const std::vector<std::uint8_t>& samples, int rows, int row_bytes);

// stb_image_write encodings of width×height pixels of `channels` bytes (1 grey, 2 grey+alpha,
// 3 RGB, 4 RGBA).
std::string stb_png(int width, int height, int channels, const std::vector<std::uint8_t>& pixels);
std::string stb_jpeg(int width, int height, int channels, const std::vector<std::uint8_t>& pixels, int quality);

// An Adam7-interlaced PNG of 8-bit pixels (1 grey, 3 RGB or 4 RGBA), written by libpng.
std::string libpng_interlaced(int width, int height, int channels, const std::vector<std::uint8_t>& pixels);

inline const std::uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

}  // namespace mnistnn::test
