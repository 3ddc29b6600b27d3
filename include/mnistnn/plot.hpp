#pragma once
// Learning-curve plots: draws the curves of a training log (mnistnn/train_log.hpp) as an SVG
// document or a PNG image (two panels, loss and accuracy against step, axes with "nice" ticks, axis
// titles, a legend per panel and a title). Part of the mnistnn_render library; no dependency on
// the CLI.
#include <cstdint>
#include <string>
#include <vector>

#include "mnistnn/train_log.hpp"  // LearningCurves, read_learning_curves

namespace mnistnn {

enum class PlotFormat { Svg, Png };

// .svg or .png (case-insensitive); anything else is a UsageError.
PlotFormat plot_format_for(const std::string& path);

// Size of the drawing, in pixels (SVG user units and PNG pixels alike).
constexpr int kPlotWidth = 900;
constexpr int kPlotHeight = 700;

struct PlotRgb {
    std::uint8_t r, g, b;
};
// Series colours (training solid lines with round markers, held-out dashed with squares).
constexpr PlotRgb kPlotTrainingColour{31, 119, 180};  // #1f77b4 blue
constexpr PlotRgb kPlotHoldoutColour{217, 95, 2};     // #d95f02 orange
constexpr PlotRgb kPlotBackground{255, 255, 255};

// A standalone SVG 1.1 document (UTF-8) of kPlotWidth × kPlotHeight.
std::string render_curves_svg(const LearningCurves& curves, const std::string& title);

struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;  // row-major, 3 bytes per pixel
};

// The same drawing rasterised by cairo (anti-aliased lines, text in DejaVu Sans). Throws Error if
// the font is not installed.
RgbImage render_curves_rgb(const LearningCurves& curves, const std::string& title);

// render_curves_rgb encoded as PNG bytes.
std::string render_curves_png(const LearningCurves& curves, const std::string& title);

// Draws `curves` to `path` as SVG or PNG by its extension, written atomically.
void write_curves_plot(const std::string& path, const LearningCurves& curves, const std::string& title);

}  // namespace mnistnn
