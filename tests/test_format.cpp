// format_number: the shortest text that reads back to the same double.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "mnistnn/format.hpp"

namespace mnistnn {
namespace {

TEST(FormatNumber, ShortestForm) {
    EXPECT_EQ(format_number(0.1), "0.1");
    EXPECT_EQ(format_number(50.0), "50");
    EXPECT_EQ(format_number(0.002), "0.002");
    EXPECT_EQ(format_number(1e-8), "1e-08");
    EXPECT_EQ(format_number(1e30), "1e+30");
    EXPECT_EQ(format_number(-0.5), "-0.5");
    EXPECT_EQ(format_number(0.0), "0");
    EXPECT_EQ(format_number(std::numeric_limits<double>::infinity()), "inf");
    EXPECT_EQ(format_number(std::nan("")), "nan");
}

TEST(FormatNumber, ReadsBackToTheSameDouble) {
    for (double v : {0.1, 1.0 / 3.0, 0.999, 2.2250738585072014e-308, -1.7976931348623157e308, 4.9e-324,
                     0.10000000000000002, 123456789.125}) {
        const std::string text = format_number(v);
        double back = 0.0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
        EXPECT_EQ(ec, std::errc()) << text;
        EXPECT_EQ(ptr, text.data() + text.size()) << text;
        EXPECT_EQ(back, v) << text;
    }
}

}  // namespace
}  // namespace mnistnn
