#pragma once
// The plot rasterised by cairo: anti-aliased lines and markers, text in DejaVu Sans.
#include <string>
#include <vector>

#include "cairo_canvas.hpp"
#include "plot_painter.hpp"

namespace mnistnn::plotting {

class CairoPainter final : public Painter {
public:
    // A width×height canvas filled with kPlotBackground.
    CairoPainter(int width, int height);

    double text_width(const std::string& text, TextStyle style) const override;
    double cap_height(TextStyle style) const override;
    void text(double x, double y, const std::string& text, TextStyle style, Anchor anchor, bool vertical) override;
    void rule(double x0, double y0, double x1, double y1, PlotRgb colour) override;
    void box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) override;
    void polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string& id) override;
    void marker(Point at, Marker shape, PlotRgb colour) override;

    // What has been drawn; Error if cairo failed.
    RgbImage image() const;

private:
    void use_font(TextStyle style) const;
    void set_colour(PlotRgb c) const { canvas_.set_colour(c.r, c.g, c.b); }

    FontFace book_{false};
    FontFace bold_{true};
    CairoCanvas canvas_;
};

}  // namespace mnistnn::plotting
