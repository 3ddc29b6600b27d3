#include "mnistnn/plot.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <memory>
#include <ostream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"

#include "png_encoder.hpp"

namespace mnistnn {

namespace {

// =========================================================================================
// Parsing the log
// =========================================================================================

// Values beyond this are treated like infinities: they cannot be laid out on an axis.
constexpr double kMaxMagnitude = 1e300;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = line.find(',', start);
        if (comma == std::string_view::npos) {
            fields.push_back(trim(line.substr(start)));
            return fields;
        }
        fields.push_back(trim(line.substr(start, comma - start)));
        start = comma + 1;
    }
}

// Valid UTF-8 with XML-forbidden control characters and malformed bytes replaced by '?'.
std::string clean_utf8(const std::string& s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
            ++i;
            continue;
        }
        int length = 0;
        unsigned cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            cp = c & 0x07u;
        }
        bool ok = length > 0 && i + static_cast<std::size_t>(length) <= s.size();
        for (int k = 1; ok && k < length; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            if ((cc & 0xC0u) != 0x80u) ok = false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        const unsigned minimum = length == 2 ? 0x80u : length == 3 ? 0x800u : 0x10000u;
        ok = ok && cp >= minimum && cp <= 0x10FFFFu && !(cp >= 0xD800u && cp <= 0xDFFFu) && cp != 0xFFFEu &&
             cp != 0xFFFFu;
        if (ok) {
            out.append(s, i, static_cast<std::size_t>(length));
            i += static_cast<std::size_t>(length);
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

// A field or header as it may appear in a one-line message: quoted, printable, short.
std::string shown(std::string_view text, std::size_t limit = 40) {
    std::string out = "'" + clean_utf8(std::string(text.substr(0, limit)));
    if (text.size() > limit) out += "...";
    return out + "'";
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

enum class NumberParse { Ok, NotNumber, OutOfRange };

// The whole field must be a decimal number ("nan" and "inf" included, an optional '+').
NumberParse parse_number(std::string_view text, double& value) {
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
        if (!text.empty() && (text.front() == '+' || text.front() == '-')) return NumberParse::NotNumber;
    }
    if (text.empty()) return NumberParse::NotNumber;
    const char* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, value);
    if (stop != end) return NumberParse::NotNumber;
    if (ec == std::errc::result_out_of_range) return NumberParse::OutOfRange;
    if (ec != std::errc()) return NumberParse::NotNumber;
    return NumberParse::Ok;
}

bool plottable(double v) { return std::isfinite(v) && std::fabs(v) <= kMaxMagnitude; }

struct Column {
    const char* name;
    bool required;
    std::vector<CurvePoint>* series;  // null for `step`
    int index = -1;
};

}  // namespace

LearningCurves parse_learning_curves(std::istream& in, const std::string& name) {
    LearningCurves curves;
    std::array<Column, 5> columns{{
        {"step", true, nullptr},
        {"loss", true, &curves.train_loss},
        {"train_accuracy", true, &curves.train_accuracy},
        {"holdout_loss", false, &curves.holdout_loss},
        {"holdout_accuracy", false, &curves.holdout_accuracy},
    }};
    const Column& step_column = columns[0];

    std::string line;
    std::size_t line_no = 0;
    std::size_t header_line = 0;
    std::size_t field_count = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
        if (trim(line).empty()) continue;
        const std::string where = name + " line " + std::to_string(line_no);
        const std::vector<std::string_view> fields = split_fields(line);

        if (header_line == 0) {
            header_line = line_no;
            field_count = fields.size();
            for (std::size_t i = 0; i < fields.size(); ++i) {
                const std::string field = lower(fields[i]);
                for (Column& column : columns) {
                    if (field != column.name) continue;
                    if (column.index >= 0) {
                        throw DataFormatError(where + ": column '" + column.name + "' appears twice in the header");
                    }
                    column.index = static_cast<int>(i);
                }
            }
            std::string missing;
            for (const Column& column : columns) {
                if (column.required && column.index < 0) {
                    missing += (missing.empty() ? "'" : ", '") + std::string(column.name) + "'";
                }
            }
            if (!missing.empty()) {
                throw DataFormatError(where + ": header lacks required column(s) " + missing + " (header is " +
                                      shown(line, 120) +
                                      "; expected a log from `mnistnn train --log-csv`: "
                                      "step,epoch,seconds,loss,train_accuracy,holdout_accuracy[,holdout_loss])");
            }
            continue;
        }

        if (fields.size() != field_count) {
            throw DataFormatError(where + ": " + std::to_string(fields.size()) + " field" +
                                  (fields.size() == 1 ? "" : "s") + ", but the header (line " +
                                  std::to_string(header_line) + ") has " + std::to_string(field_count));
        }
        // Parses the row's value of `column`; false when it is missing (empty) and optional.
        auto value_of = [&](const Column& column, double& value) {
            const std::string_view text = fields[static_cast<std::size_t>(column.index)];
            const std::string at = where + ", column " + std::to_string(column.index + 1) + " (" + column.name + ")";
            if (text.empty()) {
                if (!column.required) return false;
                throw DataFormatError(at + ": empty value");
            }
            switch (parse_number(text, value)) {
                case NumberParse::Ok:
                    return true;
                case NumberParse::OutOfRange:
                    throw DataFormatError(at + ": " + shown(text) + " is out of range");
                case NumberParse::NotNumber:
                    break;
            }
            throw DataFormatError(at + ": " + shown(text) + " is not a number");
        };

        double step = 0.0;
        value_of(step_column, step);
        if (!plottable(step)) {
            throw DataFormatError(where + ", column " + std::to_string(step_column.index + 1) + " (step): " +
                                  shown(fields[static_cast<std::size_t>(step_column.index)]) +
                                  " is not a finite number");
        }
        for (const Column& column : columns) {
            if (column.series == nullptr || column.index < 0) continue;
            double value = 0.0;
            if (!value_of(column, value)) continue;
            if (plottable(value)) {
                column.series->push_back({step, value});
            } else if (column.required) {
                ++curves.skipped_training;  // e.g. a "nan" loss logged just before divergence
            }
        }
        ++curves.rows;
    }
    if (in.bad()) throw IoError("cannot read " + name);
    if (header_line == 0) {
        throw DataFormatError(name + " is empty: expected a learning-curve log with the header "
                                     "step,epoch,seconds,loss,train_accuracy,holdout_accuracy");
    }
    if (curves.rows == 0) {
        throw DataFormatError(name + " line " + std::to_string(header_line) +
                              ": header but no data rows (need at least one row to plot)");
    }
    return curves;
}

