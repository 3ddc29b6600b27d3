// PredictionService: routes and handlers, request → status + JSON. No sockets here.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "mnistnn/digit_image.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/server.hpp"
#include "pixels_json.hpp"

namespace mnistnn {
namespace {

using nlohmann::json;

// Metadata keys not shown by /v1/model: local file paths say nothing about the model.
bool is_private_metadata(const std::string& key) { return key == "data_path" || key == "labels_path"; }

HttpResponse json_response(const json& value) {
    HttpResponse r;
    r.body = value.dump();
    return r;
}

// "image/PNG; charset=x" → "image/png".
std::string media_type(std::string_view content_type) {
    const auto semicolon = content_type.find(';');
    std::string_view type = content_type.substr(0, semicolon);
    while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) type.remove_prefix(1);
    while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.remove_suffix(1);
    std::string lower(type);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

bool is_image_type(const std::string& type) {
    return type == "image/png" || type == "image/jpeg" || type == "image/x-portable-graymap";
}

// {"prediction": k, "probabilities": [10]} for one 784-byte sample (as `predict` computes it).
json prediction_json(const Params& params, const std::uint8_t* pixels) {
    const Eigen::VectorXf p = predict_one(params, pixels);
    Eigen::Index arg = 0;
    p.maxCoeff(&arg);
    json probabilities = json::array();
    for (Eigen::Index k = 0; k < p.size(); ++k) probabilities.push_back(static_cast<double>(p(k)));
    return json{{"prediction", static_cast<int>(arg)}, {"probabilities", std::move(probabilities)}};
}

std::string build_model_info(const Model& model) {
    json metadata = json::object();
    for (const auto& [key, value] : model.metadata) {
        if (!is_private_metadata(key)) metadata[key] = value;
    }
    json accuracy = nullptr;
    const auto it = model.metadata.find("holdout_accuracy");
    if (it != model.metadata.end()) {
        char* end = nullptr;
        const double value = std::strtod(it->second.c_str(), &end);
        if (end != it->second.c_str() && *end == '\0') accuracy = value;
    }
    return json{{"hidden", model.params.hidden()},
                {"activation", to_string(model.params.activation)},
                {"holdout_accuracy", accuracy},
                {"metadata", std::move(metadata)}}
        .dump();
}

HttpResponse method_not_allowed(std::string_view method, std::string_view path, const char* allow) {
    HttpResponse r = error_response(405, "method " + std::string(method) + " is not allowed on " + std::string(path) +
                                             " (allowed: " + allow + ")");
    r.allow = allow;
    return r;
}

}  // namespace

HttpResponse error_response(int status, const std::string& message) {
    HttpResponse r;
    r.status = status;
    r.body = json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
    return r;
}

PredictionService::PredictionService(Model model) : model_(std::move(model)), model_info_(build_model_info(model_)) {}

HttpResponse PredictionService::handle(const HttpRequest& request) const {
    std::string_view path = request.target.substr(0, request.target.find('?'));
    const bool get = request.method == "GET" || request.method == "HEAD";

    if (path == "/v1/predict") {
        if (request.method != "POST") return method_not_allowed(request.method, path, "POST");
        const std::string type = media_type(request.content_type);
        if (type == "application/json") return predict_json(request.body);
        if (is_image_type(type)) return predict_image(request.body);
        return error_response(415, type.empty() ? "missing Content-Type (expected application/json, image/png, "
                                                  "image/jpeg or image/x-portable-graymap)"
                                                : "unsupported Content-Type '" + type.substr(0, 100) +
                                                      "' (expected application/json, image/png, image/jpeg or "
                                                      "image/x-portable-graymap)");
    }
    if (path == "/v1/model") return get ? model_info() : method_not_allowed(request.method, path, "GET, HEAD");
    if (path == "/healthz") {
        return get ? json_response(json{{"status", "ok"}}) : method_not_allowed(request.method, path, "GET, HEAD");
    }
    for (const WebAsset& asset : web_assets()) {
        if (path != asset.path) continue;
        if (!get) return method_not_allowed(request.method, path, "GET, HEAD");
        HttpResponse r;
        r.content_type = std::string(asset.content_type);
        r.body = std::string(asset.body);
        return r;
    }
    return error_response(404, "no such path: " + std::string(path.substr(0, 200)));
}

HttpResponse PredictionService::predict_json(std::string_view body) const {
    server::PixelRows rows;
    try {
        rows = server::parse_pixels_json(body, kMaxBatch);
    } catch (const server::BadRequest& e) {
        return error_response(400, e.what());
    }
    if (!rows.batch) return json_response(prediction_json(model_.params, rows.pixels.data()));
    json predictions = json::array();
    for (std::size_t i = 0; i < rows.rows; ++i) {
        predictions.push_back(prediction_json(model_.params, rows.pixels.data() + i * kPixels));
    }
    return json_response(json{{"predictions", std::move(predictions)}});
}

HttpResponse PredictionService::predict_image(std::string_view body) const {
    DigitPixels pixels{};
    try {
        pixels = normalize_digit_image(reinterpret_cast<const std::uint8_t*>(body.data()), body.size(), "request body");
    } catch (const ImageError& e) {
        return error_response(400, e.what());
    }
    json answer = prediction_json(model_.params, pixels.data());
    answer["input"] = pixels;
    return json_response(answer);
}

HttpResponse PredictionService::model_info() const {
    HttpResponse r;
    r.body = model_info_;
    return r;
}

}  // namespace mnistnn
