#include "plot_layout.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "plot_axis.hpp"

namespace mnistnn::plotting {

namespace {


// Shortens `text` with "..." until it fits `width`.
std::string fit_text(const Painter& painter, const std::string& text, TextStyle style, double width) {
    if (painter.text_width(text, style) <= width) return text;
    std::string cut = text;
    while (!cut.empty()) {
        cut.pop_back();
        while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0u) == 0x80u) cut.pop_back();
        if (!cut.empty() && static_cast<unsigned char>(cut.back()) >= 0xC0u) cut.pop_back();
        if (painter.text_width(cut + "...", style) <= width) return cut + "...";
    }
    return "...";
}

struct Series {
    const std::vector<CurvePoint>* points;
    std::string label;
    std::string id;
    PlotRgb colour;
    bool dashed;
    Marker marker;
};

struct Panel {
    std::string y_title;
    std::vector<Series> series;  // drawn in reverse so the first is on top
    Axis y;
    AxisOptions y_options;
    std::pair<double, double> y_range;
};

constexpr std::size_t kMaxMarkedPoints = 40;  // more points: the line alone (markers would blur it)
constexpr double kTickLength = 5;
constexpr double kSwatch = 30;        // legend line sample

// Long logs: a run of consecutive points within one pixel column is drawn as its first,
// lowest, highest and last point, which looks the same and keeps an SVG of a 10⁶-row log small.
constexpr std::size_t kDecimateAbove = 5000;

std::vector<Point> decimate(const std::vector<Point>& points) {
    std::vector<Point> out;
    std::size_t i = 0;
    while (i < points.size()) {
        const double column = std::floor(points[i].x);
        std::size_t end = i;
        std::size_t low = i;
        std::size_t high = i;
        while (end < points.size() && std::floor(points[end].x) == column) {
            if (points[end].y < points[low].y) low = end;
            if (points[end].y > points[high].y) high = end;
            ++end;
        }
        std::array<std::size_t, 4> keep{i, std::min(low, high), std::max(low, high), end - 1};
        for (std::size_t k = 0; k < keep.size(); ++k) {
            if (k == 0 || keep[k] != keep[k - 1]) out.push_back(points[keep[k]]);
        }
        i = end;
    }
    return out;
}

// Picks the tick density: as many ticks as fit without labels crowding each other.
Axis fit_axis(const Painter& painter, std::pair<double, double> range, const AxisOptions& options, double length,
              bool horizontal) {
    const int most = std::clamp(static_cast<int>(length / (horizontal ? 80 : 36)), 2, 10);
    Axis axis;
    for (int target = most; target >= 1; --target) {
        axis = make_axis(range.first, range.second, target, options);
        if (axis.ticks.size() < 2) return axis;
        const double spacing = length / static_cast<double>(axis.ticks.size() - 1);
        double needed = 0;
        for (double t : axis.ticks) {
            needed = std::max(needed, horizontal ? painter.text_width(axis.label(t), TextStyle::Tick) + 14
                                                 : painter.cap_height(TextStyle::Tick) * 2.4);
        }
        if (spacing >= needed) return axis;
    }
    return axis;
}

void draw_legend(Painter& painter, const std::vector<Series>& series, double x, double y, double width) {
    const double cap = painter.cap_height(TextStyle::Legend);
    const double row = std::max(cap + 12, 20.0);
    const double pad = 8;
    painter.begin_group("legend");
    painter.box(x, y, width, pad * 2 + row * static_cast<double>(series.size()) - (row - cap - 4), kPlotBackground,
                kFrameInk);
    double centre = y + pad + (cap + 4) / 2;
    for (const Series& s : series) {
        const double x0 = x + pad;
        painter.polyline({{x0, centre}, {x0 + kSwatch, centre}}, s.colour, s.dashed, "");
        if (s.points->size() <= kMaxMarkedPoints) painter.marker({x0 + kSwatch / 2, centre}, s.marker, s.colour);
        painter.text(x0 + kSwatch + pad, centre + cap / 2, s.label, TextStyle::Legend, Anchor::Start, false);
        centre += row;
    }
    painter.end_group();
}

