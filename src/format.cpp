#include "mnistnn/format.hpp"

#include <charconv>

namespace mnistnn {

std::string format_number(double value) {
    // 32 bytes hold any shortest double ("-2.2250738585072014e-308" is 24), so to_chars cannot fail.
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

}  // namespace mnistnn
