#pragma once
// The plot as a hand-written SVG 1.1 document: text stays text (searchable, selectable, scalable),
// laid out with estimated DejaVu Sans advance widths.
#include <sstream>
#include <string>
#include <vector>

#include "plot_painter.hpp"

namespace mnistnn::plotting {

class SvgPainter final : public Painter {
public:
    double text_width(const std::string& text, TextStyle style) const override;
    double cap_height(TextStyle style) const override;
    void text(double x, double y, const std::string& text, TextStyle style, Anchor anchor, bool vertical) override;
    void rule(double x0, double y0, double x1, double y1, PlotRgb colour) override;
    void box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) override;
    void polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string& id) override;
    void marker(Point at, Marker shape, PlotRgb colour) override;
    void begin_group(const std::string& id) override;
    void end_group() override;

    // The complete document (UTF-8) with everything drawn so far.
    std::string document(const std::string& title) const;

private:
    std::ostringstream body_;
};

}  // namespace mnistnn::plotting
