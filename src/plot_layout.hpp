#pragma once
// Layout of the learning-curve plot: a title, then two panels (loss, accuracy) against step, each
// with axes, grid, ticks, axis titles and a legend to its right.
#include <string>

#include "mnistnn/train_log.hpp"
#include "plot_painter.hpp"

namespace mnistnn::plotting {

// Draws the whole plot (kPlotWidth × kPlotHeight) through `painter`.
void draw_plot(Painter& painter, const LearningCurves& curves, const std::string& title);

}  // namespace mnistnn::plotting