LearningCurves read_learning_curves(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw IoError("cannot read '" + path + "': it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const bool exists = std::filesystem::exists(path, ec);
        throw IoError("cannot open '" + path + "': " + (exists ? "permission denied or unreadable" : "no such file"));
    }
    return parse_learning_curves(in, "'" + path + "'");
}

PlotFormat plot_format_for(const std::string& path) {
    const std::string ext = std::filesystem::path(path).extension().string();
    const std::string ext_lower = lower(ext);
    if (ext_lower == ".svg") return PlotFormat::Svg;
    if (ext_lower == ".png") return PlotFormat::Png;
    throw UsageError("unsupported plot format '" + (ext.empty() ? std::string("(none)") : ext) + "' for '" + path +
                     "': use .svg or .png");
}

namespace {

// =========================================================================================
// Axes: "nice" tick values (1, 2, 2.5 or 5 × 10^k) and their labels
// =========================================================================================

struct Axis {
    double lo = 0.0;
    double hi = 1.0;
    double step = 0.2;
    int decimals = 1;
    bool scientific = false;
    std::vector<double> ticks;

    // Maps v in [lo, hi] linearly onto [p0, p1].
    double map(double v, double p0, double p1) const { return p0 + (v - lo) / (hi - lo) * (p1 - p0); }

    std::string label(double v) const {
        char buf[64];
        if (std::fabs(v) < step * 1e-6) v = 0.0;  // no "-0.0"
        if (scientific) {
            std::snprintf(buf, sizeof buf, "%.3g", v);
        } else {
            std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
        }
        return buf;
    }
};

struct AxisOptions {
    bool integer = false;   // ticks at whole numbers only (steps)
    bool clamp_zero = false;  // data >= 0: do not extend below 0
    bool clamp_one = false;   // data <= 1: do not extend above 1 (accuracies)
};

// An axis covering [data_min, data_max] with about `target` intervals.
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

// =========================================================================================
// Drawing surface: the layout code draws through this, once for SVG and once for pixels
// =========================================================================================

enum class TextStyle { Title, AxisTitle, Tick, Legend };
enum class Anchor { Start, Middle, End };
enum class Marker { Circle, Square };

struct Point {
    double x = 0.0;
    double y = 0.0;
};

constexpr PlotRgb kInk{34, 34, 34};        // text
constexpr PlotRgb kAxisInk{68, 68, 68};    // axes and ticks
constexpr PlotRgb kGridInk{226, 226, 226};
constexpr PlotRgb kFrameInk{190, 190, 190};  // the plot box's other two sides, legend box

class Painter {
public:
    virtual ~Painter() = default;
    virtual double text_width(const std::string& text, TextStyle style) const = 0;
    virtual double cap_height(TextStyle style) const = 0;
    // Text with its baseline at y; `vertical` turns it 90° anticlockwise about (x, y).
    virtual void text(double x, double y, const std::string& text, TextStyle style, Anchor anchor,
                      bool vertical) = 0;
    // A crisp 1-px horizontal or vertical line.
    virtual void rule(double x0, double y0, double x1, double y1, PlotRgb colour) = 0;
    virtual void box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) = 0;
    virtual void polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string& id) = 0;
    virtual void marker(Point at, Marker shape, PlotRgb colour) = 0;
    virtual void begin_group(const std::string& /*id*/) {}
    virtual void end_group() {}
};

