#pragma once
// The JSON bodies of POST /v1/predict, read by simdjson's On-Demand parser straight into pixel
// bytes: no document tree is built, and anything but the two accepted shapes is refused at the
// first value that breaks them, so hostile JSON (deep nesting, huge arrays) costs nothing.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "mnistnn/error.hpp"

namespace mnistnn::server {

// A request body that cannot be used; the message names the field and what was expected.
class BadRequest : public Error {
public:
    using Error::Error;
};

struct PixelRows {
    std::vector<std::uint8_t> pixels;  // rows × 784 bytes, row after row
    std::size_t rows = 0;
    bool batch = false;  // {"instances": ...} rather than {"pixels": ...}
};

// Parses {"pixels": [784 integers 0..255]} or {"instances": [[784 integers], ...]} with 1 to
// max_rows rows. Throws BadRequest.
PixelRows parse_pixels_json(std::string_view body, std::size_t max_rows);

}  // namespace mnistnn::server
