#include "text.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace mnistnn {
namespace {

// The length of the UTF-8 sequence starting at s[i] if it is valid and allowed, else 0.
std::size_t valid_sequence(const std::string& s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    unsigned cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        length = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        length = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        length = 4;
        cp = c & 0x07u;
    }
    if (length == 0 || i + length > s.size()) return 0;
    for (std::size_t k = 1; k < length; ++k) {
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    const unsigned minimum = length == 2 ? 0x80u : length == 3 ? 0x800u : 0x10000u;
    const bool ok = cp >= minimum && cp <= 0x10FFFFu && !(cp >= 0xD800u && cp <= 0xDFFFu) && cp != 0xFFFEu &&
                    cp != 0xFFFFu;
    return ok ? length : 0;
}

}  // namespace

std::string clean_utf8(const std::string& s) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
            ++i;
        } else if (const std::size_t length = valid_sequence(s, i); length > 0) {
            out.append(s, i, length);
            i += length;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace mnistnn
