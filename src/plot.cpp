// The public face of the learning-curve plot: picks the painter for the output format and writes
// the file. Layout in plot_layout, painters in svg_painter and cairo_painter.
#include "mnistnn/plot.hpp"

#include <filesystem>
#include <ostream>

#include "cairo_painter.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "plot_layout.hpp"
#include "png_encoder.hpp"
#include "svg_painter.hpp"
#include "text.hpp"

namespace mnistnn {

PlotFormat plot_format_for(const std::string& path) {
    const std::string ext = std::filesystem::path(path).extension().string();
    const std::string ext_lower = ascii_lower(ext);
    if (ext_lower == ".svg") return PlotFormat::Svg;
    if (ext_lower == ".png") return PlotFormat::Png;
    throw UsageError("unsupported plot format '" + (ext.empty() ? std::string("(none)") : ext) + "' for '" + path +
                     "': use .svg or .png");
}

std::string render_curves_svg(const LearningCurves& curves, const std::string& title) {
    plotting::SvgPainter painter;
    plotting::draw_plot(painter, curves, title);
    return painter.document(title);
}

RgbImage render_curves_rgb(const LearningCurves& curves, const std::string& title) {
    plotting::CairoPainter painter(kPlotWidth, kPlotHeight);
    plotting::draw_plot(painter, curves, title);
    return painter.image();
}

std::string render_curves_png(const LearningCurves& curves, const std::string& title) {
    const RgbImage image = render_curves_rgb(curves, title);
    return encode_png(image.width, image.height, 3, image.pixels.data());
}

void write_curves_plot(const std::string& path, const LearningCurves& curves, const std::string& title) {
    const PlotFormat format = plot_format_for(path);
    const std::string bytes =
        format == PlotFormat::Svg ? render_curves_svg(curves, title) : render_curves_png(curves, title);
    write_file_atomically(path, [&bytes](std::ostream& out) {
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    });
}

}  // namespace mnistnn
