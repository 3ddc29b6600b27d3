#pragma once
// The training log: one CSV row per logged step, written by training (`write_train_log_csv`) and
// read back to draw learning curves (`read_learning_curves`). Both use the one column list below.
#include <array>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace mnistnn {

struct TrainLogEntry;  // mnistnn/trainer.hpp

// The columns, in file order. `required`: a log without it cannot be drawn; the others may be
// missing from the header (or, for the held-out ones, empty or "nan" in a row).
struct TrainLogColumn {
    const char* name;
    bool required;
};
enum class TrainLogField : std::size_t { Step, Epoch, Seconds, Loss, TrainAccuracy, HoldoutAccuracy, HoldoutLoss };
inline constexpr std::array<TrainLogColumn, 7> kTrainLogColumns{{
    {"step", true},
    {"epoch", false},
    {"seconds", false},
    {"loss", true},
    {"train_accuracy", true},
    {"holdout_accuracy", false},
    {"holdout_loss", false},
}};

// "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss"
std::string train_log_header();

// Writes the header and one row per entry to `path`, atomically (an existing file is replaced only
// once the new one is complete). Numbers are the shortest text that reads back exactly (`step` an
// integer); without held-out rows (has_holdout false) both held-out fields are empty.
// Throws IoError naming the path.
void write_train_log_csv(const std::string& path, const std::vector<TrainLogEntry>& entries);

struct CurvePoint {
    double step = 0.0;
    double value = 0.0;
};

// The four series of a training log. A point is left out when its value is empty, "nan" or
// infinite, so a series may be shorter than `rows` or empty (no held-out split).
struct LearningCurves {
    std::vector<CurvePoint> train_loss;
    std::vector<CurvePoint> holdout_loss;
    std::vector<CurvePoint> train_accuracy;
    std::vector<CurvePoint> holdout_accuracy;
    std::size_t rows = 0;               // data rows read
    std::size_t skipped_training = 0;   // non-finite training loss/accuracy values left out
};

// Parses a log. Columns are found by header name (case-insensitive; order and extra columns do not
// matter): the required ones of kTrainLogColumns must be there; `holdout_accuracy` and
// `holdout_loss` values may be empty or "nan". `name` is used in error messages. Throws
// DataFormatError (one line, naming `name`, the line and, for a bad value, the column) for an
// empty input, a header without the required columns or with a column twice, a row with the wrong
// number of fields, a value that is not a number, a non-finite step, or no data rows.
LearningCurves parse_learning_curves(std::istream& in, const std::string& name);

// Reads and parses the file at `path`; IoError when it cannot be opened or read.
LearningCurves read_learning_curves(const std::string& path);

}  // namespace mnistnn
