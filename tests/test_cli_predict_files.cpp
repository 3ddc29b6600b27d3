// `mnistnn predict FILE...`: pictures in, one line or JSON object per file out; bad files are
// reported by name and the others still predicted; stdin; --show; --save-normalized; usage errors.
// Uses the hand-made "pixel vote" model of tests/fixtures/cli/README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "image_maker.hpp"
#include "mnistnn/digit_image.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/render.hpp"
#include "test_util.hpp"

namespace {

using namespace mnistnn;
using test::run_cli;
using test::TempDir;
using test::write_text;

// A 90×60 picture of a bar, dark ink on white paper (a "1").
std::vector<std::uint8_t> bar_pixels() {
    std::vector<std::uint8_t> px(90 * 60, 250);
    for (int y = 8; y < 52; ++y)
        for (int x = 40; x < 48; ++x) px[static_cast<std::size_t>(y * 90 + x)] = 20;
    return px;
}

class PredictFiles : public ::testing::Test {
protected:
    void SetUp() override {
        test::save_pixel_vote_model(dir.file("model.safetensors"));
        write_text(dir.file("bar.png"), test::stb_png(90, 60, 1, bar_pixels()));
        write_text(dir.file("bar.jpg"), test::stb_jpeg(90, 60, 1, bar_pixels(), 85));
        write_text(dir.file("bar.pgm"), "P2 3 3 255 255 255 255 255 0 255 255 0 255\n");
        write_text(dir.file("notes.png"), "not a picture");
        write_text(dir.file("blank.png"), test::stb_png(50, 50, 1, std::vector<std::uint8_t>(2500, 255)));
        const std::string png = test::stb_png(90, 60, 1, bar_pixels());
        write_text(dir.file("cut.png"), png.substr(0, png.size() / 2));
    }
    TempDir dir;
};

TEST_F(PredictFiles, OneLinePerFileWithTopThree) {
    const auto r = run_cli("predict bar.png bar.jpg bar.pgm", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::count_lines(r.out), 3u);
    std::istringstream lines(r.out);
    for (const char* name : {"bar.png", "bar.jpg", "bar.pgm"}) {
        std::string line;
        std::getline(lines, line);
        EXPECT_EQ(line.rfind(std::string(name) + "  ", 0), 0u) << line;
        EXPECT_EQ(std::count(line.begin(), line.end(), '%'), 3) << line;  // top-3 probabilities
    }
}

TEST_F(PredictFiles, JsonHasFilePredictionAndTenProbabilities) {
    const auto r = run_cli("predict --json bar.png bar.jpg", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j.size(), 3u);
        EXPECT_EQ(j.at("file"), count == 0 ? "bar.png" : "bar.jpg");
        ASSERT_EQ(j.at("probabilities").size(), 10u);
        double sum = 0;
        for (const auto& p : j.at("probabilities")) sum += p.get<double>();
        EXPECT_NEAR(sum, 1.0, 1e-5);
        EXPECT_GE(j.at("prediction").get<int>(), 0);
        ++count;
    }
    EXPECT_EQ(count, 2);
}

