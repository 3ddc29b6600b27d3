#include "cairo_canvas.hpp"

#include <cairo-ft.h>
#include <fontconfig/fontconfig.h>

#include <cstdlib>

#include "mnistnn/error.hpp"
#include "text.hpp"

namespace mnistnn {

namespace {

constexpr const char* kFontFamily = "DejaVu Sans";
constexpr const char* kFontPackage = "fonts-dejavu-core";

// The family name of a fontconfig match ("" when it has none).
std::string family_of(FcPattern* match) {
    FcChar8* family = nullptr;
    if (FcPatternGetString(match, FC_FAMILY, 0, &family) != FcResultMatch || family == nullptr) return "";
    return reinterpret_cast<const char*>(family);
}

// fontconfig's best match for DejaVu Sans in that weight; Error if it is not DejaVu Sans.
FcPattern* match_dejavu(bool bold) {
    if (FcInit() == FcFalse) throw Error("cannot initialise fontconfig to find the font " + std::string(kFontFamily));
    FcPattern* pattern = FcPatternCreate();
    if (pattern == nullptr) throw Error("out of memory looking up the font " + std::string(kFontFamily));
    FcPatternAddString(pattern, FC_FAMILY, reinterpret_cast<const FcChar8*>(kFontFamily));
    FcPatternAddInteger(pattern, FC_WEIGHT, bold ? FC_WEIGHT_BOLD : FC_WEIGHT_REGULAR);
    FcPatternAddInteger(pattern, FC_SLANT, FC_SLANT_ROMAN);
    FcPatternAddInteger(pattern, FC_WIDTH, FC_WIDTH_NORMAL);
    FcConfigSubstitute(nullptr, pattern, FcMatchPattern);
    FcDefaultSubstitute(pattern);
    FcResult result = FcResultNoMatch;
    FcPattern* match = FcFontMatch(nullptr, pattern, &result);
    FcPatternDestroy(pattern);
    const std::string family = match != nullptr ? family_of(match) : "";
    if (family != kFontFamily) {
        if (match != nullptr) FcPatternDestroy(match);
        throw Error("the font " + std::string(kFontFamily) + (bold ? " Bold" : "") +
                    " is not installed (fontconfig offers " + (family.empty() ? "nothing" : "'" + family + "'") +
                    "); install the Debian package " + kFontPackage);
    }
    return match;
}

// cairo and fontconfig keep caches (fonts, glyphs, the font configuration) for the life of the
// process; a few fontconfig blocks are reachable only through its own encoded pointers, which
// LeakSanitizer reports as leaks. Freeing them at exit keeps leak checkers (scripts/sanitize.sh)
// meaningful for our own code. Safe then: every cairo object of this library lives in a function.
void release_font_caches() {
    cairo_debug_reset_static_data();
    FcFini();
}

void release_font_caches_at_exit() {
    static const bool registered = std::atexit(release_font_caches) == 0;
    (void)registered;
}

}  // namespace

FontFace::FontFace(bool bold) {
    release_font_caches_at_exit();
    FcPattern* match = match_dejavu(bold);
    face_ = cairo_ft_font_face_create_for_pattern(match);  // keeps its own reference to the pattern
    FcPatternDestroy(match);
    if (cairo_font_face_status(face_) != CAIRO_STATUS_SUCCESS) {
        const std::string reason = cairo_status_to_string(cairo_font_face_status(face_));
        cairo_font_face_destroy(face_);
        throw Error("cannot load the font " + std::string(kFontFamily) + ": " + reason);
    }
}

FontFace::~FontFace() { cairo_font_face_destroy(face_); }

CairoCanvas::CairoCanvas(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b)
    : width_(width), height_(height) {
    surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cr_ = cairo_create(surface_);  // a context in an error state if the surface failed
    if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) {
        const std::string reason = cairo_status_to_string(cairo_status(cr_));
        cairo_destroy(cr_);
        cairo_surface_destroy(surface_);
        throw Error("cannot create a " + std::to_string(width) + "x" + std::to_string(height) + " image: " + reason);
    }
    cairo_font_options_t* options = cairo_font_options_create();
    cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_ON);
    cairo_set_font_options(cr_, options);
    cairo_font_options_destroy(options);
    set_colour(r, g, b);
    cairo_paint(cr_);
}

CairoCanvas::~CairoCanvas() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
}

void CairoCanvas::set_colour(std::uint8_t r, std::uint8_t g, std::uint8_t b) const {
    cairo_set_source_rgb(cr_, r / 255.0, g / 255.0, b / 255.0);
}

void CairoCanvas::fill_pixels(int x, int y, int w, int h) const {
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
}

void CairoCanvas::put_grey_image(int x0, int y0, const std::uint8_t* pixels, int side, int scale) {
    cairo_surface_flush(surface_);
    unsigned char* data = cairo_image_surface_get_data(surface_);
    const int stride = cairo_image_surface_get_stride(surface_);
    for (int y = 0; y < side * scale; ++y) {
        auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y0 + y) * stride);
        for (int x = 0; x < side * scale; ++x) {
            const std::uint32_t v = pixels[(y / scale) * side + x / scale];
            row[x0 + x] = 0xFF000000u | (v << 16) | (v << 8) | v;
        }
    }
    cairo_surface_mark_dirty_rectangle(surface_, x0, y0, side * scale, side * scale);
}

void CairoCanvas::check() const {
    if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) {
        throw Error(std::string("drawing the image failed: ") + cairo_status_to_string(cairo_status(cr_)));
    }
}

template <class F>
void CairoCanvas::for_each_pixel(F&& f) const {
    cairo_surface_flush(surface_);
    const unsigned char* data = cairo_image_surface_get_data(surface_);
    const int stride = cairo_image_surface_get_stride(surface_);
    for (int y = 0; y < height_; ++y) {
        const auto* row = reinterpret_cast<const std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
        for (int x = 0; x < width_; ++x) f(row[x] & 0xFFFFFFu);
    }
}

std::vector<std::uint8_t> CairoCanvas::rgb() const {
    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_) * 3);
    for_each_pixel([&out](std::uint32_t p) {
        out.push_back(static_cast<std::uint8_t>(p >> 16));
        out.push_back(static_cast<std::uint8_t>(p >> 8));
        out.push_back(static_cast<std::uint8_t>(p));
    });
    return out;
}

std::vector<std::uint8_t> CairoCanvas::grey() const {
    std::vector<std::uint8_t> out;
    out.reserve(static_cast<std::size_t>(width_) * static_cast<std::size_t>(height_));
    for_each_pixel([&out](std::uint32_t p) {
        const std::uint32_t r = (p >> 16) & 0xFFu, g = (p >> 8) & 0xFFu, b = p & 0xFFu;
        out.push_back(static_cast<std::uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000));
    });
    return out;
}

void show_text(cairo_t* cr, const std::string& utf8) { cairo_show_text(cr, clean_utf8(utf8).c_str()); }

double text_advance(cairo_t* cr, const std::string& utf8) {
    cairo_text_extents_t extents;
    cairo_text_extents(cr, clean_utf8(utf8).c_str(), &extents);
    return extents.x_advance;
}

}  // namespace mnistnn