// The plot area of a panel, in pixels: a rule at x covers pixel column x; a data point's
// coordinates are pixel centres (+0.5), so a value on a tick lies exactly on that tick's grid line.
struct Frame {
    double x0, y0, x1, y1;
};

// Grid, plot box, ticks with their labels, and the two axis titles.
void draw_axes(Painter& painter, const Panel& panel, const Axis& x_axis, const Frame& f) {
    const double tick_cap = painter.cap_height(TextStyle::Tick);
    auto tick_y = [&](double t) { return std::round(panel.y.map(t, f.y1, f.y0)); };
    auto tick_x = [&](double t) { return std::round(x_axis.map(t, f.x0, f.x1)); };

    for (double t : panel.y.ticks) {
        if (t != panel.y.lo && t != panel.y.hi) painter.rule(f.x0, tick_y(t), f.x1, tick_y(t), kGridInk);
    }
    for (double t : x_axis.ticks) {
        if (t != x_axis.lo && t != x_axis.hi) painter.rule(tick_x(t), f.y0, tick_x(t), f.y1, kGridInk);
    }
    painter.rule(f.x0, f.y0, f.x1, f.y0, kFrameInk);
    painter.rule(f.x1, f.y0, f.x1, f.y1, kFrameInk);
    painter.rule(f.x0, f.y0, f.x0, f.y1, kAxisInk);
    painter.rule(f.x0, f.y1, f.x1, f.y1, kAxisInk);
    for (double t : panel.y.ticks) {
        const double y = tick_y(t);
        painter.rule(f.x0 - kTickLength, y, f.x0, y, kAxisInk);
        painter.text(f.x0 - kTickLength - 4, y + 0.5 + tick_cap / 2, panel.y.label(t), TextStyle::Tick, Anchor::End,
                     false);
    }
    const double x_label_baseline = f.y1 + kTickLength + 5 + tick_cap;
    for (double t : x_axis.ticks) {
        const double x = tick_x(t);
        painter.rule(x, f.y1, x, f.y1 + kTickLength, kAxisInk);
        painter.text(x + 0.5, x_label_baseline, x_axis.label(t), TextStyle::Tick, Anchor::Middle, false);
    }

    const double title_cap = painter.cap_height(TextStyle::AxisTitle);
    painter.text((f.x0 + f.x1) / 2, x_label_baseline + 10 + title_cap, "step", TextStyle::AxisTitle, Anchor::Middle,
                 false);
    painter.text(16 + title_cap, (f.y0 + f.y1) / 2, panel.y_title, TextStyle::AxisTitle, Anchor::Middle, true);
}

// The panel's non-empty series, drawn last to first so the first is on top; returns them.
std::vector<Series> draw_series(Painter& painter, const Panel& panel, const Axis& x_axis, const Frame& f) {
    std::vector<Series> shown_series;
    for (const Series& s : panel.series) {
        if (!s.points->empty()) shown_series.push_back(s);
    }
    for (auto it = shown_series.rbegin(); it != shown_series.rend(); ++it) {
        std::vector<Point> points;
        points.reserve(it->points->size());
        for (const CurvePoint& p : *it->points) {
            points.push_back({x_axis.map(p.step, f.x0, f.x1) + 0.5, panel.y.map(p.value, f.y1, f.y0) + 0.5});
        }
        if (points.size() > kDecimateAbove) points = decimate(points);
        painter.polyline(points, it->colour, it->dashed, it->id);
        if (it->points->size() <= kMaxMarkedPoints) {
            painter.begin_group(it->id + "-markers");
            for (const Point& p : points) painter.marker(p, it->marker, it->colour);
            painter.end_group();
        }
    }
    return shown_series;
}

void draw_panel(Painter& painter, const Panel& panel, const Axis& x_axis, const Frame& frame, double legend_x,
                double legend_width) {
    painter.begin_group(panel.y_title + "-panel");
    draw_axes(painter, panel, x_axis, frame);
    const std::vector<Series> shown_series = draw_series(painter, panel, x_axis, frame);
    if (shown_series.empty()) {
        painter.text((frame.x0 + frame.x1) / 2, (frame.y0 + frame.y1) / 2, "no finite values", TextStyle::Legend,
                     Anchor::Middle, false);
    } else {
        draw_legend(painter, shown_series, legend_x, frame.y0, legend_width);
    }
    painter.end_group();
}

