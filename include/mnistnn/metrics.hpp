#pragma once
// Classification metrics: confusion matrix, per-class precision/recall/F1.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mnistnn/images.hpp"

namespace mnistnn {

struct ClassMetrics {
    int digit = 0;
    double precision = 0.0;  // TP / (TP + FP); 0 when the digit was never predicted
    double recall = 0.0;     // TP / (TP + FN); 0 when the digit never occurs
    double f1 = 0.0;         // 2PR / (P + R); 0 when P + R = 0
    std::size_t support = 0; // # rows whose true label is this digit
};

struct ClassificationReport {
    // confusion[t][p]: rows with true digit t predicted as p.
    std::array<std::array<std::size_t, kClasses>, kClasses> confusion{};
    std::size_t rows = 0;
    double accuracy = 0.0;
    std::vector<ClassMetrics> per_class;  // 10 entries, digit 0..9
};

// labels and predictions have equal length, values 0..9 (throws UsageError otherwise).
ClassificationReport classification_report(const std::vector<std::uint8_t>& labels,
                                           const std::vector<std::uint8_t>& predictions);

// Human-readable, column-aligned confusion matrix (rows true, columns predicted) with headers.
std::string format_confusion_matrix(const ClassificationReport& report);

// Aligned table: digit, precision, recall, F1, support.
std::string format_per_class(const ClassificationReport& report);

}  // namespace mnistnn
