#include "mnistnn/format.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace mnistnn {

std::string format_number(double value) {
    // 32 bytes hold any shortest double ("-2.2250738585072014e-308" is 24), so to_chars cannot fail.
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

std::string parse_real(const std::string& text, double& value, bool (*ok)(double), const std::string& requirement) {
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec == std::errc::invalid_argument || ptr != end) return "'" + text + "' is not a number";
    if (ec == std::errc::result_out_of_range) {
        // A well-formed number beyond a double (1e999, 1e-999) is not "not a number".
        const bool large = std::isinf(std::strtod(text.c_str(), nullptr));
        return text + " is out of range (" + (large ? "" : "too close to 0 for a double; ") + "must be " + requirement +
               ")";
    }
    if (!ok(value)) return "must be " + requirement + ", got " + text;
    return {};
}

}  // namespace mnistnn
