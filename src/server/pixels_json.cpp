// Parser of the pixel JSON bodies (see pixels_json.hpp), on simdjson's On-Demand API: the body is
// walked once, value by value, and each number goes straight into a pixel byte.
#include "pixels_json.hpp"

#include <simdjson.h>

#include <string>

#include "mnistnn/images.hpp"

namespace mnistnn::server {
namespace {

namespace od = simdjson::ondemand;

[[noreturn]] void malformed(simdjson::error_code e) {
    throw BadRequest(std::string("malformed JSON: ") + simdjson::error_message(e));
}

const char* type_name(od::json_type t) {
    switch (t) {
        case od::json_type::array: return "an array";
        case od::json_type::object: return "an object";
        case od::json_type::number: return "a number";
        case od::json_type::string: return "a string";
        case od::json_type::boolean: return "a boolean";
        case od::json_type::null: return "null";
    }
    return "a value";
}

template <typename T>
od::json_type type_of(T& value) {
    od::json_type t{};
    if (auto e = value.type().get(t)) malformed(e);
    return t;
}

// One pixel: an integer 0..255; value `index` of row `row_name` (for messages: "pixels[3]").
std::uint8_t read_pixel(od::value& v, const std::string& row_name, std::size_t index) {
    const auto field = [&] { return row_name + "[" + std::to_string(index) + "]"; };  // built on error only
    const od::json_type t = type_of(v);
    if (t != od::json_type::number) throw BadRequest(field() + ": expected an integer 0..255, got " + type_name(t));
    std::string_view raw = v.raw_json_token();
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' || raw.back() == '\r')) {
        raw.remove_suffix(1);
    }
    od::number n;
    if (auto e = v.get_number().get(n)) {
        if (e == simdjson::NUMBER_ERROR || e == simdjson::NUMBER_OUT_OF_RANGE) {
            throw BadRequest(field() + ": " + std::string(raw.substr(0, 40)) + " is out of range (expected 0..255)");
        }
        malformed(e);
    }
    if (n.get_number_type() == od::number_type::floating_point_number) {
        throw BadRequest(field() + ": expected an integer 0..255, got " + std::string(raw.substr(0, 40)));
    }
    if (n.get_number_type() == od::number_type::unsigned_integer || n.get_int64() < 0 || n.get_int64() > 255) {
        throw BadRequest(field() + ": " + std::string(raw.substr(0, 40)) + " is out of range (expected 0..255)");
    }
    return static_cast<std::uint8_t>(n.get_int64());
}

// One row: an array of exactly 784 pixels, appended to `out`. `name` is "pixels" or "instances[r]".
void read_row(od::value& value, const std::string& name, std::vector<std::uint8_t>& out) {
    const od::json_type t = type_of(value);
    if (t != od::json_type::array) {
        throw BadRequest(name == "pixels" ? std::string("\"pixels\" must be an array of 784 integers, got ") + type_name(t)
                                          : name + ": expected an array of 784 integers, got " + type_name(t));
    }
    od::array row;
    if (auto e = value.get_array().get(row)) malformed(e);
    std::size_t count = 0;
    for (auto element : row) {
        od::value v;
        if (auto e = element.get(v)) malformed(e);
        if (count == static_cast<std::size_t>(kPixels)) {
            throw BadRequest(name + " has more than " + std::to_string(kPixels) + " values (expected " +
                             std::to_string(kPixels) + ", a 28x28 image)");
        }
        out.push_back(read_pixel(v, name, count));
        ++count;
    }
    if (count != static_cast<std::size_t>(kPixels)) {
        throw BadRequest(name + " has " + std::to_string(count) + " values, expected " + std::to_string(kPixels) +
                         " (a 28x28 image)");
    }
}

void read_instances(od::value& value, std::size_t max_rows, PixelRows& result) {
    const od::json_type t = type_of(value);
    if (t != od::json_type::array) {
        throw BadRequest(std::string("\"instances\" must be an array of rows of 784 integers, got ") + type_name(t));
    }
    od::array rows;
    if (auto e = value.get_array().get(rows)) malformed(e);
    for (auto element : rows) {
        od::value v;
        if (auto e = element.get(v)) malformed(e);
        if (result.rows == max_rows) throw BadRequest("\"instances\" has more than " + std::to_string(max_rows) + " rows");
        if (type_of(v) != od::json_type::array) {
            throw BadRequest(std::string("\"instances\" must be an array of rows of 784 integers, got ") +
                             type_name(type_of(v)) + " at row " + std::to_string(result.rows));
        }
        result.pixels.reserve(result.pixels.size() + kPixels);
        read_row(v, "instances[" + std::to_string(result.rows) + "]", result.pixels);
        ++result.rows;
    }
    if (result.rows == 0) throw BadRequest("\"instances\" is empty (expected 1 to " + std::to_string(max_rows) + " rows)");
}

}  // namespace

PixelRows parse_pixels_json(std::string_view body, std::size_t max_rows) {
    thread_local od::parser parser;  // reuses its buffers from request to request
    const simdjson::padded_string padded(body);
    od::document doc;
    if (auto e = parser.iterate(padded).get(doc)) malformed(e);

    const od::json_type t = type_of(doc);
    if (t != od::json_type::object) throw BadRequest(std::string("expected a JSON object, got ") + type_name(t));
    od::object object;
    if (auto e = doc.get_object().get(object)) malformed(e);

    PixelRows result;
    bool seen = false;
    for (auto field : object) {
        od::field f;
        if (auto e = std::move(field).get(f)) malformed(e);
        std::string_view key;
        if (auto e = f.unescaped_key().get(key)) malformed(e);
        if (key != "pixels" && key != "instances") {
            throw BadRequest("unknown field \"" + std::string(key.substr(0, 40)) +
                             "\" (expected \"pixels\" or \"instances\")");
        }
        if (seen) throw BadRequest("give either \"pixels\" or \"instances\", once");
        seen = true;
        od::value& value = f.value();
        if (key == "pixels") {
            result.pixels.reserve(kPixels);
            read_row(value, "pixels", result.pixels);
            result.rows = 1;
        } else {
            result.batch = true;
            read_instances(value, max_rows, result);
        }
    }
    if (!seen) throw BadRequest("expected a field \"pixels\" (784 integers) or \"instances\" (rows of 784)");
    const char* rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) {
        throw BadRequest("malformed JSON: more content after the object");
    }
    return result;
}

}  // namespace mnistnn::server
