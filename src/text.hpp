#pragma once
// Small text helpers shared by the readers and the painters (not part of the public API).
#include <string>
#include <string_view>

namespace mnistnn {

// Valid UTF-8 with XML-forbidden control characters and malformed bytes replaced by '?'.
std::string clean_utf8(const std::string& s);

// ASCII lower case (other bytes unchanged).
std::string ascii_lower(std::string_view s);

}  // namespace mnistnn
