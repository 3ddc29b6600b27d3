#pragma once
// Axes of the learning-curve plot: "nice" tick values (1, 2, 2.5 or 5 × 10^k) and their labels.
#include <string>
#include <utility>
#include <vector>

#include "mnistnn/train_log.hpp"

namespace mnistnn::plotting {

struct Axis {
    double lo = 0.0;
    double hi = 1.0;
    double step = 0.2;
    int decimals = 1;
    bool scientific = false;
    std::vector<double> ticks;

    // Maps v in [lo, hi] linearly onto [p0, p1].
    double map(double v, double p0, double p1) const { return p0 + (v - lo) / (hi - lo) * (p1 - p0); }

    // The tick label of v: `decimals` fixed decimals, or 3 significant digits when scientific.
    std::string label(double v) const;
};

struct AxisOptions {
    bool integer = false;   // ticks at whole numbers only (steps)
    bool clamp_zero = false;  // data >= 0: do not extend below 0
    bool clamp_one = false;   // data <= 1: do not extend above 1 (accuracies)
};


// An axis covering [data_min, data_max] with about `target` intervals.
Axis make_axis(double data_min, double data_max, int target, const AxisOptions& options);

// Range of the values of some series (0..1 when they are all empty).
std::pair<double, double> value_range(const std::vector<const std::vector<CurvePoint>*>& series);

// Range of the steps of all four series (0..1 when they are all empty).
std::pair<double, double> step_range(const LearningCurves& c);

}  // namespace mnistnn::plotting