// ---- text helpers --------------------------------------------------------------------

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

// =========================================================================================
// Layout: title, two panels (loss, accuracy), each with its legend to the right
// =========================================================================================

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

void draw_panel(Painter& painter, const Panel& panel, const Axis& x_axis, double px0, double py0, double px1,
                double py1, double legend_x, double legend_width) {
    const double tick_cap = painter.cap_height(TextStyle::Tick);
    painter.begin_group(panel.y_title + "-panel");

    // Coordinates: a rule at x covers pixel column x; a data point's coordinates are pixel
    // centres (+0.5), so a value on a tick lies exactly on that tick's grid line.
    auto tick_y = [&](double t) { return std::round(panel.y.map(t, py1, py0)); };
    auto tick_x = [&](double t) { return std::round(x_axis.map(t, px0, px1)); };

    // grid, then the plot box, then ticks and their labels
    for (double t : panel.y.ticks) {
        if (t != panel.y.lo && t != panel.y.hi) painter.rule(px0, tick_y(t), px1, tick_y(t), kGridInk);
    }
    for (double t : x_axis.ticks) {
        if (t != x_axis.lo && t != x_axis.hi) painter.rule(tick_x(t), py0, tick_x(t), py1, kGridInk);
    }
    painter.rule(px0, py0, px1, py0, kFrameInk);
    painter.rule(px1, py0, px1, py1, kFrameInk);
    painter.rule(px0, py0, px0, py1, kAxisInk);
    painter.rule(px0, py1, px1, py1, kAxisInk);
    for (double t : panel.y.ticks) {
        const double y = tick_y(t);
        painter.rule(px0 - kTickLength, y, px0, y, kAxisInk);
        painter.text(px0 - kTickLength - 4, y + 0.5 + tick_cap / 2, panel.y.label(t), TextStyle::Tick, Anchor::End,
                     false);
    }
    const double x_label_baseline = py1 + kTickLength + 5 + tick_cap;
    for (double t : x_axis.ticks) {
        const double x = tick_x(t);
        painter.rule(x, py1, x, py1 + kTickLength, kAxisInk);
        painter.text(x + 0.5, x_label_baseline, x_axis.label(t), TextStyle::Tick, Anchor::Middle, false);
    }

    // axis titles
    const double title_cap = painter.cap_height(TextStyle::AxisTitle);
    painter.text((px0 + px1) / 2, x_label_baseline + 10 + title_cap, "step", TextStyle::AxisTitle, Anchor::Middle,
                 false);
    painter.text(16 + title_cap, (py0 + py1) / 2, panel.y_title, TextStyle::AxisTitle, Anchor::Middle, true);

    // series, the first on top
    std::vector<Series> shown_series;
    for (const Series& s : panel.series) {
        if (!s.points->empty()) shown_series.push_back(s);
    }
    for (auto it = shown_series.rbegin(); it != shown_series.rend(); ++it) {
        std::vector<Point> points;
        points.reserve(it->points->size());
        for (const CurvePoint& p : *it->points) {
            points.push_back({x_axis.map(p.step, px0, px1) + 0.5, panel.y.map(p.value, py1, py0) + 0.5});
        }
        if (points.size() > kDecimateAbove) points = decimate(points);
        painter.polyline(points, it->colour, it->dashed, it->id);
        if (it->points->size() <= kMaxMarkedPoints) {
            painter.begin_group(it->id + "-markers");
            for (const Point& p : points) painter.marker(p, it->marker, it->colour);
            painter.end_group();
        }
    }
    if (shown_series.empty()) {
        painter.text((px0 + px1) / 2, (py0 + py1) / 2, "no finite values", TextStyle::Legend, Anchor::Middle, false);
    } else {
        draw_legend(painter, shown_series, legend_x, py0, legend_width);
    }
    painter.end_group();
}

void draw_plot(Painter& painter, const LearningCurves& curves, const std::string& title) {
    const double width = kPlotWidth;
    const double height = kPlotHeight;
    const double margin = 16;

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
        draw_panel(painter, panel, x_axis, px0, py0, px1, py1, px1 + 14, legend_width);
        py0 = std::round(py1 + below_plot + panel_gap);
    }
}

