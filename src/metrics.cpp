#include "mnistnn/metrics.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>
#include <string>

#include "mnistnn/error.hpp"

namespace mnistnn {

namespace {

// Ratio with the 0/0 = 0 convention the header documents for precision and recall.
double safe_ratio(std::size_t num, std::size_t den) {
    return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

void check_range(const std::vector<std::uint8_t>& values, const char* what) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i] >= kClasses) {
            throw UsageError(std::string(what) + " " + std::to_string(values[i]) + " at row " +
                             std::to_string(i) + " is not a digit 0..9");
        }
    }
}

std::size_t decimal_width(std::size_t n) {
    std::size_t width = 1;
    for (; n >= 10; n /= 10) ++width;
    return width;
}

}  // namespace

ClassificationReport classification_report(const std::vector<std::uint8_t>& labels,
                                           const std::vector<std::uint8_t>& predictions) {
    if (labels.size() != predictions.size()) {
        throw UsageError("cannot compare " + std::to_string(labels.size()) + " labels with " +
                         std::to_string(predictions.size()) + " predictions");
    }
    check_range(labels, "label");
    check_range(predictions, "prediction");

    ClassificationReport report;
    report.rows = labels.size();
    std::size_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        ++report.confusion[labels[i]][predictions[i]];
        if (labels[i] == predictions[i]) ++correct;
    }
    report.accuracy = safe_ratio(correct, report.rows);

    report.per_class.reserve(kClasses);
    for (std::size_t d = 0; d < kClasses; ++d) {
        std::size_t predicted = 0;  // column sum: TP + FP
        std::size_t actual = 0;     // row sum: TP + FN
        for (std::size_t k = 0; k < kClasses; ++k) {
            predicted += report.confusion[k][d];
            actual += report.confusion[d][k];
        }
        const std::size_t tp = report.confusion[d][d];
        ClassMetrics m;
        m.digit = static_cast<int>(d);
        m.precision = safe_ratio(tp, predicted);
        m.recall = safe_ratio(tp, actual);
        const double sum = m.precision + m.recall;
        m.f1 = sum > 0.0 ? 2.0 * m.precision * m.recall / sum : 0.0;
        m.support = actual;
        report.per_class.push_back(m);
    }
    return report;
}

std::string format_confusion_matrix(const ClassificationReport& report) {
    static constexpr const char* kCorner = "true\\pred";
    const int label_width = static_cast<int>(std::char_traits<char>::length(kCorner));

    std::size_t widest = 0;
    for (const auto& row : report.confusion) {
        for (std::size_t count : row) widest = std::max(widest, count);
    }
    const int width = static_cast<int>(decimal_width(widest));

    std::ostringstream out;
    out << kCorner;
    for (int p = 0; p < kClasses; ++p) out << "  " << std::setw(width) << p;
    out << '\n';
    for (int t = 0; t < kClasses; ++t) {
        out << std::setw(label_width) << t;
        for (std::size_t count : report.confusion[static_cast<std::size_t>(t)]) {
            out << "  " << std::setw(width) << count;
        }
        out << '\n';
    }
    return out.str();
}

std::string format_per_class(const ClassificationReport& report) {
    // Column widths follow the header words; support grows for very large test sets.
    std::size_t widest_support = 0;
    for (const auto& m : report.per_class) widest_support = std::max(widest_support, m.support);
    const int support_width = std::max(7, static_cast<int>(decimal_width(widest_support)));

    std::ostringstream out;
    out << "digit  precision  recall      f1  " << std::setw(support_width) << "support" << '\n';
    out << std::fixed << std::setprecision(4);
    for (const auto& m : report.per_class) {
        out << std::setw(5) << m.digit << "  " << std::setw(9) << m.precision << "  "
            << std::setw(6) << m.recall << "  " << std::setw(6) << m.f1 << "  "
            << std::setw(support_width) << m.support << '\n';
    }
    return out.str();
}

}  // namespace mnistnn
