#include "mnistnn/train_log.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <string_view>
#include <system_error>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/format.hpp"
#include "mnistnn/trainer.hpp"
#include "text.hpp"

namespace mnistnn {

namespace {

constexpr std::size_t kColumnCount = kTrainLogColumns.size();

constexpr std::size_t index_of(TrainLogField field) { return static_cast<std::size_t>(field); }

// The text of one field of a row (the writer's side of kTrainLogColumns).
std::string field_text(const TrainLogEntry& e, TrainLogField field) {
    switch (field) {
        case TrainLogField::Step: return std::to_string(e.iteration);
        case TrainLogField::Epoch: return format_number(e.epoch);
        case TrainLogField::Seconds: return format_number(e.seconds);
        case TrainLogField::Loss: return format_number(e.loss);
        case TrainLogField::TrainAccuracy: return format_number(e.train_accuracy);
        case TrainLogField::HoldoutAccuracy: return e.has_holdout ? format_number(e.holdout_accuracy) : "";
        case TrainLogField::HoldoutLoss: return e.has_holdout ? format_number(e.holdout_loss) : "";
    }
    return "";
}

}  // namespace

std::string train_log_header() {
    std::string header;
    for (const TrainLogColumn& column : kTrainLogColumns) header += (header.empty() ? "" : ",") + std::string(column.name);
    return header;
}

void write_train_log_csv(const std::string& path, const std::vector<TrainLogEntry>& entries) {
    write_file_atomically(path, [&](std::ostream& out) {
        out << train_log_header() << '\n';
        for (const TrainLogEntry& e : entries) {
            for (std::size_t i = 0; i < kColumnCount; ++i) {
                out << (i == 0 ? "" : ",") << field_text(e, static_cast<TrainLogField>(i));
            }
            out << '\n';
        }
    });
}

// =========================================================================================
// Reading
// =========================================================================================

namespace {

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

// A field or header as it may appear in a one-line message: quoted, printable, short.
std::string shown(std::string_view text, std::size_t limit = 40) {
    std::string out = "'" + clean_utf8(std::string(text.substr(0, limit)));
    if (text.size() > limit) out += "...";
    return out + "'";
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

// Where each column of kTrainLogColumns is in the file (-1: absent) and which series it feeds.
struct Header {
    std::size_t line = 0;         // 0 until the header is read
    std::size_t field_count = 0;
    std::array<int, kColumnCount> index{};
};

// The series a column's values go to; null for the columns that are not drawn.
std::vector<CurvePoint>* series_of(LearningCurves& curves, TrainLogField field) {
    switch (field) {
        case TrainLogField::Loss: return &curves.train_loss;
        case TrainLogField::TrainAccuracy: return &curves.train_accuracy;
        case TrainLogField::HoldoutAccuracy: return &curves.holdout_accuracy;
        case TrainLogField::HoldoutLoss: return &curves.holdout_loss;
        default: return nullptr;
    }
}

std::string expected_columns() { return train_log_header(); }

Header parse_header(const std::vector<std::string_view>& fields, const std::string& line, std::size_t line_no,
                    const std::string& where) {
    Header header;
    header.line = line_no;
    header.field_count = fields.size();
    header.index.fill(-1);
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const std::string field = ascii_lower(fields[i]);
        for (std::size_t c = 0; c < kColumnCount; ++c) {
            if (field != kTrainLogColumns[c].name) continue;
            if (header.index[c] >= 0) {
                throw DataFormatError(where + ": column '" + kTrainLogColumns[c].name + "' appears twice in the header");
            }
            header.index[c] = static_cast<int>(i);
        }
    }
    std::string missing;
    for (std::size_t c = 0; c < kColumnCount; ++c) {
        if (kTrainLogColumns[c].required && header.index[c] < 0) {
            missing += (missing.empty() ? "'" : ", '") + std::string(kTrainLogColumns[c].name) + "'";
        }
    }
    if (!missing.empty()) {
        throw DataFormatError(where + ": header lacks required column(s) " + missing + " (header is " +
                              shown(line, 120) + "; expected a training log with the columns " + expected_columns() +
                              ")");
    }
    return header;
}

// Parses the value of column `c` in `fields`; false when it is empty and the column optional.
bool value_of(const Header& header, std::size_t c, const std::vector<std::string_view>& fields,
              const std::string& where, double& value) {
    const int index = header.index[c];
    const std::string_view text = fields[static_cast<std::size_t>(index)];
    const std::string at = where + ", column " + std::to_string(index + 1) + " (" + kTrainLogColumns[c].name + ")";
    if (text.empty()) {
        if (!kTrainLogColumns[c].required) return false;
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
}

void parse_row(const Header& header, const std::vector<std::string_view>& fields, const std::string& where,
               LearningCurves& curves) {
    if (fields.size() != header.field_count) {
        throw DataFormatError(where + ": " + std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s") +
                              ", but the header (line " + std::to_string(header.line) + ") has " +
                              std::to_string(header.field_count));
    }
    constexpr std::size_t step_column = index_of(TrainLogField::Step);
    double step = 0.0;
    value_of(header, step_column, fields, where, step);
    if (!plottable(step)) {
        const int index = header.index[step_column];
        throw DataFormatError(where + ", column " + std::to_string(index + 1) + " (step): " +
                              shown(fields[static_cast<std::size_t>(index)]) + " is not a finite number");
    }
    for (std::size_t c = 0; c < kColumnCount; ++c) {
        std::vector<CurvePoint>* series = series_of(curves, static_cast<TrainLogField>(c));
        double value = 0.0;
        if (series == nullptr || header.index[c] < 0 || !value_of(header, c, fields, where, value)) continue;
        if (plottable(value)) {
            series->push_back({step, value});
        } else if (kTrainLogColumns[c].required) {
            ++curves.skipped_training;  // e.g. a "nan" loss logged just before divergence
        }
    }
    ++curves.rows;
}

}  // namespace

LearningCurves parse_learning_curves(std::istream& in, const std::string& name) {
    LearningCurves curves;
    Header header;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
        if (trim(line).empty()) continue;
        const std::string where = name + " line " + std::to_string(line_no);
        const std::vector<std::string_view> fields = split_fields(line);
        if (header.line == 0) {
            header = parse_header(fields, line, line_no, where);
        } else {
            parse_row(header, fields, where, curves);
        }
    }
    if (in.bad()) throw IoError("cannot read " + name);
    if (header.line == 0) {
        throw DataFormatError(name + " is empty: expected a training log with the header " + expected_columns());
    }
    if (curves.rows == 0) {
        throw DataFormatError(name + " line " + std::to_string(header.line) +
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

}  // namespace mnistnn
