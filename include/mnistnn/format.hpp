#pragma once
// Number formatting shared by the library's messages and the CLI's output.
#include <string>

namespace mnistnn {

// The shortest decimal text that reads back to the same double ("0.1", "50", "1e-08", "1e+30"),
// so messages show the value the user gave, not std::to_string's fixed six decimals.
std::string format_number(double value);

}  // namespace mnistnn
