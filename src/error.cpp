#include "mnistnn/error.hpp"

#include <cctype>
#include <utility>

namespace mnistnn {
namespace {

// `pattern` with every "{i}" (i < names.size()) replaced by names[i]; other braces are kept.
std::string fill(const std::string& pattern, const std::vector<std::string>& names) {
    std::string out;
    out.reserve(pattern.size() + 16);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const std::size_t close = pattern[i] == '{' ? pattern.find('}', i) : std::string::npos;
        if (close != std::string::npos && close > i + 1) {
            const std::string digits = pattern.substr(i + 1, close - i - 1);
            bool numeric = digits.size() <= 2;
            for (char c : digits) numeric = numeric && std::isdigit(static_cast<unsigned char>(c));
            if (numeric && static_cast<std::size_t>(std::stoi(digits)) < names.size()) {
                out += names[static_cast<std::size_t>(std::stoi(digits))];
                i = close;
                continue;
            }
        }
        out += pattern[i];
    }
    return out;
}

}  // namespace

Error::Error(std::vector<std::string> settings, const std::string& pattern)
    : std::runtime_error(fill(pattern, settings)), settings_(std::move(settings)), pattern_(pattern) {}

std::string Error::describe(const std::function<std::string(const std::string&)>& name) const {
    if (settings_.empty()) return what();
    std::vector<std::string> names;
    names.reserve(settings_.size());
    for (const std::string& s : settings_) names.push_back(name(s));
    return fill(pattern_, names);
}

}  // namespace mnistnn
