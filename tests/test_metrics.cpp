#include "mnistnn/metrics.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"

namespace {

using mnistnn::classification_report;
using mnistnn::ClassificationReport;

// Hand-made fixture, 12 rows (true → predicted):
//   0→0 0→0 0→6   1→1 1→1 1→1   2→2 2→7   3→3 3→2   4→3 4→3
// Confusion (nonzero cells): [0][0]=2 [0][6]=1 [1][1]=3 [2][2]=1 [2][7]=1
//                            [3][3]=1 [3][2]=1 [4][3]=2
// Correct: 2+3+1+1 = 7 of 12.
// Digit 4 occurs but is never predicted; 6 and 7 are predicted but never occur;
// 5, 8 and 9 appear nowhere.
const std::vector<std::uint8_t> kLabels{0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4};
const std::vector<std::uint8_t> kPredictions{0, 0, 6, 1, 1, 1, 2, 7, 3, 2, 3, 3};

TEST(ClassificationReport, ConfusionMatrixIsExact) {
    const ClassificationReport r = classification_report(kLabels, kPredictions);
    std::array<std::array<std::size_t, 10>, 10> expected{};
    expected[0][0] = 2;
    expected[0][6] = 1;
    expected[1][1] = 3;
    expected[2][2] = 1;
    expected[2][7] = 1;
    expected[3][3] = 1;
    expected[3][2] = 1;
    expected[4][3] = 2;
    EXPECT_EQ(r.confusion, expected);
    EXPECT_EQ(r.rows, 12u);
    EXPECT_DOUBLE_EQ(r.accuracy, 7.0 / 12.0);
}

TEST(ClassificationReport, PerClassMetricsAreExact) {
    const ClassificationReport r = classification_report(kLabels, kPredictions);
    ASSERT_EQ(r.per_class.size(), 10u);
    for (int d = 0; d < 10; ++d) EXPECT_EQ(r.per_class[static_cast<std::size_t>(d)].digit, d);

    const auto& m = r.per_class;
    // 0: TP 2, predicted 2 (col), occurs 3 (row) → P 1, R 2/3, F1 2·(2/3)/(5/3) = 0.8.
    EXPECT_DOUBLE_EQ(m[0].precision, 1.0);
    EXPECT_DOUBLE_EQ(m[0].recall, 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(m[0].f1, 0.8);
    EXPECT_EQ(m[0].support, 3u);
    // 1: TP 3 of 3 predicted, 3 of 3 occurring → all 1.
    EXPECT_DOUBLE_EQ(m[1].precision, 1.0);
    EXPECT_DOUBLE_EQ(m[1].recall, 1.0);
    EXPECT_DOUBLE_EQ(m[1].f1, 1.0);
    EXPECT_EQ(m[1].support, 3u);
    // 2: TP 1, predicted 2 (from true 2 and 3), occurs 2 → P 0.5, R 0.5, F1 0.5.
    EXPECT_DOUBLE_EQ(m[2].precision, 0.5);
    EXPECT_DOUBLE_EQ(m[2].recall, 0.5);
    EXPECT_DOUBLE_EQ(m[2].f1, 0.5);
    EXPECT_EQ(m[2].support, 2u);
    // 3: TP 1, predicted 3 (one true 3, two true 4), occurs 2 → P 1/3, R 1/2,
    //    F1 = 2·(1/6)/(5/6) = 0.4.
    EXPECT_DOUBLE_EQ(m[3].precision, 1.0 / 3.0);
    EXPECT_DOUBLE_EQ(m[3].recall, 0.5);
    EXPECT_DOUBLE_EQ(m[3].f1, 0.4);
    EXPECT_EQ(m[3].support, 2u);
}

TEST(ClassificationReport, NeverPredictedDigitHasZeroPrecision) {
    const ClassificationReport r = classification_report(kLabels, kPredictions);
    // 4 occurs twice, never predicted: P 0 (0/0), R 0 (0/2), F1 0.
    const auto& m = r.per_class[4];
    EXPECT_EQ(m.precision, 0.0);
    EXPECT_EQ(m.recall, 0.0);
    EXPECT_EQ(m.f1, 0.0);
    EXPECT_EQ(m.support, 2u);
}

TEST(ClassificationReport, NeverPresentDigitHasZeroRecallAndSupport) {
    const ClassificationReport r = classification_report(kLabels, kPredictions);
    // 6 and 7 are predicted once each but never occur: P 0 (0/1), R 0 (0/0), support 0.
    // 5, 8 and 9 appear nowhere: everything 0.
    for (std::size_t d : {5u, 6u, 7u, 8u, 9u}) {
        const auto& m = r.per_class[d];
        EXPECT_EQ(m.precision, 0.0) << d;
        EXPECT_EQ(m.recall, 0.0) << d;
        EXPECT_EQ(m.f1, 0.0) << d;
        EXPECT_EQ(m.support, 0u) << d;
    }
}

TEST(ClassificationReport, EmptyInputGivesZeros) {
    const ClassificationReport r = classification_report({}, {});
    EXPECT_EQ(r.rows, 0u);
    EXPECT_EQ(r.accuracy, 0.0);
    ASSERT_EQ(r.per_class.size(), 10u);
    for (const auto& m : r.per_class) {
        EXPECT_EQ(m.precision, 0.0);
        EXPECT_EQ(m.recall, 0.0);
        EXPECT_EQ(m.f1, 0.0);
        EXPECT_EQ(m.support, 0u);
    }
}

TEST(ClassificationReport, PerfectPredictionsHaveAccuracyOne) {
    const std::vector<std::uint8_t> v{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9};
    const ClassificationReport r = classification_report(v, v);
    EXPECT_EQ(r.accuracy, 1.0);
    EXPECT_EQ(r.per_class[9].support, 2u);
    EXPECT_EQ(r.per_class[9].f1, 1.0);
}

TEST(ClassificationReport, LengthMismatchIsUsageError) {
    EXPECT_THROW(classification_report({1, 2, 3}, {1, 2}), mnistnn::UsageError);
    EXPECT_THROW(classification_report({}, {0}), mnistnn::UsageError);
}

TEST(ClassificationReport, OutOfRangeValueIsUsageError) {
    try {
        classification_report({1, 10, 3}, {1, 2, 3});
        FAIL() << "expected UsageError";
    } catch (const mnistnn::UsageError& e) {
        EXPECT_EQ(std::string(e.what()), "label 10 at row 1 is not a digit 0..9");
    }
    try {
        classification_report({1, 2, 3}, {1, 2, 255});
        FAIL() << "expected UsageError";
    } catch (const mnistnn::UsageError& e) {
        EXPECT_EQ(std::string(e.what()), "prediction 255 at row 2 is not a digit 0..9");
    }
    // 9 is the largest valid value.
    EXPECT_NO_THROW(classification_report({9}, {9}));
}

TEST(FormatConfusionMatrix, MatchesExpectedText) {
    const ClassificationReport r = classification_report(kLabels, kPredictions);
    const std::string expected =
        "true\\pred  0  1  2  3  4  5  6  7  8  9\n"
        "        0  2  0  0  0  0  0  1  0  0  0\n"
        "        1  0  3  0  0  0  0  0  0  0  0\n"
        "        2  0  0  1  0  0  0  0  1  0  0\n"
        "        3  0  0  1  1  0  0  0  0  0  0\n"
        "        4  0  0  0  2  0  0  0  0  0  0\n"
        "        5  0  0  0  0  0  0  0  0  0  0\n"
        "        6  0  0  0  0  0  0  0  0  0  0\n"
        "        7  0  0  0  0  0  0  0  0  0  0\n"
        "        8  0  0  0  0  0  0  0  0  0  0\n"
        "        9  0  0  0  0  0  0  0  0  0  0\n";
    EXPECT_EQ(mnistnn::format_confusion_matrix(r), expected);
}

TEST(FormatConfusionMatrix, ColumnsWidenToTheLargestCount) {
    // 1234 rows of true 5 predicted 5 and one 5→3: every column is 4 wide.
    std::vector<std::uint8_t> labels(1235, 5);
    std::vector<std::uint8_t> predictions(1235, 5);
    predictions.back() = 3;
    const std::string text = mnistnn::format_confusion_matrix(classification_report(labels, predictions));
    const std::string header = "true\\pred     0     1     2     3     4     5     6     7     8     9\n";
    const std::string row5 = "        5     0     0     0     1     0  1234     0     0     0     0\n";
    EXPECT_EQ(text.substr(0, header.size()), header);
    EXPECT_NE(text.find(row5), std::string::npos) << text;
    // 11 lines, all of the same length.
    std::size_t lines = 0;
    for (std::size_t start = 0, nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        EXPECT_EQ(nl - start, header.size() - 1);
        ++lines;
    }
    EXPECT_EQ(lines, 11u);
}

TEST(FormatPerClass, MatchesExpectedText) {
    const ClassificationReport r = classification_report(kLabels, kPredictions);
    const std::string expected =
        "digit  precision  recall      f1  support\n"
        "    0     1.0000  0.6667  0.8000        3\n"
        "    1     1.0000  1.0000  1.0000        3\n"
        "    2     0.5000  0.5000  0.5000        2\n"
        "    3     0.3333  0.5000  0.4000        2\n"
        "    4     0.0000  0.0000  0.0000        2\n"
        "    5     0.0000  0.0000  0.0000        0\n"
        "    6     0.0000  0.0000  0.0000        0\n"
        "    7     0.0000  0.0000  0.0000        0\n"
        "    8     0.0000  0.0000  0.0000        0\n"
        "    9     0.0000  0.0000  0.0000        0\n";
    EXPECT_EQ(mnistnn::format_per_class(r), expected);
}

TEST(FormatPerClass, SupportColumnWidensForHugeCounts) {
    ClassificationReport r = classification_report({}, {});
    r.per_class[2].support = 123456789;
    const std::string text = mnistnn::format_per_class(r);
    EXPECT_EQ(text.substr(0, text.find('\n')), "digit  precision  recall      f1    support");
    EXPECT_NE(text.find("    2     0.0000  0.0000  0.0000  123456789\n"), std::string::npos) << text;
}

}  // namespace
