// Image files → grey plane. PNG through libspng, JPEG through libjpeg-turbo, PGM/PPM by a small
// strict parser (src/pnm_decode.cpp). Every decoder checks the pixel limit from the header before
// allocating pixel memory and refuses anything incomplete.
#include "mnistnn/image_decode.hpp"

#include <jpeglib.h>
#include <spng.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "image_decode_detail.hpp"
#include "mnistnn/digit_image.hpp"

namespace mnistnn {
namespace detail {

void check_dimensions(std::uint64_t width, std::uint64_t height, const std::string& name, const char* format,
                      std::uint64_t max_pixels) {
    if (width == 0 || height == 0) {
        throw ImageError(name + ": zero-size " + format + " image (" + std::to_string(width) + "×" +
                         std::to_string(height) + ")");
    }
    // Both are below 2^32 in every format, so the product cannot overflow 64 bits.
    const std::uint64_t pixels = width * height;
    if (pixels > max_pixels) {
        throw ImageError(name + ": " + format + " image is " + std::to_string(width) + "×" + std::to_string(height) +
                         " = " + std::to_string(pixels) + " pixels, over the limit of " + std::to_string(max_pixels));
    }
}

}  // namespace detail

namespace {

using detail::composite_on_white;
using detail::luminance;

// ---- PNG (libspng) ----------------------------------------------------------------------------

// Adam7: first column and column step of each pass (1-based pass numbers, 0 = not interlaced).
constexpr int kAdam7Start[8] = {0, 0, 4, 0, 2, 0, 1, 0};
constexpr int kAdam7Step[8] = {1, 8, 8, 4, 4, 2, 2, 1};

struct SpngFree {
    void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

constexpr std::size_t kPngChunkLimit = std::size_t{4} << 20;   // one ancillary chunk, inflated
constexpr std::size_t kPngCacheLimit = std::size_t{16} << 20;  // all ancillary chunks kept

[[noreturn]] void png_fail(const std::string& name, int err) {
    if (err == SPNG_ECHUNK_LIMITS) {
        throw ImageError(name + ": PNG refused as a decompression bomb: an ancillary chunk (text, ICC profile, …) " +
                         "is larger than " + std::to_string(kPngChunkLimit >> 20) + " MiB or the chunks total more than " +
                         std::to_string(kPngCacheLimit >> 20) + " MiB");
    }
    throw ImageError(name + ": truncated or corrupt PNG (" + spng_strerror(err) + ")");
}

// The output format asked of spng: the smallest that keeps what matters (grey + alpha for grey
// PNGs, RGB when there is no transparency at all, RGBA otherwise; 16-bit kept as 16-bit).
struct PngLayout {
    int fmt = SPNG_FMT_RGBA8;
    int channels = 4;  // 2 (grey, alpha), 3 (RGB) or 4 (RGBA)
    bool sixteen = false;
};

PngLayout png_layout(spng_ctx* ctx, const spng_ihdr& ihdr) {
    if (ihdr.bit_depth == 16) return {SPNG_FMT_RGBA16, 4, true};
    if (ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE) return {SPNG_FMT_GA8, 2, false};
    spng_trns trns{};
    const bool transparency = spng_get_trns(ctx, &trns) == 0;
    if (!transparency && (ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR || ihdr.color_type == SPNG_COLOR_TYPE_INDEXED)) {
        return {SPNG_FMT_RGB8, 3, false};
    }
    return {SPNG_FMT_RGBA8, 4, false};
}

// One decoded row → luminance on white, for the columns this pass wrote. 8-bit rows use the
// integer form of composite_on_white(luminance / 255, a / 255), luma scaled by 1000.
void png_row_to_grey(const std::uint8_t* row, const PngLayout& layout, int width, int first, int step, std::uint8_t* out) {
    if (layout.sixteen) {
        const auto* p = reinterpret_cast<const std::uint16_t*>(row);  // host-endian from spng
        for (int x = first; x < width; x += step) {
            const std::uint16_t* px = p + 4 * x;
            out[x] = composite_on_white(luminance(px[0], px[1], px[2]) / 65535.0, px[3] / 65535.0);
        }
        return;
    }
    const auto blend = [](std::uint32_t luma, std::uint32_t a) {
        return static_cast<std::uint8_t>((luma * a + 255000u * (255u - a) + 127500u) / 255000u);
    };
    switch (layout.channels) {
        case 2:
            for (int x = first; x < width; x += step) out[x] = blend(1000u * row[2 * x], row[2 * x + 1]);
            break;
        case 3:
            for (int x = first; x < width; x += step) {
                const std::uint8_t* px = row + 3 * x;
                out[x] = static_cast<std::uint8_t>((299u * px[0] + 587u * px[1] + 114u * px[2] + 500u) / 1000u);
            }
            break;
        default:
            for (int x = first; x < width; x += step) {
                const std::uint8_t* px = row + 4 * x;
                out[x] = blend(299u * px[0] + 587u * px[1] + 114u * px[2], px[3]);
            }
    }
}

GreyImage decode_png(const std::uint8_t* data, std::size_t size, const std::string& name,
                     const DecodeOptions& options) {
    std::unique_ptr<spng_ctx, SpngFree> ctx(spng_ctx_new(0));
    if (!ctx) throw ImageError(name + ": cannot start the PNG decoder (out of memory)");
    // Ancillary chunks (text, ICC profiles, unknown chunks) are bounded: a chunk that inflates to
    // megabytes is a decompression bomb, not a digit. Image data is bounded by the pixel limit.
    spng_set_chunk_limits(ctx.get(), kPngChunkLimit, kPngCacheLimit);
    spng_set_option(ctx.get(), SPNG_CHUNK_COUNT_LIMIT, 1000);
    spng_set_crc_action(ctx.get(), SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
    if (int err = spng_set_png_buffer(ctx.get(), data, size)) png_fail(name, err);

    spng_ihdr ihdr{};
    if (int err = spng_get_ihdr(ctx.get(), &ihdr)) {
        if ((err == SPNG_EWIDTH || err == SPNG_EHEIGHT || err == SPNG_EUSER_WIDTH || err == SPNG_EUSER_HEIGHT) &&
            size >= 24) {
            // spng refuses 0 and > 2^31 − 1 itself; say what the header claimed.
            const auto be32 = [&](std::size_t at) {
                return std::uint64_t{data[at]} << 24 | std::uint64_t{data[at + 1]} << 16 |
                       std::uint64_t{data[at + 2]} << 8 | data[at + 3];
            };
            detail::check_dimensions(be32(16), be32(20), name, "PNG", options.max_pixels);
        }
        png_fail(name, err);
    }
    detail::check_dimensions(ihdr.width, ihdr.height, name, "PNG", options.max_pixels);

    const PngLayout layout = png_layout(ctx.get(), ihdr);
    if (int err = spng_decode_image(ctx.get(), nullptr, 0, layout.fmt, SPNG_DECODE_TRNS | SPNG_DECODE_PROGRESSIVE)) {
        png_fail(name, err);
    }
    GreyImage image;
    image.width = static_cast<int>(ihdr.width);
    image.height = static_cast<int>(ihdr.height);
    const auto width = static_cast<std::size_t>(image.width);
    std::vector<std::uint8_t> row(width * static_cast<std::size_t>(layout.channels) * (layout.sixteen ? 2 : 1));
    // Rows of a plain PNG arrive in order: the plane grows with the data actually decoded, so a
    // header that overstates the data costs nothing. Interlaced rows arrive in seven passes and
    // need the whole plane (≤ max_pixels bytes) from the start.
    const bool interlaced = ihdr.interlace_method == SPNG_INTERLACE_ADAM7;
    if (interlaced) image.pixels.assign(width * static_cast<std::size_t>(image.height), 255);
    for (;;) {
        spng_row_info info{};
        int err = spng_get_row_info(ctx.get(), &info);
        if (err == SPNG_EOI) break;
        if (err) png_fail(name, err);
        err = spng_decode_row(ctx.get(), row.data(), row.size());
        if (err != 0 && err != SPNG_EOI) png_fail(name, err);
        const int pass = interlaced ? std::clamp(info.pass + 1, 1, 7) : 0;
        if (!interlaced) image.pixels.resize(image.pixels.size() + width);
        const std::size_t at = interlaced ? static_cast<std::size_t>(info.row_num) * width : image.pixels.size() - width;
        png_row_to_grey(row.data(), layout, image.width, kAdam7Start[pass], kAdam7Step[pass], image.pixels.data() + at);
        if (err == SPNG_EOI) break;
    }
    // The chunks after the image, up to IEND: a file cut short after its pixels is still truncated.
    if (int err = spng_decode_chunks(ctx.get())) png_fail(name, err);
    if (image.pixels.size() != width * static_cast<std::size_t>(image.height)) png_fail(name, SPNG_EOF);
    return image;
}

// ---- JPEG (libjpeg-turbo) ---------------------------------------------------------------------

// libjpeg reports errors through a callback that must not return: it long-jumps back to
// decode_jpeg_into, which owns no C++ objects between setjmp and the jump.
struct JpegErrors {
    jpeg_error_mgr mgr{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {};
};

extern "C" void jpeg_error_exit(j_common_ptr cinfo) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, errors->message);
    std::longjmp(errors->jump, 1);
}

// Warnings (a truncated file, corrupt data libjpeg would paper over with grey) are errors here:
// a corrupt file is refused, never half-read.
extern "C" void jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_error_exit(cinfo);
}

struct JpegJob {
    jpeg_decompress_struct cinfo{};
    JpegErrors errors;
    bool created = false;
    GreyImage* image = nullptr;
    const DecodeOptions* options = nullptr;
    std::string refusal;  // set (instead of throwing across libjpeg) for a header over the limit

