#pragma once
// Number formatting shared by the library's messages and the CLI's output.
#include <string>

namespace mnistnn {

// The shortest decimal text that reads back to the same double ("0.1", "50", "1e-08", "1e+30"),
// so messages show the value the user gave, not std::to_string's fixed six decimals.
std::string format_number(double value);

// Parses all of `text` as a double for which ok(value) holds. Returns "" (and sets `value`), or
// what is wrong: "'x' is not a number", "1e999 is out of range (must be …)", "must be …, got -1",
// where … is `requirement` (e.g. "a finite number > 0").
std::string parse_real(const std::string& text, double& value, bool (*ok)(double), const std::string& requirement);

}  // namespace mnistnn
