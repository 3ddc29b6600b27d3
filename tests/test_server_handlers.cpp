// PredictionService without sockets: every route, every error status of the handlers, and
// predictions equal to the library's predict_one on the same pixels.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "mnistnn/digit_image.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/server.hpp"
#include "image_maker.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

using nlohmann::json;

// The "pixel vote" model (tests/fixtures/cli/README.md) with some training metadata.
Model vote_model() {
    test::TempDir dir;
    test::save_pixel_vote_model(dir.file("m.safetensors"));
    Model m = load_model(dir.file("m.safetensors"));
    m.metadata["holdout_accuracy"] = "0.875";
    m.metadata["optimizer"] = "adam";
    m.metadata["data_path"] = "/home/someone/train.csv";
    return m;
}

const PredictionService& service() {
    static const PredictionService s(vote_model());
    return s;
}

HttpResponse call(std::string_view method, std::string_view target, std::string_view type = "",
                  std::string_view body = "") {
    return service().handle(HttpRequest{method, target, type, body});
}

HttpResponse post_json(const std::string& body) { return call("POST", "/v1/predict", "application/json", body); }

// A sample whose pixel k (k < 10) is brightest, with some other ink.
std::vector<int> sample(int k, int seed) {
    std::vector<int> p(784, 0);
    for (int i = 0; i < 784; ++i) p[static_cast<std::size_t>(i)] = (i * 37 + seed * 11) % 97 < 20 ? (i * 13 + seed) % 200 : 0;
    p[static_cast<std::size_t>(k)] = 250;
    return p;
}

json expected_prediction(const std::vector<int>& pixels) {
    std::vector<std::uint8_t> bytes(pixels.begin(), pixels.end());
    const Eigen::VectorXf p = predict_one(vote_model().params, bytes.data());
    Eigen::Index arg = 0;
    p.maxCoeff(&arg);
    json probabilities = json::array();
    for (Eigen::Index k = 0; k < 10; ++k) probabilities.push_back(static_cast<double>(p(k)));
    return json{{"prediction", static_cast<int>(arg)}, {"probabilities", probabilities}};
}

// Asserts an error answer: status, a JSON {"error": ...} naming `mentions`.
void expect_error(const HttpResponse& r, int status, const std::string& mentions) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    const json j = json::parse(r.body);
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_NE(j["error"].get<std::string>().find(mentions), std::string::npos) << r.body;
}

std::string pixels_body(const std::vector<int>& p) { return json{{"pixels", p}}.dump(); }