TEST_F(PredictFiles, BadFilesAreReportedByNameAndTheOthersStillPredicted) {
    const auto r = run_cli("predict bar.png notes.png blank.png cut.png missing.png bar.pgm", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(test::count_lines(r.out), 2u) << r.out;
    EXPECT_NE(r.out.find("bar.png  "), std::string::npos);
    EXPECT_NE(r.out.find("bar.pgm  "), std::string::npos);
    EXPECT_EQ(test::count_lines(r.err), 4u) << r.err;
    EXPECT_NE(r.err.find("notes.png: not an image"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("blank.png: no ink found"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("cut.png: truncated or corrupt PNG"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
}

TEST_F(PredictFiles, PixelLimitIsAnOption) {
    const auto r = run_cli("predict --max-pixels 1000 bar.png", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("bar.png: PNG image is 90×60 = 5400 pixels, over the limit of 1000"), std::string::npos) << r.err;
    const auto help = run_cli("predict --help", dir.path());
    EXPECT_NE(help.out.find("--max-pixels"), std::string::npos);
    EXPECT_NE(help.out.find("50000000"), std::string::npos);  // the default, stated in --help
}

TEST_F(PredictFiles, StdinIsDash) {
    // run_cli gives the binary /dev/null as stdin; a wrapper shell replaces it with the picture.
    const auto r = run_cli("predict --json -", dir.path(), "sh -c 'exec \"$0\" \"$@\" < bar.png'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("file"), "-");
    const auto file = run_cli("predict --json bar.png", dir.path());
    EXPECT_EQ(nlohmann::json::parse(r.out).at("probabilities"), nlohmann::json::parse(file.out).at("probabilities"));
}

TEST_F(PredictFiles, ShowDrawsWhatTheNetworkSaw) {
    const auto r = run_cli("predict --show bar.png", dir.path(), "NO_COLOR=1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::count_lines(r.out), 1u + 28u);
    const DigitPixels sample = load_digit_image(dir.file("bar.png"));
    EXPECT_NE(r.out.find(render_ascii(sample.data())), std::string::npos);
}

TEST_F(PredictFiles, SaveNormalizedWritesThe28x28Inputs) {
    std::filesystem::create_directory(dir.file("seen"));
    const auto r = run_cli("predict --save-normalized seen bar.png bar.jpg", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const char* name : {"bar", "bar-2"}) {
        const auto png = test::decode_png(test::read_text(dir.file(std::string("seen/") + name + ".png")), 1);
        ASSERT_EQ(png.width, 28);
        ASSERT_EQ(png.height, 28);
        const DigitPixels sample = load_digit_image(dir.file(name == std::string("bar") ? "bar.png" : "bar.jpg"));
        EXPECT_TRUE(std::equal(sample.begin(), sample.end(), png.pixels.begin())) << name;
    }
    EXPECT_EQ(run_cli("predict --save-normalized nowhere bar.png", dir.path()).exit_code, 2);
}

TEST_F(PredictFiles, MnistRowAsPngPredictsExactlyAsTheRow) {
    const Images rows = load_images(test::cli_fixture("known.csv"));
    for (std::size_t i = 0; i < rows.rows; ++i) {
        write_text(dir.file("row.png"), test::stb_png(28, 28, 1, std::vector<std::uint8_t>(rows.sample(i), rows.sample(i) + kPixels)));
        const auto picture = run_cli("predict --json row.png", dir.path());
        const auto row = run_cli("predict --json --index " + std::to_string(i) + " --data '" + test::cli_fixture("known.csv") + "'", dir.path());
        ASSERT_EQ(picture.exit_code, 0) << picture.err;
        ASSERT_EQ(row.exit_code, 0) << row.err;
        EXPECT_EQ(nlohmann::json::parse(picture.out).at("probabilities"), nlohmann::json::parse(row.out).at("probabilities")) << i;
        EXPECT_EQ(nlohmann::json::parse(picture.out).at("prediction"), nlohmann::json::parse(row.out).at("prediction")) << i;
    }
}

TEST_F(PredictFiles, UsageErrors) {
    EXPECT_EQ(run_cli("predict --show", dir.path()).exit_code, 2);
    EXPECT_EQ(run_cli("predict --index 0 bar.png", dir.path()).exit_code, 2);
    EXPECT_EQ(run_cli("predict --invert maybe bar.png", dir.path()).exit_code, 2);
    EXPECT_EQ(run_cli("predict - -", dir.path()).exit_code, 2);
    // --invert no on dark-on-light paper: nothing stands out, so no ink.
    const auto r = run_cli("predict --invert no bar.png", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no ink found"), std::string::npos);
    EXPECT_EQ(run_cli("predict --invert yes bar.png", dir.path()).exit_code, 0);
}

}  // namespace
