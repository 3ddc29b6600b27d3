#pragma once
// Learning-curve plots: reads the CSV log written by `train --log-csv` and draws loss and
// accuracy against step as an SVG document or a PNG image (two panels, axes with "nice"
// ticks, axis titles, a legend per panel and a title). No dependency on the CLI.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace mnistnn {

struct CurvePoint {
    double step = 0.0;
    double value = 0.0;
};

// The four series of a learning-curve log. A point is left out when its value is empty,
// "nan" or infinite, so a series may be shorter than `rows` or empty (no held-out split).
struct LearningCurves {
    std::vector<CurvePoint> train_loss;
    std::vector<CurvePoint> holdout_loss;
    std::vector<CurvePoint> train_accuracy;
    std::vector<CurvePoint> holdout_accuracy;
    std::size_t rows = 0;               // data rows read
    std::size_t skipped_training = 0;   // non-finite training loss/accuracy values left out
};

// Parses a log. Columns are found by header name (order and extra columns do not matter):
// `step`, `loss` and `train_accuracy` are required; `holdout_accuracy` and `holdout_loss` are
// optional and may be empty or "nan". `name` is used in error messages. Throws
// DataFormatError (one line, naming `name`, the line and, for a bad value, the column) for
// an empty input, a header without the required columns, a row with the wrong number of
// fields, a value that is not a number, or no data rows.
LearningCurves parse_learning_curves(std::istream& in, const std::string& name);

// Reads and parses the file at `path`; IoError when it cannot be opened or read.
LearningCurves read_learning_curves(const std::string& path);

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

// The same drawing rasterised (anti-aliased 2-px lines, bitmap font).
RgbImage render_curves_rgb(const LearningCurves& curves, const std::string& title);

// render_curves_rgb encoded as PNG bytes.
std::string render_curves_png(const LearningCurves& curves, const std::string& title);

// Draws `curves` to `path` as SVG or PNG by its extension, written atomically.
void write_curves_plot(const std::string& path, const LearningCurves& curves, const std::string& title);

}  // namespace mnistnn