    ~JpegJob() {
        if (created) jpeg_destroy_decompress(&cinfo);
    }
};

// Power-of-two DCT reduction (1, 2, 4 or 8) keeping the shorter side ≥ min_side.
unsigned jpeg_denominator(JDIMENSION width, JDIMENSION height, int min_side) {
    if (min_side <= 0) return 1;
    const JDIMENSION shorter = std::min(width, height);
    unsigned denom = 1;
    while (denom < 8 && shorter / (denom * 2) >= static_cast<JDIMENSION>(min_side)) denom *= 2;
    return denom;
}

// Returns false with job.errors.message set if libjpeg failed; true with job.image filled, or
// with job.refusal set when the header is over the limit.
bool decode_jpeg_into(JpegJob& job, const std::uint8_t* data, std::size_t size) {
    jpeg_decompress_struct& cinfo = job.cinfo;
    cinfo.err = jpeg_std_error(&job.errors.mgr);
    job.errors.mgr.error_exit = jpeg_error_exit;
    job.errors.mgr.emit_message = jpeg_emit_message;
    if (setjmp(job.errors.jump)) return false;
    jpeg_create_decompress(&cinfo);
    job.created = true;
    // libjpeg's own working memory (progressive JPEGs keep every coefficient) is bounded too.
    cinfo.mem->max_memory_to_use = static_cast<long>(std::min<std::uint64_t>(job.options->max_pixels * 8, 1ull << 31));
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo, TRUE);

