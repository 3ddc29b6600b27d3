#pragma once
// Raster drawing through cairo: an RGB image surface with its context, and DejaVu Sans faces found
// through fontconfig. Shared by the PNG plot painter and the digit grid. Not part of the public API.
#include <cairo.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mnistnn {

// A cairo font face of DejaVu Sans (book or bold), matched by fontconfig. Throws Error naming the
// font and its Debian package when fontconfig cannot find it (it would silently substitute another).
class FontFace {
public:
    explicit FontFace(bool bold);
    ~FontFace();
    FontFace(const FontFace&) = delete;
    FontFace& operator=(const FontFace&) = delete;
    cairo_font_face_t* get() const { return face_; }

private:
    cairo_font_face_t* face_ = nullptr;
};

// A width×height RGB image (cairo's RGB24 surface) filled with one colour, and a context on it
// with grey-scale anti-aliased text, slight (vertical-only) hinting and whole-pixel advances.
class CairoCanvas {
public:
    CairoCanvas(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b);
    ~CairoCanvas();
    CairoCanvas(const CairoCanvas&) = delete;
    CairoCanvas& operator=(const CairoCanvas&) = delete;

    cairo_t* cr() const { return cr_; }
    int width() const { return width_; }
    int height() const { return height_; }

    void set_colour(std::uint8_t r, std::uint8_t g, std::uint8_t b) const;
    // Fills the pixels x .. x+w-1, y .. y+h-1 (whole pixels, no anti-aliasing).
    void fill_pixels(int x, int y, int w, int h) const;
    // Copies a side×side grey image (row-major, 0 = black) scaled up `scale` times (nearest
    // neighbour) with its top-left corner at pixel (x0, y0); it must lie inside the canvas.
    void put_grey_image(int x0, int y0, const std::uint8_t* pixels, int side, int scale);

    // Throws Error with cairo's reason if any drawing failed (e.g. out of memory).
    void check() const;
    // The pixels, row-major: 3 bytes (R, G, B) per pixel, or 1 byte of BT.601 luma.
    std::vector<std::uint8_t> rgb() const;
    std::vector<std::uint8_t> grey() const;

private:
    // Calls f(0xRRGGBB) for every pixel, rows top to bottom.
    template <class F>
    void for_each_pixel(F&& f) const;

    int width_;
    int height_;
    cairo_surface_t* surface_ = nullptr;
    cairo_t* cr_ = nullptr;
};

// Shows `utf8` (made valid first: bad bytes become '?') with its baseline starting at the current
// point. cairo_show_text would put the context in an error state on invalid UTF-8.
void show_text(cairo_t* cr, const std::string& utf8);
// The advance width of `utf8` in the context's current font.
double text_advance(cairo_t* cr, const std::string& utf8);

}  // namespace mnistnn