// =========================================================================================
// SVG
// =========================================================================================

std::string hex(PlotRgb c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
    return buf;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    if (s == "-0") s = "0";
    return s;
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : clean_utf8(s)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
    return out;
}

class SvgPainter final : public Painter {
public:
    double text_width(const std::string& text, TextStyle style) const override {
        // Advance widths of DejaVu Sans / Arial, roughly, in em.
        double em = 0;
        for (unsigned char c : text) {
            if ((c & 0xC0u) == 0x80u) continue;  // UTF-8 continuation byte
            if (c == ' ' || c == '.' || c == ',' || c == ':' || c == 'i' || c == 'l' || c == 'j' || c == '\'' ||
                c == '|' || c == '!') {
                em += 0.30;
            } else if (c == 'f' || c == 't' || c == 'r' || c == '-' || c == '(' || c == ')') {
                em += 0.40;
            } else if (c == 'm' || c == 'w' || c == 'M' || c == 'W') {
                em += 0.90;
            } else if (std::isupper(c) != 0) {
                em += 0.70;
            } else {
                em += 0.60;
            }
        }
        return em * size(style) * (style == TextStyle::Title ? 1.07 : 1.0);
    }
    double cap_height(TextStyle style) const override { return 0.73 * size(style); }

    void text(double x, double y, const std::string& text, TextStyle style, Anchor anchor, bool vertical) override {
        body_ << "<text x=\"" << num(x) << "\" y=\"" << num(y) << '"';
        if (vertical) body_ << " transform=\"rotate(-90 " << num(x) << ' ' << num(y) << ")\"";
        if (anchor == Anchor::Middle) body_ << " text-anchor=\"middle\"";
        if (anchor == Anchor::End) body_ << " text-anchor=\"end\"";
        body_ << " font-size=\"" << size(style) << '"';
        if (style == TextStyle::Title) body_ << " font-weight=\"bold\"";
        body_ << '>' << xml_escape(text) << "</text>\n";
    }

    void rule(double x0, double y0, double x1, double y1, PlotRgb colour) override {
        // Pixel centres, so a 1-unit line covers exactly one row or column of pixels.
        const bool horizontal = y0 == y1;
        body_ << "<line x1=\"" << num(horizontal ? x0 : x0 + 0.5) << "\" y1=\"" << num(horizontal ? y0 + 0.5 : y0)
              << "\" x2=\"" << num(horizontal ? x1 + 1 : x1 + 0.5) << "\" y2=\"" << num(horizontal ? y1 + 0.5 : y1 + 1)
              << "\" stroke=\"" << hex(colour) << "\" stroke-width=\"1\" shape-rendering=\"crispEdges\"/>\n";
    }

    void box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) override {
        body_ << "<rect x=\"" << num(x + 0.5) << "\" y=\"" << num(y + 0.5) << "\" width=\"" << num(w) << "\" height=\""
              << num(h) << "\" fill=\"" << hex(fill) << "\" stroke=\"" << hex(stroke)
              << "\" stroke-width=\"1\" shape-rendering=\"crispEdges\"/>\n";
    }

    void polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string& id) override {
        body_ << "<polyline";
        if (!id.empty()) body_ << " class=\"series\" id=\"" << id << '"';
        body_ << " fill=\"none\" stroke=\"" << hex(colour) << "\" stroke-width=\"2\" stroke-linejoin=\"round\"";
        body_ << (dashed ? " stroke-dasharray=\"7 5\" stroke-linecap=\"butt\"" : " stroke-linecap=\"round\"");
        body_ << " points=\"";
        for (std::size_t i = 0; i < points.size(); ++i) {
            body_ << (i == 0 ? "" : " ") << num(points[i].x) << ',' << num(points[i].y);
        }
        body_ << "\"/>\n";
    }

    void marker(Point at, Marker shape, PlotRgb colour) override {
        if (shape == Marker::Circle) {
            body_ << "<circle cx=\"" << num(at.x) << "\" cy=\"" << num(at.y) << "\" r=\"3.5\"";
        } else {
            body_ << "<rect x=\"" << num(at.x - 3.5) << "\" y=\"" << num(at.y - 3.5)
                  << "\" width=\"7\" height=\"7\"";
        }
        body_ << " fill=\"" << hex(colour) << "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
    }

    void begin_group(const std::string& id) override { body_ << "<g id=\"" << id << "\">\n"; }
    void end_group() override { body_ << "</g>\n"; }

    std::string document(const std::string& title) const {
        std::ostringstream out;
        out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kPlotWidth << "\" height=\""
            << kPlotHeight << "\" viewBox=\"0 0 " << kPlotWidth << ' ' << kPlotHeight
            << "\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" fill=\"" << hex(kInk) << "\">\n"
            << "<title>" << xml_escape(title) << "</title>\n"
            << "<rect width=\"" << kPlotWidth << "\" height=\"" << kPlotHeight << "\" fill=\"" << hex(kPlotBackground)
            << "\"/>\n"
            << body_.str() << "</svg>\n";
        return out.str();
    }

