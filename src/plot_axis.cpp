#include "plot_axis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace mnistnn::plotting {

std::string Axis::label(double v) const {
    char buf[64];
    if (std::fabs(v) < step * 1e-6) v = 0.0;  // no "-0.0"
    if (scientific) {
        std::snprintf(buf, sizeof buf, "%.3g", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    }
    return buf;
}

Axis make_axis(double data_min, double data_max, int target, const AxisOptions& options) {
    double lo = data_min;
    double hi = data_max;
    const double magnitude = std::max(std::fabs(lo), std::fabs(hi));
    if (hi - lo <= magnitude * 1e-9) {
        // One value (or equal values): centre it with some room either side.
        const double centre = (lo + hi) / 2;
        const double room = options.integer ? 1.0 : (centre != 0.0 ? std::fabs(centre) * 0.1 : 1.0);
        lo = centre - room;
        hi = centre + room;
        // ... but keep a loss of 0 off negative values and an accuracy of 1 off values above 1.
        if (options.clamp_zero && centre >= 0.0 && lo < 0.0) {
            hi -= lo;
            lo = 0.0;
        }
        if (options.clamp_one && centre <= 1.0 && hi > 1.0) {
            lo -= hi - 1.0;
            if (options.clamp_zero && centre >= 0.0) lo = std::max(lo, 0.0);
            hi = 1.0;
        }
    } else {
        if (options.clamp_zero && data_min >= 0.0) lo = std::max(lo, 0.0);
        if (options.clamp_one && data_max <= 1.0) hi = std::min(hi, 1.0);
    }

    const double raw = (hi - lo) / std::max(target, 1);
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10.0 * power;
    for (double m : {1.0, 2.0, 2.5, 5.0}) {
        if (options.integer && m == 2.5 && power < 10.0) continue;  // 0.25, 2.5: not whole
        if (m * power >= raw * (1 - 1e-9)) {
            step = m * power;
            break;
        }
    }
    if (options.integer) step = std::max(step, 1.0);

    Axis axis;
    axis.step = step;
    axis.lo = std::floor(lo / step + 1e-9) * step;
    axis.hi = std::ceil(hi / step - 1e-9) * step;
    if (axis.hi <= axis.lo) axis.hi = axis.lo + step;
    if (!(step > 0) || !std::isfinite(axis.hi - axis.lo) || (axis.hi - axis.lo) / step > 100) {
        // Beyond what doubles can subdivide (values near the limits): just the two ends.
        axis.lo = lo;
        axis.hi = hi > lo ? hi : lo + 1;
        axis.step = axis.hi - axis.lo;
        axis.ticks = {axis.lo, axis.hi};
        axis.scientific = true;
        return axis;
    }
    const long long intervals = std::llround((axis.hi - axis.lo) / step);
    for (long long i = 0; i <= intervals; ++i) {
        double t = axis.lo + static_cast<double>(i) * step;
        if (std::fabs(t) < step * 1e-9) t = 0.0;
        axis.ticks.push_back(t);
    }
    // Fewest decimals that show the step exactly (0.25 → 2, 0.5 → 1, 200 → 0).
    axis.decimals = 0;
    while (axis.decimals < 12) {
        const double scaled = step * std::pow(10.0, axis.decimals);
        if (std::fabs(scaled - std::round(scaled)) <= 1e-6 * scaled) break;
        ++axis.decimals;
    }
    const double biggest = std::max(std::fabs(axis.lo), std::fabs(axis.hi));
    axis.scientific = axis.decimals > 6 || biggest >= 1e9;
    return axis;
}

// Range of the values of some series (0..1 when they are all empty).
std::pair<double, double> value_range(const std::vector<const std::vector<CurvePoint>*>& series) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const auto* s : series) {
        for (const CurvePoint& p : *s) {
            lo = std::min(lo, p.value);
            hi = std::max(hi, p.value);
        }
    }
    if (lo > hi) return {0.0, 1.0};
    return {lo, hi};
}

std::pair<double, double> step_range(const LearningCurves& c) {
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const auto* s : {&c.train_loss, &c.holdout_loss, &c.train_accuracy, &c.holdout_accuracy}) {
        for (const CurvePoint& p : *s) {
            lo = std::min(lo, p.step);
            hi = std::max(hi, p.step);
        }
    }
    if (lo > hi) return {0.0, 1.0};
    return {lo, hi};
}

}  // namespace mnistnn::plotting
