// Streaming parser of the pixel JSON bodies (see pixels_json.hpp).
#include "pixels_json.hpp"

#include <nlohmann/json.hpp>

#include <string>

#include "mnistnn/images.hpp"

namespace mnistnn::server {
namespace {

using json = nlohmann::json;

// nlohmann's SAX interface as a state machine over the two accepted shapes. Every callback
// returns false (stop parsing) with `error` set as soon as the input leaves them.
class PixelsSax {
public:
    explicit PixelsSax(std::size_t max_rows) : max_rows_(max_rows) {}

    PixelRows result;
    std::string error;

    bool null() { return unexpected("null"); }
    bool boolean(bool) { return unexpected("a boolean"); }
    bool string(std::string&) { return unexpected("a string"); }
    bool binary(json::binary_t&) { return unexpected("binary data"); }
    bool number_float(double, const std::string& text) {
        if (in_numbers()) return fail(field() + ": expected an integer 0..255, got " + text);
        return unexpected("a number");
    }
    bool number_integer(std::int64_t v) {
        if (in_numbers()) return fail(field() + ": " + std::to_string(v) + " is out of range (expected 0..255)");
        return unexpected("a number");
    }
    bool number_unsigned(std::uint64_t v) {
        if (!in_numbers()) return unexpected("a number");
        if (v > 255) return fail(field() + ": " + std::to_string(v) + " is out of range (expected 0..255)");
        if (count_ == static_cast<std::size_t>(kPixels)) {
            return fail(row_name() + " has more than " + std::to_string(kPixels) + " values (expected " +
                        std::to_string(kPixels) + ", a 28x28 image)");
        }
        result.pixels.push_back(static_cast<std::uint8_t>(v));
        ++count_;
        return true;
    }
    bool start_object(std::size_t) {
        if (state_ != State::Top) return unexpected("an object");
        state_ = State::InObject;
        return true;
    }
    bool key(std::string& name) {
        if (name == "pixels" || name == "instances") {
            if (seen_key_) return fail("give either \"pixels\" or \"instances\", once");
            seen_key_ = true;
            result.batch = name == "instances";
            state_ = result.batch ? State::ExpectInstances : State::ExpectPixels;
            return true;
        }
        return fail("unknown field \"" + name.substr(0, 40) + "\" (expected \"pixels\" or \"instances\")");
    }
    bool end_object() {
        if (!seen_key_) return fail("expected a field \"pixels\" (784 integers) or \"instances\" (rows of 784)");
        state_ = State::Done;
        return true;
    }
    bool start_array(std::size_t) {
        switch (state_) {
            case State::ExpectPixels: return start_row(State::InPixels);
            case State::ExpectInstances: state_ = State::InInstances; return true;
            case State::InInstances:
                if (result.rows == max_rows_) {
                    return fail("\"instances\" has more than " + std::to_string(max_rows_) + " rows");
                }
                return start_row(State::InRow);
            default: return unexpected("an array");
        }
    }
    bool end_array() {
        if (state_ == State::InInstances) {
            if (result.rows == 0) return fail("\"instances\" is empty (expected 1 to " + std::to_string(max_rows_) + " rows)");
            state_ = State::InObject;
            return true;
        }
        if (count_ != static_cast<std::size_t>(kPixels)) {
            return fail(row_name() + " has " + std::to_string(count_) + " values, expected " +
                        std::to_string(kPixels) + " (a 28x28 image)");
        }
        ++result.rows;
        state_ = state_ == State::InPixels ? State::InObject : State::InInstances;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
        if (error.empty()) {
            std::string what = e.what();
            const auto bracket = what.find("] ");  // drop "[json.exception.parse_error.101] "
            error = "malformed JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2));
        }
        return false;
    }

private:
    enum class State { Top, InObject, ExpectPixels, InPixels, ExpectInstances, InInstances, InRow, Done };

    bool in_numbers() const { return state_ == State::InPixels || state_ == State::InRow; }
    bool start_row(State next) {
        state_ = next;
        count_ = 0;
        result.pixels.reserve(result.pixels.size() + kPixels);
        return true;
    }
    std::string row_name() const {
        return state_ == State::InRow ? "instances[" + std::to_string(result.rows) + "]" : std::string("pixels");
    }
    std::string field() const { return row_name() + "[" + std::to_string(count_) + "]"; }
    bool fail(std::string message) {
        error = std::move(message);
        return false;
    }
    bool unexpected(const char* what) {
        switch (state_) {
            case State::Top: return fail(std::string("expected a JSON object, got ") + what);
            case State::InPixels:
            case State::InRow: return fail(field() + ": expected an integer 0..255, got " + what);
            case State::ExpectPixels: return fail(std::string("\"pixels\" must be an array of 784 integers, got ") + what);
            case State::ExpectInstances:
            case State::InInstances:
                return fail(std::string("\"instances\" must be an array of rows of 784 integers, got ") + what);
            default: return fail(std::string("unexpected ") + what);
        }
    }

    std::size_t max_rows_;
    State state_ = State::Top;
    std::size_t count_ = 0;
    bool seen_key_ = false;
};

}  // namespace

PixelRows parse_pixels_json(std::string_view body, std::size_t max_rows) {
    PixelsSax sax(max_rows);
    const bool ok = json::sax_parse(body.begin(), body.end(), &sax);
    if (!ok) throw BadRequest(sax.error.empty() ? std::string("malformed JSON") : sax.error);
    return std::move(sax.result);
}

}  // namespace mnistnn::server