private:
    static int size(TextStyle style) {
        switch (style) {
            case TextStyle::Title: return 20;
            case TextStyle::AxisTitle: return 15;
            case TextStyle::Tick: return 13;
            case TextStyle::Legend: return 14;
        }
        return 13;
    }

    std::ostringstream body_;
};

// =========================================================================================
// Raster: RGB pixels, anti-aliased lines, a 5×7 bitmap font (with 2 rows of descenders)
// =========================================================================================

constexpr int kGlyphColumns = 5;
constexpr int kGlyphRows = 9;    // 7 above the baseline, 2 below (g, j, p, q, y, ",", ";", "_")
constexpr int kBaselineRow = 7;  // rows 0..6 sit on the baseline
using Glyph = std::array<const char*, kGlyphRows>;

#define ROWS7(a, b, c, d, e, f, g) {a, b, c, d, e, f, g, ".....", "....."}
// Printable ASCII, ' ' (32) to '~' (126), '#' = ink.
const std::array<Glyph, 95> kFont = {{
    ROWS7(".....", ".....", ".....", ".....", ".....", ".....", "....."),  // space
    ROWS7("..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."),  // !
    ROWS7(".#.#.", ".#.#.", ".....", ".....", ".....", ".....", "....."),  // "
    ROWS7(".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."),  // #
    ROWS7("..#..", ".####", "#.#..", ".###.", "..#.#", "####.", "..#.."),  // $
    ROWS7("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),  // %
    ROWS7(".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#"),  // &
    ROWS7("..#..", "..#..", ".....", ".....", ".....", ".....", "....."),  // '
    ROWS7("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),  // (
    ROWS7(".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),  // )
    ROWS7(".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."),  // *
    ROWS7(".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),  // +
    {".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "..#..", ".#..."},  // ,
    ROWS7(".....", ".....", ".....", ".###.", ".....", ".....", "....."),  // -
    ROWS7(".....", ".....", ".....", ".....", ".....", "##...", "##..."),  // .
    ROWS7("....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."),  // /
    ROWS7(".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),  // 0
    ROWS7("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),  // 1
    ROWS7(".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),  // 2
    ROWS7("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),  // 3
    ROWS7("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),  // 4
    ROWS7("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),  // 5
    ROWS7("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),  // 6
    ROWS7("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),  // 7
    ROWS7(".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),  // 8
    ROWS7(".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),  // 9
    ROWS7(".....", "##...", "##...", ".....", "##...", "##...", "....."),  // :
    {".....", ".##..", ".##..", ".....", ".....", ".##..", ".##..", "..#..", ".#..."},  // ;
    ROWS7("...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."),  // <
    ROWS7(".....", ".....", "#####", ".....", "#####", ".....", "....."),  // =
    ROWS7(".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."),  // >
    ROWS7(".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),  // ?
    ROWS7(".###.", "#...#", "#.###", "#.#.#", "#.###", "#....", ".###."),  // @
    ROWS7(".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),  // A
    ROWS7("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),  // B
    ROWS7(".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),  // C
    ROWS7("###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."),  // D
    ROWS7("#####", "#....", "#....", "####.", "#....", "#....", "#####"),  // E
    ROWS7("#####", "#....", "#....", "####.", "#....", "#....", "#...."),  // F
    ROWS7(".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),  // G
    ROWS7("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),  // H
    ROWS7(".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),  // I
    ROWS7("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),  // J
    ROWS7("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),  // K
    ROWS7("#....", "#....", "#....", "#....", "#....", "#....", "#####"),  // L
    ROWS7("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),  // M
    ROWS7("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),  // N
    ROWS7(".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),  // O
    ROWS7("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),  // P
    ROWS7(".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),  // Q
    ROWS7("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),  // R
    ROWS7(".####", "#....", "#....", ".###.", "....#", "....#", "####."),  // S
    ROWS7("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),  // T
    ROWS7("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),  // U
    ROWS7("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),  // V
    ROWS7("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),  // W
    ROWS7("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),  // X
    ROWS7("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),  // Y
    ROWS7("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),  // Z
    ROWS7(".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."),  // [
    ROWS7("#....", "#....", ".#...", "..#..", "...#.", "....#", "....#"),  // backslash
    ROWS7(".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."),  // ]
    ROWS7("..#..", ".#.#.", "#...#", ".....", ".....", ".....", "....."),  // ^
    {".....", ".....", ".....", ".....", ".....", ".....", ".....", "#####", "....."},  // _
    ROWS7(".#...", "..#..", ".....", ".....", ".....", ".....", "....."),  // `
    ROWS7(".....", ".....", ".###.", "....#", ".####", "#...#", ".####"),  // a
    ROWS7("#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."),  // b
    ROWS7(".....", ".....", ".###.", "#....", "#....", "#...#", ".###."),  // c
    ROWS7("....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"),  // d
    ROWS7(".....", ".....", ".###.", "#...#", "#####", "#....", ".###."),  // e
    ROWS7("..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."),  // f
    {".....", ".....", ".####", "#...#", "#...#", "#..##", ".##.#", "....#", ".###."},  // g
    ROWS7("#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"),  // h
    ROWS7("..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."),  // i
    {"...#.", ".....", "..##.", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},  // j
    ROWS7("#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."),  // k
    ROWS7(".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),  // l
    ROWS7(".....", ".....", "##.#.", "#.#.#", "#.#.#", "#.#.#", "#.#.#"),  // m
    ROWS7(".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"),  // n
    ROWS7(".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."),  // o
    {".....", ".....", "####.", "#...#", "#...#", "##..#", "#.##.", "#....", "#...."},  // p
    {".....", ".....", ".####", "#...#", "#...#", "#..##", ".##.#", "....#", "....#"},  // q
    ROWS7(".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."),  // r
    ROWS7(".....", ".....", ".####", "#....", ".###.", "....#", "####."),  // s
    ROWS7(".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."),  // t
    ROWS7(".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"),  // u
    ROWS7(".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."),  // v
    ROWS7(".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."),  // w
    ROWS7(".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"),  // x
    {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#", "....#", ".###."},  // y
    ROWS7(".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"),  // z
    ROWS7("...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#."),  // {
    ROWS7("..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),  // |
    ROWS7(".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#..."),  // }
    ROWS7(".....", ".....", ".#...", "#.#.#", "...#.", ".....", "....."),  // ~
}};
#undef ROWS7

// Ink columns of a glyph, for proportional spacing; a space is 3 columns wide.
struct GlyphSpan {
    int first = 0;
    int width = 3;
};

GlyphSpan glyph_span(const Glyph& glyph) {
    int first = kGlyphColumns;
    int last = -1;
    for (const char* row : glyph) {
        for (int c = 0; c < kGlyphColumns; ++c) {
            if (row[c] == '#') {
                first = std::min(first, c);
                last = std::max(last, c);
            }
        }
    }
    if (last < 0) return {};
    return {first, last - first + 1};
}

// Characters the font lacks are drawn as '?'; a UTF-8 sequence is one character.
std::string to_font_text(const std::string& s) {
    std::string out;
    for (unsigned char c : clean_utf8(s)) {
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if ((c & 0xC0u) != 0x80u) {
            out += '?';
        }
    }
    return out;
}

const Glyph& glyph_for(char c) {
    const auto u = static_cast<unsigned char>(c);
    return kFont[u >= 32 && u <= 126 ? u - 32u : '?' - 32u];
}

class RasterPainter final : public Painter {
public:
    RasterPainter(int width, int height) : width_(width), height_(height) {
        pixels_.resize(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
        for (std::size_t i = 0; i < pixels_.size(); i += 3) {
            pixels_[i] = kPlotBackground.r;
            pixels_[i + 1] = kPlotBackground.g;
            pixels_[i + 2] = kPlotBackground.b;
        }
    }

    RgbImage take() { return RgbImage{width_, height_, std::move(pixels_)}; }

    double text_width(const std::string& text, TextStyle style) const override {
        const std::string t = to_font_text(text);
        int columns = 0;
        for (char c : t) columns += glyph_span(glyph_for(c)).width + 1;
        if (columns > 0) columns -= 1;
        return static_cast<double>(columns * scale(style));
    }
    double cap_height(TextStyle style) const override { return static_cast<double>(kBaselineRow * scale(style)); }

    void text(double x, double y, const std::string& text, TextStyle style, Anchor anchor, bool vertical) override {
        const std::string t = to_font_text(text);
        const int s = scale(style);
        const double w = text_width(t, style);
        double start = anchor == Anchor::Start ? 0 : anchor == Anchor::Middle ? -w / 2 : -w;
        const int origin_x = static_cast<int>(std::lround(x));
        const int origin_y = static_cast<int>(std::lround(y));
        int u = static_cast<int>(std::lround(start));  // along the text
        const PlotRgb colour = kInk;
        for (char c : t) {
            const Glyph& glyph = glyph_for(c);
            const GlyphSpan span = glyph_span(glyph);
            for (int r = 0; r < kGlyphRows; ++r) {
                for (int col = 0; col < span.width; ++col) {
                    if (glyph[static_cast<std::size_t>(r)][span.first + col] != '#') continue;
                    const int gu = u + col * s;               // along the text
                    const int gv = (r - kBaselineRow) * s;    // below the baseline (negative: above)
                    for (int dy = 0; dy < s; ++dy) {
                        for (int dx = 0; dx < s; ++dx) {
                            if (vertical) {
                                // 90° anticlockwise: along-the-text goes up, "down" goes right.
                                set(origin_x + gv + dy, origin_y - (gu + dx) - 1, colour);
                            } else {
                                set(origin_x + gu + dx, origin_y + gv + dy, colour);
                            }
                        }
                    }
                    if (style == TextStyle::Title && !vertical) {  // bold: a second strike one pixel right
                        for (int dy = 0; dy < s; ++dy) set(origin_x + gu + s, origin_y + gv + dy, colour);
                    }
                }
            }
            u += (span.width + 1) * s;
        }
    }

    void rule(double x0, double y0, double x1, double y1, PlotRgb colour) override {
        const int ix0 = static_cast<int>(std::floor(std::min(x0, x1)));
        const int ix1 = static_cast<int>(std::floor(std::max(x0, x1)));
        const int iy0 = static_cast<int>(std::floor(std::min(y0, y1)));
        const int iy1 = static_cast<int>(std::floor(std::max(y0, y1)));
        for (int y = iy0; y <= iy1; ++y) {
            for (int x = ix0; x <= ix1; ++x) set(x, y, colour);
        }
    }

    void box(double x, double y, double w, double h, PlotRgb fill, PlotRgb stroke) override {
        const int ix0 = static_cast<int>(std::floor(x));
        const int iy0 = static_cast<int>(std::floor(y));
        const int ix1 = static_cast<int>(std::floor(x + w));
        const int iy1 = static_cast<int>(std::floor(y + h));
        for (int yy = iy0; yy <= iy1; ++yy) {
            for (int xx = ix0; xx <= ix1; ++xx) {
                const bool edge = yy == iy0 || yy == iy1 || xx == ix0 || xx == ix1;
                set(xx, yy, edge ? stroke : fill);
            }
        }
    }

    void polyline(const std::vector<Point>& points, PlotRgb colour, bool dashed, const std::string&) override {
        std::vector<std::pair<Point, Point>> segments;
        if (!dashed) {
            for (std::size_t i = 1; i < points.size(); ++i) segments.emplace_back(points[i - 1], points[i]);
        } else {
            // Dash pattern along the whole line: 6 on, 6 off (round caps add a pixel each end,
            // which makes it look like SVG's 7 on, 5 off).
            constexpr double on = 6;
            constexpr double off = 6;
            double phase = 0;  // position within the current on+off period
            for (std::size_t i = 1; i < points.size(); ++i) {
                const Point a = points[i - 1];
                const Point b = points[i];
                const double length = std::hypot(b.x - a.x, b.y - a.y);
                double done = 0;
                while (done < length) {
                    const bool inked = phase < on;
                    const double left = inked ? on - phase : on + off - phase;
                    const double step = std::min(left, length - done);
                    if (inked && step > 0) {
                        const double t0 = done / length;
                        const double t1 = (done + step) / length;
                        segments.emplace_back(Point{a.x + (b.x - a.x) * t0, a.y + (b.y - a.y) * t0},
                                              Point{a.x + (b.x - a.x) * t1, a.y + (b.y - a.y) * t1});
                    }
                    done += step;
                    phase += step;
                    if (phase >= on + off) phase -= on + off;
                }
            }
        }
        stroke(segments, 1.0, colour);
    }

    void marker(Point at, Marker shape, PlotRgb colour) override {
        constexpr double r = 3.5;
        coverage_fill(at, r + 1.0, shape, kPlotBackground);  // a white rim sets it off the line
        coverage_fill(at, r, shape, colour);
    }

private:
    static int scale(TextStyle style) { return style == TextStyle::Title ? 3 : 2; }

    void set(int x, int y, PlotRgb c) {
        if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
        const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                                static_cast<std::size_t>(x)) * 3;
        pixels_[at] = c.r;
        pixels_[at + 1] = c.g;
        pixels_[at + 2] = c.b;
    }

    void blend(int x, int y, PlotRgb c, double alpha) {
        if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0) return;
        if (alpha >= 1) return set(x, y, c);
        const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                                static_cast<std::size_t>(x)) * 3;
        auto mix = [alpha](std::uint8_t under, std::uint8_t over) {
            return static_cast<std::uint8_t>(std::lround(under + (over - under) * alpha));
        };
        pixels_[at] = mix(pixels_[at], c.r);
        pixels_[at + 1] = mix(pixels_[at + 1], c.g);
        pixels_[at + 2] = mix(pixels_[at + 2], c.b);
    }

    // Anti-aliased thick segments with round ends: each pixel's coverage is how far its centre
    // lies inside the stroke (±0.5 px ramp). Coverage is the maximum over all segments, so
    // joints are not darkened where segments overlap.
    void stroke(const std::vector<std::pair<Point, Point>>& segments, double half_width, PlotRgb colour) {
        if (segments.empty()) return;
        const double reach = half_width + 1;
        double bx0 = segments[0].first.x, bx1 = bx0, by0 = segments[0].first.y, by1 = by0;
        for (const auto& [a, b] : segments) {
            bx0 = std::min({bx0, a.x, b.x});
            bx1 = std::max({bx1, a.x, b.x});
            by0 = std::min({by0, a.y, b.y});
            by1 = std::max({by1, a.y, b.y});
        }
        const int x0 = std::max(0, static_cast<int>(std::floor(bx0 - reach)));
        const int y0 = std::max(0, static_cast<int>(std::floor(by0 - reach)));
        const int x1 = std::min(width_ - 1, static_cast<int>(std::ceil(bx1 + reach)));
        const int y1 = std::min(height_ - 1, static_cast<int>(std::ceil(by1 + reach)));
        if (x1 < x0 || y1 < y0) return;
        const int mw = x1 - x0 + 1;
        std::vector<float> mask(static_cast<std::size_t>(mw) * static_cast<std::size_t>(y1 - y0 + 1), 0.0f);
        for (const auto& [a, b] : segments) {
            const int sx0 = std::max(x0, static_cast<int>(std::floor(std::min(a.x, b.x) - reach)));
            const int sx1 = std::min(x1, static_cast<int>(std::ceil(std::max(a.x, b.x) + reach)));
            const int sy0 = std::max(y0, static_cast<int>(std::floor(std::min(a.y, b.y) - reach)));
            const int sy1 = std::min(y1, static_cast<int>(std::ceil(std::max(a.y, b.y) + reach)));
            const double dx = b.x - a.x;
            const double dy = b.y - a.y;
            const double length2 = dx * dx + dy * dy;
            for (int y = sy0; y <= sy1; ++y) {
                for (int x = sx0; x <= sx1; ++x) {
                    const double px = x + 0.5 - a.x;
                    const double py = y + 0.5 - a.y;
                    const double t = length2 > 0 ? std::clamp((px * dx + py * dy) / length2, 0.0, 1.0) : 0.0;
                    const double d = std::hypot(px - t * dx, py - t * dy);
                    const double cover = std::clamp(half_width + 0.5 - d, 0.0, 1.0);
                    float& m = mask[static_cast<std::size_t>(y - y0) * static_cast<std::size_t>(mw) +
                                    static_cast<std::size_t>(x - x0)];
                    m = std::max(m, static_cast<float>(cover));
                }
            }
        }
        for (int y = y0; y <= y1; ++y) {
            for (int x = x0; x <= x1; ++x) {
                blend(x, y, colour,
                      mask[static_cast<std::size_t>(y - y0) * static_cast<std::size_t>(mw) + static_cast<std::size_t>(x - x0)]);
            }
        }
    }

    void coverage_fill(Point at, double r, Marker shape, PlotRgb colour) {
        const int x0 = static_cast<int>(std::floor(at.x - r - 1));
        const int x1 = static_cast<int>(std::ceil(at.x + r + 1));
        const int y0 = static_cast<int>(std::floor(at.y - r - 1));
        const int y1 = static_cast<int>(std::ceil(at.y + r + 1));
        for (int y = y0; y <= y1; ++y) {
            for (int x = x0; x <= x1; ++x) {
                const double dx = x + 0.5 - at.x;
                const double dy = y + 0.5 - at.y;
                double cover;
                if (shape == Marker::Circle) {
                    cover = std::clamp(r + 0.5 - std::hypot(dx, dy), 0.0, 1.0);
                } else {
                    cover = std::clamp(r + 0.5 - std::fabs(dx), 0.0, 1.0) * std::clamp(r + 0.5 - std::fabs(dy), 0.0, 1.0);
                }
                blend(x, y, colour, cover);
            }
        }
    }

    int width_;
    int height_;
    std::vector<std::uint8_t> pixels_;
};

}  // namespace

std::string render_curves_svg(const LearningCurves& curves, const std::string& title) {
    SvgPainter painter;
    draw_plot(painter, curves, title);
    return painter.document(title);
}

RgbImage render_curves_rgb(const LearningCurves& curves, const std::string& title) {
    RasterPainter painter(kPlotWidth, kPlotHeight);
    draw_plot(painter, curves, title);
    return painter.take();
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