// The loss panel and the accuracy panel, their series and axis options (ranges not yet set).
std::array<Panel, 2> make_panels(const LearningCurves& curves) {
    std::array<Panel, 2> panels;
    panels[0].y_title = "loss";
    panels[0].series = {
        {&curves.train_loss, "training loss", "training-loss", kPlotTrainingColour, false, Marker::Circle},
        {&curves.holdout_loss, "held-out loss", "held-out-loss", kPlotHoldoutColour, true, Marker::Square}};
    panels[0].y_options.clamp_zero = true;
    panels[1].y_title = "accuracy";
    panels[1].series = {{&curves.train_accuracy, "training accuracy", "training-accuracy", kPlotTrainingColour,
                         false, Marker::Circle},
                        {&curves.holdout_accuracy, "held-out accuracy", "held-out-accuracy", kPlotHoldoutColour,
                         true, Marker::Square}};
    panels[1].y_options.clamp_zero = true;
    panels[1].y_options.clamp_one = true;
    return panels;
}

}  // namespace

void draw_plot(Painter& painter, const LearningCurves& curves, const std::string& title) {
    const double width = kPlotWidth;
    const double height = kPlotHeight;
    const double margin = 16;

    std::array<Panel, 2> panels = make_panels(curves);

    // title
    const double title_cap = painter.cap_height(TextStyle::Title);
    const double title_baseline = margin + title_cap;
    painter.text(width / 2, title_baseline, fit_text(painter, title, TextStyle::Title, width - 2 * margin),
                 TextStyle::Title, Anchor::Middle, false);

    // vertical layout: both panels the same height
    const double tick_cap = painter.cap_height(TextStyle::Tick);
    const double axis_cap = painter.cap_height(TextStyle::AxisTitle);
    const double below_plot = kTickLength + 5 + tick_cap + 10 + axis_cap;  // tick labels + "step"
    const double top = title_baseline + 18 + tick_cap / 2;
    const double panel_gap = 30 + tick_cap / 2;
    const double plot_height = (height - margin - top - 2 * below_plot - panel_gap) / 2;

    // legend column to the right of the plots
    double legend_text = 0;
    for (const Panel& panel : panels) {
        for (const Series& s : panel.series) legend_text = std::max(legend_text, painter.text_width(s.label, TextStyle::Legend));
    }
    const double legend_width = 8 + kSwatch + 8 + legend_text + 10;
    const double right = 14 + legend_width + margin;

    // y axes decide the left margin (the longest tick label of either panel)
    double y_labels = 0;
    for (Panel& panel : panels) {
        std::vector<const std::vector<CurvePoint>*> values;
        for (const Series& s : panel.series) values.push_back(s.points);
        panel.y_range = value_range(values);
        panel.y = fit_axis(painter, panel.y_range, panel.y_options, plot_height, false);
        for (double t : panel.y.ticks) y_labels = std::max(y_labels, painter.text_width(panel.y.label(t), TextStyle::Tick));
    }
    const double px0 = std::round(margin + axis_cap + 12 + y_labels + 4 + kTickLength);
    const double px1 = std::round(width - right);

    AxisOptions x_options;  // not clamped at 0: a lone step 0 sits in the middle of -1..1
    const std::pair<double, double> steps = step_range(curves);
    x_options.integer = std::floor(steps.first) == steps.first && std::floor(steps.second) == steps.second;
    const Axis x_axis = fit_axis(painter, steps, x_options, px1 - px0, true);

    double py0 = std::round(top);
    for (const Panel& panel : panels) {
        const double py1 = std::round(py0 + plot_height);
        draw_panel(painter, panel, x_axis, Frame{px0, py0, px1, py1}, px1 + 14, legend_width);
        py0 = std::round(py1 + below_plot + panel_gap);
    }
}

}  // namespace mnistnn::plotting