    const std::uint64_t w = cinfo.image_width, h = cinfo.image_height;
    if (w == 0 || h == 0 || w * h > job.options->max_pixels) {
        job.refusal = "limit";
        return true;
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        job.refusal = "cmyk";
        return true;
    }
    cinfo.out_color_space = JCS_GRAYSCALE;
    cinfo.scale_num = 1;
    cinfo.scale_denom = jpeg_denominator(cinfo.image_width, cinfo.image_height, job.options->min_side);
    jpeg_start_decompress(&cinfo);

    GreyImage& image = *job.image;
    image.width = static_cast<int>(cinfo.output_width);
    image.height = static_cast<int>(cinfo.output_height);
    image.pixels.resize(static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height));
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = image.pixels.data() + static_cast<std::size_t>(cinfo.output_scanline) * cinfo.output_width;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    return true;
}

GreyImage decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name,
                      const DecodeOptions& options) {
    GreyImage image;
    JpegJob job;
    job.image = &image;
    job.options = &options;
    if (!decode_jpeg_into(job, data, size)) {
        throw ImageError(name + ": truncated or corrupt JPEG (" + job.errors.message + ")");
    }
    if (job.refusal == "limit") {
        detail::check_dimensions(job.cinfo.image_width, job.cinfo.image_height, name, "JPEG", options.max_pixels);
    }
    if (job.refusal == "cmyk") throw ImageError(name + ": CMYK JPEG images are not supported (save it as RGB)");
    return image;
}

}  // namespace

ImageFormat sniff_image_format(const std::uint8_t* data, std::size_t size) {
    static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return ImageFormat::Png;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::Jpeg;
    if (size >= 2 && data[0] == 'P' && (data[1] == '2' || data[1] == '3' || data[1] == '5' || data[1] == '6')) {
        return ImageFormat::Pnm;
    }
    return ImageFormat::Unknown;
}

GreyImage decode_image(const std::uint8_t* data, std::size_t size, const std::string& name,
                       const DecodeOptions& options) {
    if (size == 0) throw ImageError(name + ": empty file, not an image");
    switch (sniff_image_format(data, size)) {
        case ImageFormat::Png:
            return decode_png(data, size, name, options);
        case ImageFormat::Jpeg:
            return decode_jpeg(data, size, name, options);
        case ImageFormat::Pnm:
            return detail::decode_pnm(data, size, name, options);
        case ImageFormat::Unknown:
            break;
    }
    if (size >= 2 && data[0] == 'P' && (data[1] == '1' || data[1] == '4')) {
        throw ImageError(name + ": PBM bitmaps (P1/P4) are not supported; use PGM, PPM, PNG or JPEG");
    }
    throw ImageError(name + ": not an image (expected PNG, JPEG, PGM or PPM)");
}

}  // namespace mnistnn
