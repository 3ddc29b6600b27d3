#include "cairo_painter.hpp"

#include <algorithm>
#include <cmath>

namespace mnistnn::plotting {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

CairoPainter::CairoPainter(int width, int height)
    : canvas_(width, height, kPlotBackground.r, kPlotBackground.g, kPlotBackground.b) {}

void CairoPainter::use_font(TextStyle style) const {
    cairo_set_font_face(canvas_.cr(), style == TextStyle::Title ? bold_.get() : book_.get());
    cairo_set_font_size(canvas_.cr(), text_size(style));
}

double CairoPainter::text_width(const std::string& text, TextStyle style) const {
    use_font(style);
    return text_advance(canvas_.cr(), text);
}

double CairoPainter::cap_height(TextStyle style) const {
    use_font(style);
    cairo_text_extents_t extents;
    cairo_text_extents(canvas_.cr(), "H", &extents);
    return extents.height;
}

void CairoPainter::text(double x, double y, const std::string& text, TextStyle style, Anchor anchor, bool vertical) {
    cairo_t* cr = canvas_.cr();
    const double width = text_width(text, style);
    const double along = anchor == Anchor::Start ? 0.0 : anchor == Anchor::Middle ? -width / 2 : -width;
    cairo_save(cr);
    // Whole-pixel origins keep the hinted baselines and stems crisp.
    cairo_translate(cr, std::round(x), std::round(y));
    if (vertical) cairo_rotate(cr, -kPi / 2);
    cairo_move_to(cr, std::round(along), 0.0);
    set_colour(kInk);
    show_text(cr, text);
    cairo_restore(cr);
}

void CairoPainter::rule(double x0, double y0, double x1, double y1, PlotRgb colour) {
    const double left = std::floor(std::min(x0, x1));
    const double top = std::floor(std::min(y0, y1));
    const double right = std::floor(std::max(x0, x1)) + 1;
    const double bottom = std::floor(std::max(y0, y1)) + 1;
    set_colour(colour);
    cairo_rectangle(canvas_.cr(), left, top, right - left, bottom - top);
    cairo_fill(canvas_.cr());
}

void CairoPainter::box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) {
    const int x0 = static_cast<int>(std::floor(x));
    const int y0 = static_cast<int>(std::floor(y));
    const int x1 = static_cast<int>(std::floor(x + w));
    const int y1 = static_cast<int>(std::floor(y + h));
    set_colour(stroke);
    canvas_.fill_pixels(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
    set_colour(fill);
    canvas_.fill_pixels(x0 + 1, y0 + 1, x1 - x0 - 1, y1 - y0 - 1);
}

void CairoPainter::polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string&) {
    if (points.empty()) return;
    cairo_t* cr = canvas_.cr();
    cairo_save(cr);
    cairo_move_to(cr, points.front().x, points.front().y);
    for (const Point& p : points) cairo_line_to(cr, p.x, p.y);  // a lone point: a round dot
    cairo_set_line_width(cr, kLineWidth);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    if (dashed) {
        const double dashes[] = {kDashOn, kDashOff};
        cairo_set_dash(cr, dashes, 2, 0.0);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    } else {
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    }
    set_colour(colour);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void CairoPainter::marker(Point at, Marker shape, PlotRgb colour) {
    cairo_t* cr = canvas_.cr();
    if (shape == Marker::Circle) {
        cairo_arc(cr, at.x, at.y, kMarkerRadius, 0.0, 2 * kPi);
    } else {
        cairo_rectangle(cr, at.x - kMarkerRadius, at.y - kMarkerRadius, 2 * kMarkerRadius, 2 * kMarkerRadius);
    }
    set_colour(colour);
    cairo_fill_preserve(cr);
    set_colour(kPlotBackground);  // a 1-px rim sets it off the line
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);
}

RgbImage CairoPainter::image() const {
    canvas_.check();
    return RgbImage{canvas_.width(), canvas_.height(), canvas_.rgb()};
}

}  // namespace mnistnn::plotting
