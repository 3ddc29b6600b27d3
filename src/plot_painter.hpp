#pragma once
// The drawing surface the plot layout draws through: once for SVG (svg_painter) and once for
// pixels (cairo_painter). Coordinates are pixels from the top-left corner, y down.
#include <string>
#include <vector>

#include "mnistnn/plot.hpp"

namespace mnistnn::plotting {

enum class TextStyle { Title, AxisTitle, Tick, Legend };
enum class Anchor { Start, Middle, End };
enum class Marker { Circle, Square };

struct Point {
    double x = 0.0;
    double y = 0.0;
};

constexpr PlotRgb kInk{34, 34, 34};          // text
constexpr PlotRgb kAxisInk{68, 68, 68};      // axes and ticks
constexpr PlotRgb kGridInk{226, 226, 226};
constexpr PlotRgb kFrameInk{190, 190, 190};  // the plot box's other two sides, legend box

// Font size of each text style in pixels (DejaVu Sans; the title bold).
constexpr int text_size(TextStyle style) {
    switch (style) {
        case TextStyle::Title: return 20;
        case TextStyle::AxisTitle: return 15;
        case TextStyle::Tick: return 13;
        case TextStyle::Legend: return 14;
    }
    return 13;
}

// Series lines are 2 px wide; held-out series dashed 7 on, 5 off. Markers: radius 3.5 with a
// 1-px white rim.
constexpr double kLineWidth = 2.0;
constexpr double kDashOn = 7.0;
constexpr double kDashOff = 5.0;
constexpr double kMarkerRadius = 3.5;

class Painter {
public:
    virtual ~Painter() = default;
    virtual double text_width(const std::string& text, TextStyle style) const = 0;
    virtual double cap_height(TextStyle style) const = 0;
    // Text with its baseline at y; `vertical` turns it 90° anticlockwise about (x, y).
    virtual void text(double x, double y, const std::string& text, TextStyle style, Anchor anchor,
                      bool vertical) = 0;
    // A crisp 1-px horizontal or vertical line covering the pixels from (x0, y0) to (x1, y1).
    virtual void rule(double x0, double y0, double x1, double y1, PlotRgb colour) = 0;
    // A filled rectangle with a crisp 1-px outline on the pixels x .. x+w, y .. y+h.
    virtual void box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) = 0;
    // A series line through pixel-centre coordinates; `id` names it (SVG only; may be empty).
    virtual void polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string& id) = 0;
    virtual void marker(Point at, Marker shape, PlotRgb colour) = 0;
    virtual void begin_group(const std::string& /*id*/) {}
    virtual void end_group() {}
};

}  // namespace mnistnn::plotting