TEST(ServerHandlers, HealthzAnswersOk) {
    const auto r = call("GET", "/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json::parse(r.body), json({{"status", "ok"}}));
}

TEST(ServerHandlers, PageAndItsFilesAreEmbeddedAndNeedNoNetwork) {
    const auto page = call("GET", "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("<canvas id=\"pad\""), std::string::npos);
    EXPECT_NE(page.body.find("src=\"/app.js\""), std::string::npos);
    const auto js = call("GET", "/app.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
    EXPECT_NE(js.body.find("/v1/predict"), std::string::npos);
    EXPECT_NE(js.body.find("toBlob"), std::string::npos);
    const auto css = call("GET", "/style.css?v=1");
    EXPECT_EQ(css.status, 200);
    EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
    for (const auto* r : {&page, &js, &css}) {
        EXPECT_EQ(r->body.find("http://"), std::string::npos) << "no outside URLs (no CDN)";
        EXPECT_EQ(r->body.find("https://"), std::string::npos) << "no outside URLs (no CDN)";
    }
}

TEST(ServerHandlers, ModelInfoShowsSizeActivationAccuracyAndSettings) {
    const auto r = call("GET", "/v1/model");
    EXPECT_EQ(r.status, 200);
    const json j = json::parse(r.body);
    EXPECT_EQ(j["hidden"], 10);
    EXPECT_EQ(j["activation"], "relu");
    EXPECT_DOUBLE_EQ(j["holdout_accuracy"].get<double>(), 0.875);
    EXPECT_EQ(j["metadata"]["optimizer"], "adam");
    EXPECT_EQ(j["metadata"]["format"], "mnistnn");
    EXPECT_FALSE(j["metadata"].contains("data_path")) << "local paths are not shown";
}

TEST(ServerHandlers, UnknownPathsAre404AndWrongMethods405WithAllow) {
    expect_error(call("GET", "/nope"), 404, "/nope");
    expect_error(call("GET", "/v1/predictx"), 404, "/v1/predictx");
    const auto get_predict = call("GET", "/v1/predict");
    expect_error(get_predict, 405, "GET");
    EXPECT_EQ(get_predict.allow, "POST");
    const auto post_health = call("POST", "/healthz");
    expect_error(post_health, 405, "POST");
    EXPECT_EQ(post_health.allow, "GET, HEAD");
    expect_error(call("DELETE", "/"), 405, "DELETE");
    expect_error(call("PUT", "/v1/model"), 405, "PUT");
}

TEST(ServerHandlers, OnePixelRowGivesPredictOnesAnswer) {
    for (int k = 0; k < 10; ++k) {
        const auto p = sample(k, k + 3);
        const auto r = post_json(pixels_body(p));
        ASSERT_EQ(r.status, 200) << r.body;
        const json j = json::parse(r.body);
        EXPECT_EQ(j, expected_prediction(p));
        EXPECT_EQ(j["prediction"], k);
        EXPECT_FALSE(j.contains("input")) << "only image requests echo the input";
    }
}

TEST(ServerHandlers, BatchGivesOneAnswerPerRowInOrder) {
    std::vector<std::vector<int>> rows;
    for (int i = 0; i < 25; ++i) rows.push_back(sample((i * 7) % 10, i));
    const auto r = post_json(json{{"instances", rows}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    ASSERT_EQ(j["predictions"].size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(j["predictions"][i], expected_prediction(rows[i])) << i;
}

TEST(ServerHandlers, BatchOfTheMaximumSizeIsAcceptedOneMoreIsNot) {
    const std::vector<std::vector<int>> rows(PredictionService::kMaxBatch, std::vector<int>(784, 0));
    const auto ok = post_json(json{{"instances", rows}}.dump());
    ASSERT_EQ(ok.status, 200);
    EXPECT_EQ(json::parse(ok.body)["predictions"].size(), PredictionService::kMaxBatch);
    auto more = rows;
    more.push_back(std::vector<int>(784, 0));
    expect_error(post_json(json{{"instances", more}}.dump()), 400, "more than 1000 rows");
}

TEST(ServerHandlers, ContentTypeIsMatchedWithoutCaseOrParameters) {
    const std::string body = pixels_body(sample(3, 1));
    EXPECT_EQ(call("POST", "/v1/predict", "application/json; charset=utf-8", body).status, 200);
    EXPECT_EQ(call("POST", "/v1/predict", " Application/JSON ", body).status, 200);
}

TEST(ServerHandlers, UnknownOrMissingContentTypeIs415) {
    const std::string body = pixels_body(sample(3, 1));
    expect_error(call("POST", "/v1/predict", "text/plain", body), 415, "text/plain");
    expect_error(call("POST", "/v1/predict", "", body), 415, "missing Content-Type");
    expect_error(call("POST", "/v1/predict", "image/gif", "GIF89a"), 415, "image/gif");
}

TEST(ServerHandlers, BadJsonBodiesAre400NamingTheField) {
    auto p = sample(2, 2);
    expect_error(post_json(""), 400, "malformed JSON");
    expect_error(post_json("{\"pixels\": [1, 2,"), 400, "malformed JSON");
    expect_error(post_json(pixels_body(p) + " trailing"), 400, "malformed JSON");
    expect_error(post_json("[1, 2, 3]"), 400, "expected a JSON object");
    expect_error(post_json("{}"), 400, "\"pixels\"");
    expect_error(post_json("{\"pixel\": []}"), 400, "unknown field \"pixel\"");
    expect_error(post_json("{\"pixels\": 5}"), 400, "\"pixels\" must be an array");
    expect_error(post_json("{\"pixels\": {}}"), 400, "\"pixels\" must be an array");

    auto short_row = p;
    short_row.pop_back();
    expect_error(post_json(pixels_body(short_row)), 400, "pixels has 783 values, expected 784");
    auto long_row = p;
    long_row.push_back(0);
    expect_error(post_json(pixels_body(long_row)), 400, "pixels has more than 784 values");
    expect_error(post_json(pixels_body({})), 400, "pixels has 0 values");

    p[100] = 256;
    expect_error(post_json(pixels_body(p)), 400, "pixels[100]: 256 is out of range");
    p[100] = -1;
    expect_error(post_json(pixels_body(p)), 400, "pixels[100]: -1 is out of range");
    std::string text = pixels_body(sample(2, 2));
    text.replace(text.find('['), 1, "[1.5,");
    expect_error(post_json(text), 400, "pixels[0]: expected an integer 0..255, got 1.5");
    expect_error(post_json("{\"pixels\": [\"1\"]}"), 400, "pixels[0]: expected an integer 0..255, got a string");
    expect_error(post_json("{\"pixels\": [[1]]}"), 400, "pixels[0]: expected an integer 0..255, got an array");
    expect_error(post_json("{\"pixels\": [null]}"), 400, "got null");
}

TEST(ServerHandlers, BadBatchesAre400NamingTheRow) {
    expect_error(post_json("{\"instances\": []}"), 400, "\"instances\" is empty");
    expect_error(post_json("{\"instances\": [1]}"), 400, "\"instances\" must be an array of rows");
    std::vector<std::vector<int>> rows(3, sample(1, 1));
    rows[2][5] = 300;
    expect_error(post_json(json{{"instances", rows}}.dump()), 400, "instances[2][5]: 300 is out of range");
    rows[2][5] = 0;
    rows[1].pop_back();
    expect_error(post_json(json{{"instances", rows}}.dump()), 400, "instances[1] has 783 values");
    const std::string both = "{\"pixels\": " + json(sample(1, 1)).dump() + ", \"instances\": []}";
    expect_error(post_json(both), 400, "either \"pixels\" or \"instances\"");
}

TEST(ServerHandlers, DeeplyNestedJsonIsRefused) {
    const std::size_t depth = std::size_t{1} << 19;
    expect_error(post_json(std::string(depth, '[')), 400, "expected a JSON object, got an array");
    expect_error(post_json(std::string(depth, '[') + std::string(depth, ']')), 400, "expected a JSON object");
    expect_error(post_json("{\"pixels\": " + std::string(depth, '[')), 400, "malformed JSON");
    expect_error(post_json("{\"pixels\": " + std::string(depth, '[') + std::string(depth, ']') + "}"), 400,
                 "pixels[0]: expected an integer 0..255, got an array");
    // Shallow enough for the parser's depth limit: refused for its shape.
    expect_error(post_json("{\"pixels\": [[[[[[[[1]]]]]]]]}"), 400, "pixels[0]: expected an integer 0..255, got an array");
    expect_error(post_json("[[[[[[[[1]]]]]]]]"), 400, "expected a JSON object, got an array");
}

TEST(ServerHandlers, UndecodableImageIs400) {
    expect_error(call("POST", "/v1/predict", "image/png", "not a png at all"), 400, "request body");
    expect_error(call("POST", "/v1/predict", "image/jpeg", ""), 400, "request body");
}

// A PGM picture (dark ink on white) of a thick "1"-like bar.
std::string pgm_bar(int width, int height, int ink) {
    std::string bytes = "P5\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            const bool in_bar = x >= width / 2 - 3 && x <= width / 2 + 3 && y >= height / 5 && y <= 4 * height / 5;
            bytes += static_cast<char>(in_bar ? ink : 255);
        }
    }
    return bytes;
}

TEST(ServerHandlers, ImageIsNormalisedAndPredictedAsTheLibraryDoes) {
    const std::string pgm = pgm_bar(60, 80, 0);
    const auto r = call("POST", "/v1/predict", "image/x-portable-graymap", pgm);
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    const DigitPixels input =
        normalize_digit_image(reinterpret_cast<const std::uint8_t*>(pgm.data()), pgm.size(), "test");
    EXPECT_EQ(j["input"], json(input));
    const Eigen::VectorXf p = predict_one(vote_model().params, input.data());
    ASSERT_EQ(j["probabilities"].size(), 10u);
    for (int k = 0; k < 10; ++k) EXPECT_EQ(j["probabilities"][static_cast<std::size_t>(k)].get<double>(), static_cast<double>(p(k)));
}

TEST(ServerHandlers, JpegAndPngAreNormalisedAsTheLibraryDoes) {
    std::vector<std::uint8_t> grey(64 * 64, 255);
    for (int y = 10; y < 54; ++y) {
        for (int x = 20; x < 30 + y / 4; ++x) grey[static_cast<std::size_t>(y * 64 + x)] = 20;
    }
    const std::string files[] = {test::stb_jpeg(64, 64, 1, grey, 90), test::stb_png(64, 64, 1, grey)};
    const char* types[] = {"image/jpeg", "image/png"};
    for (int i = 0; i < 2; ++i) {
        const auto r = call("POST", "/v1/predict", types[i], files[i]);
        ASSERT_EQ(r.status, 200) << types[i] << ": " << r.body;
        const DigitPixels input = normalize_digit_image(test::bytes_of(files[i]), files[i].size(), "test");
        EXPECT_EQ(json::parse(r.body)["input"], json(input)) << types[i];
    }
}

TEST(ServerHandlers, BlankImageIs400) {
    expect_error(call("POST", "/v1/predict", "image/x-portable-graymap", pgm_bar(40, 40, 255)), 400, "request body");
}

}  // namespace
}  // namespace mnistnn
