#include "mnistnn/plot.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mnistnn/error.hpp"
#include "test_util.hpp"

namespace {

using mnistnn::DataFormatError;
using mnistnn::IoError;
using mnistnn::LearningCurves;
using mnistnn::PlotRgb;
using mnistnn::UsageError;
using mnistnn::test::read_text;
using mnistnn::test::run_cli;
using mnistnn::test::source_path;
using mnistnn::test::TempDir;
using mnistnn::test::write_text;

// tests/fixtures/plot/curve.csv: 11 rows, steps 0..1000, loss 2.3 → 0.4, accuracies rising,
// all seven columns (holdout_loss last). curve_no_holdout.csv: the same without holdout columns.
std::string fixture(const std::string& name) { return source_path("tests/fixtures/plot/" + name); }

LearningCurves parse(const std::string& text) {
    std::istringstream in(text);
    return mnistnn::parse_learning_curves(in, "log.csv");
}

// The message of the E that `f` throws (a test failure if it throws nothing or something else).
template <typename E>
std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw the wrong exception type: " << e.what();
        return "";
    }
    ADD_FAILURE() << "did not throw";
    return "";
}

// Number of "x,y" pairs in the points attribute of the polyline with this id; -1 if absent.
int polyline_points(const std::string& svg, const std::string& id) {
    const std::size_t at = svg.find("<polyline class=\"series\" id=\"" + id + "\"");
    if (at == std::string::npos) return -1;
    const std::size_t start = svg.find("points=\"", at);
    const std::size_t end = svg.find('"', start + 8);
    std::istringstream pairs(svg.substr(start + 8, end - start - 8));
    int count = 0;
    std::string pair;
    while (pairs >> pair) {
        if (pair.find(',') == std::string::npos) return -2;
        ++count;
    }
    return count;
}

int count_of(const std::string& text, const std::string& needle) {
    int n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Runs python3's XML parser on the file; also checks the root is <svg> of the plot's size.
void expect_well_formed_svg(const std::string& path) {
    ASSERT_EQ(::access("/usr/bin/python3", X_OK), 0) << "/usr/bin/python3 is needed to check the SVG is well-formed XML";
    const std::string script =
        "import xml.dom.minidom,sys; r=xml.dom.minidom.parse(sys.argv[1]).documentElement; "
        "assert r.tagName=='svg', r.tagName; "
        "assert r.getAttribute('xmlns')=='http://www.w3.org/2000/svg'; "
        "assert (r.getAttribute('width'), r.getAttribute('height'), r.getAttribute('viewBox')) == "
        "(sys.argv[2], sys.argv[3], '0 0 '+sys.argv[2]+' '+sys.argv[3]), r.getAttribute('viewBox')";
    const std::string cmd = "/usr/bin/python3 -c \"" + script + "\" '" + path + "' " +
                            std::to_string(mnistnn::kPlotWidth) + " " + std::to_string(mnistnn::kPlotHeight);
    EXPECT_EQ(std::system(cmd.c_str()), 0) << path << " is not well-formed SVG";
}

struct Decoded {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;

    int count(PlotRgb c) const {
        int n = 0;
        for (std::size_t i = 0; i + 2 < rgb.size(); i += 3) {
            if (rgb[i] == c.r && rgb[i + 1] == c.g && rgb[i + 2] == c.b) ++n;
        }
        return n;
    }
};

Decoded decode_png(const std::string& bytes) {
    mnistnn::test::DecodedPng png = mnistnn::test::decode_png(bytes, 3);
    return Decoded{png.width, png.height, std::move(png.pixels)};
}

bool single_line(const std::string& s) {
    return !s.empty() && s.find('\n') == std::string::npos;
}

// ---- parsing -----------------------------------------------------------------------------

TEST(PlotParse, FixtureHasFourSeriesOfElevenPoints) {
    const LearningCurves c = mnistnn::read_learning_curves(fixture("curve.csv"));
    EXPECT_EQ(c.rows, 11u);
    ASSERT_EQ(c.train_loss.size(), 11u);
    EXPECT_EQ(c.holdout_loss.size(), 11u);
    EXPECT_EQ(c.train_accuracy.size(), 11u);
    EXPECT_EQ(c.holdout_accuracy.size(), 11u);
    EXPECT_DOUBLE_EQ(c.train_loss.front().step, 0.0);
    EXPECT_DOUBLE_EQ(c.train_loss.front().value, 2.3);
    EXPECT_DOUBLE_EQ(c.train_loss.back().step, 1000.0);
    EXPECT_DOUBLE_EQ(c.train_loss.back().value, 0.4);
    EXPECT_DOUBLE_EQ(c.train_accuracy.back().value, 0.885);
    EXPECT_DOUBLE_EQ(c.holdout_accuracy.back().value, 0.871);
    EXPECT_DOUBLE_EQ(c.holdout_loss.back().value, 0.426);
    EXPECT_EQ(c.skipped_training, 0u);
}

TEST(PlotParse, ColumnsAreFoundByNameInAnyOrderWithExtras) {
    const LearningCurves c = parse(
        "lr,train_accuracy,Loss, step ,note\n"
        "0.1,0.5,1.25,10,first\n"
        "0.1,0.75,+0.5,20,\"x\"\n");
    EXPECT_EQ(c.rows, 2u);
    ASSERT_EQ(c.train_loss.size(), 2u);
    EXPECT_DOUBLE_EQ(c.train_loss[1].step, 20.0);
    EXPECT_DOUBLE_EQ(c.train_loss[1].value, 0.5);
    EXPECT_DOUBLE_EQ(c.train_accuracy[0].value, 0.5);
    EXPECT_TRUE(c.holdout_loss.empty());
    EXPECT_TRUE(c.holdout_accuracy.empty());
}

TEST(PlotParse, EmptyOrNanHoldoutValuesAreSkipped) {
    const LearningCurves c = parse(
        "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss\n"
        "0,0,0.1,2.3,0.1,,\n"
        "1,1,0.2,2.0,0.2,nan,NaN\n"
        "2,2,0.3,1.8,0.3,0.28,1.9\n");
    EXPECT_EQ(c.rows, 3u);
    EXPECT_EQ(c.train_loss.size(), 3u);
    ASSERT_EQ(c.holdout_accuracy.size(), 1u);
    EXPECT_DOUBLE_EQ(c.holdout_accuracy[0].step, 2.0);
    ASSERT_EQ(c.holdout_loss.size(), 1u);
    EXPECT_DOUBLE_EQ(c.holdout_loss[0].value, 1.9);
    EXPECT_EQ(c.skipped_training, 0u);
}

TEST(PlotParse, CrlfBomBlankLinesAndNanTrainingValues) {
    const LearningCurves c = parse(
        "\xEF\xBB\xBFstep,loss,train_accuracy\r\n"
        "0,2.3,0.1\r\n"
        "\r\n"
        "5,nan,0.2\r\n"
        "10,1.5,0.4\r\n\r\n");
    EXPECT_EQ(c.rows, 3u);
    EXPECT_EQ(c.train_loss.size(), 2u);  // the nan loss is left out and counted
    EXPECT_EQ(c.train_accuracy.size(), 3u);
    EXPECT_EQ(c.skipped_training, 1u);
}

TEST(PlotParse, MissingFileNamesIt) {
    TempDir dir;
    const std::string path = dir.file("absent.csv");
    const std::string msg = message_of<IoError>([&] { mnistnn::read_learning_curves(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
    EXPECT_TRUE(single_line(msg));
}

TEST(PlotParse, DirectoryIsAnIoError) {
    TempDir dir;
    const std::string msg = message_of<IoError>([&] { mnistnn::read_learning_curves(dir.path()); });
    EXPECT_NE(msg.find("directory"), std::string::npos) << msg;
}

TEST(PlotParse, EmptyFileIsRefused) {
    TempDir dir;
    for (const std::string content : {"", "\n\n", "  \r\n"}) {
        const std::string path = dir.file("empty.csv");
        write_text(path, content);
        const std::string msg = message_of<DataFormatError>([&] { mnistnn::read_learning_curves(path); });
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find("is empty"), std::string::npos) << msg;
        EXPECT_TRUE(single_line(msg)) << msg;
    }
}

TEST(PlotParse, HeaderWithoutRequiredColumnsNamesThem) {
    const std::string msg = message_of<DataFormatError>([] { parse("step,epoch,seconds,holdout_accuracy\n1,1,1,0.5\n"); });
    EXPECT_NE(msg.find("log.csv line 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'loss', 'train_accuracy'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("'step'"), std::string::npos) << msg;
    EXPECT_TRUE(single_line(msg)) << msg;

    const std::string msg2 = message_of<DataFormatError>([] { parse("loss,train_accuracy\n1,0.5\n"); });
    EXPECT_NE(msg2.find("'step'"), std::string::npos) << msg2;
}

TEST(PlotParse, NonNumericValueNamesLineAndColumn) {
    const std::string msg = message_of<DataFormatError>([] {
        parse("step,epoch,seconds,loss,train_accuracy,holdout_accuracy\n0,0,0,2.3,0.1,0.1\n100,100,1,abc,0.2,0.2\n");
    });
    EXPECT_NE(msg.find("log.csv line 3, column 4 (loss)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'abc' is not a number"), std::string::npos) << msg;
    EXPECT_TRUE(single_line(msg)) << msg;

    // a held-out value may be empty or nan, but not text
    const std::string msg2 = message_of<DataFormatError>([] {
        parse("step,loss,train_accuracy,holdout_accuracy\n0,2.3,0.1,n/a\n");
    });
    EXPECT_NE(msg2.find("line 2, column 4 (holdout_accuracy)"), std::string::npos) << msg2;

    // "1.5x", "--1" and a control character are not numbers either
    for (const std::string bad : {"1.5x", "--1", "+-1", "0x10", "1,5"}) {
        const std::string text = "step,loss,train_accuracy\n0," + bad + ",0.1\n";
        EXPECT_THROW(parse(text), DataFormatError) << bad;
    }
    const std::string msg3 = message_of<DataFormatError>([] { parse("step,loss,train_accuracy\n0,\x01,0.1\n"); });
    EXPECT_TRUE(single_line(msg3)) << msg3;
}

TEST(PlotParse, EmptyRequiredValueAndNonFiniteStepAreRefused) {
    const std::string msg = message_of<DataFormatError>([] { parse("step,loss,train_accuracy\n0,,0.1\n"); });
    EXPECT_NE(msg.find("line 2, column 2 (loss): empty value"), std::string::npos) << msg;
    const std::string msg2 = message_of<DataFormatError>([] { parse("step,loss,train_accuracy\nnan,1,0.1\n"); });
    EXPECT_NE(msg2.find("line 2, column 1 (step)"), std::string::npos) << msg2;
    const std::string msg3 = message_of<DataFormatError>([] { parse("step,loss,train_accuracy\n1e999,1,0.1\n"); });
    EXPECT_NE(msg3.find("out of range"), std::string::npos) << msg3;
}

TEST(PlotParse, HeaderOnlyIsRefused) {
    const std::string msg =
        message_of<DataFormatError>([] { parse("step,epoch,seconds,loss,train_accuracy,holdout_accuracy\n\n"); });
    EXPECT_NE(msg.find("no data rows"), std::string::npos) << msg;
    EXPECT_NE(msg.find("log.csv line 1"), std::string::npos) << msg;
}

TEST(PlotParse, WrongFieldCountAndDuplicateColumnsAreRefused) {
    const std::string msg = message_of<DataFormatError>([] { parse("step,loss,train_accuracy\n0,2.3,0.1\n1,2.2\n"); });
    EXPECT_NE(msg.find("log.csv line 3: 2 fields, but the header (line 1) has 3"), std::string::npos) << msg;
    const std::string msg2 = message_of<DataFormatError>([] { parse("step,loss,train_accuracy,loss\n0,1,0.1,1\n"); });
    EXPECT_NE(msg2.find("'loss' appears twice"), std::string::npos) << msg2;
}

// ---- formats -------------------------------------------------------------------------------

TEST(PlotFormat, ExtensionDecidesCaseInsensitively) {
    EXPECT_EQ(mnistnn::plot_format_for("a/curves.svg"), mnistnn::PlotFormat::Svg);
    EXPECT_EQ(mnistnn::plot_format_for("curves.SVG"), mnistnn::PlotFormat::Svg);
    EXPECT_EQ(mnistnn::plot_format_for("curves.Png"), mnistnn::PlotFormat::Png);
    for (const std::string bad : {"curves.jpg", "curves", "curves.svg.txt", "svg"}) {
        const std::string msg = message_of<UsageError>([&] { mnistnn::plot_format_for(bad); });
        EXPECT_NE(msg.find(".svg or .png"), std::string::npos) << msg;
    }
}

TEST(PlotFormat, UnsupportedExtensionWritesNothing) {
    TempDir dir;
    const LearningCurves c = mnistnn::read_learning_curves(fixture("curve.csv"));
    EXPECT_THROW(mnistnn::write_curves_plot(dir.file("curves.gif"), c, "t"), UsageError);
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// ---- SVG -----------------------------------------------------------------------------------

TEST(PlotSvg, FixtureIsWellFormedWithAxesLegendAndSeries) {
    TempDir dir;
    const std::string path = dir.file("curves.svg");
    mnistnn::write_curves_plot(path, mnistnn::read_learning_curves(fixture("curve.csv")), "Learning curves: curve.csv");
    expect_well_formed_svg(path);
    const std::string svg = read_text(path);

    EXPECT_NE(svg.find("font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""), std::string::npos);
    EXPECT_NE(svg.find(">Learning curves: curve.csv</text>"), std::string::npos);
    // axis titles: "step" under each panel, "loss" and "accuracy" beside them
    EXPECT_EQ(count_of(svg, ">step</text>"), 2);
    EXPECT_EQ(count_of(svg, ">loss</text>"), 1);
    EXPECT_EQ(count_of(svg, ">accuracy</text>"), 1);
    // legend entries
    for (const char* entry : {"training loss", "held-out loss", "training accuracy", "held-out accuracy"}) {
        EXPECT_EQ(count_of(svg, std::string(">") + entry + "</text>"), 1) << entry;
    }
    // one polyline per series, one vertex per row
    for (const char* id : {"training-loss", "held-out-loss", "training-accuracy", "held-out-accuracy"}) {
        EXPECT_EQ(polyline_points(svg, id), 11) << id;
    }
    // distinct colours: training blue, held-out orange and dashed
    EXPECT_NE(svg.find("id=\"training-loss\" fill=\"none\" stroke=\"#1f77b4\""), std::string::npos);
    EXPECT_NE(svg.find("id=\"held-out-loss\" fill=\"none\" stroke=\"#d95f02\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                       "stroke-dasharray"),
              std::string::npos);
    // nice ticks: steps 0, 200, ..., 1000; loss 0.0 .. 2.5 by 0.5; accuracy 0.0 .. 1.0 by 0.2
    for (const char* tick : {">0</text>", ">200</text>", ">1000</text>", ">2.5</text>", ">0.5</text>", ">0.2</text>",
                             ">1.0</text>"}) {
        EXPECT_NE(svg.find(tick), std::string::npos) << tick;
    }
    EXPECT_EQ(svg.find(">1200</text>"), std::string::npos);
    EXPECT_EQ(svg.find(">3.0</text>"), std::string::npos);
}

TEST(PlotSvg, WithoutHoldoutColumnsHasTwoSeries) {
    const std::string svg =
        mnistnn::render_curves_svg(mnistnn::read_learning_curves(fixture("curve_no_holdout.csv")), "no holdout");
    EXPECT_EQ(count_of(svg, "<polyline class=\"series\""), 2);
    EXPECT_EQ(polyline_points(svg, "training-loss"), 11);
    EXPECT_EQ(polyline_points(svg, "training-accuracy"), 11);
    EXPECT_EQ(polyline_points(svg, "held-out-loss"), -1);
    EXPECT_EQ(svg.find("held-out"), std::string::npos);
    EXPECT_EQ(svg.find("#d95f02"), std::string::npos);
}

TEST(PlotSvg, SinglePointDrawsAMarker) {
    TempDir dir;
    const std::string path = dir.file("one.svg");
    mnistnn::write_curves_plot(path, parse("step,loss,train_accuracy,holdout_accuracy\n0,2.3,0.1,\n"), "one");
    expect_well_formed_svg(path);
    const std::string svg = read_text(path);
    EXPECT_EQ(polyline_points(svg, "training-loss"), 1);
    EXPECT_EQ(polyline_points(svg, "training-accuracy"), 1);
    // a marker per point, plus one in each legend entry
    EXPECT_EQ(count_of(svg, "<circle"), 4);
}

TEST(PlotSvg, TitleIsEscapedAndNonUtf8Replaced) {
    TempDir dir;
    const std::string path = dir.file("t.svg");
    LearningCurves c = parse("step,loss,train_accuracy\n0,1,0.5\n1,0.5,0.7\n");
    mnistnn::write_curves_plot(path, c, "a<b & \"c\" 'd' \xff\x01 caf\xC3\xA9");
    expect_well_formed_svg(path);
    EXPECT_NE(read_text(path).find("a&lt;b &amp; &quot;c&quot; &apos;d&apos; ?? caf\xC3\xA9</text>"), std::string::npos);
}

TEST(PlotSvg, StepTicksAreWholeNumbersAndLabelsDoNotCrowd) {
    // Steps 0..7: a nice step must not be 0.5 or 2.5; values 0.41..0.43: ticks by 0.005.
    std::string text = "step,loss,train_accuracy\n";
    for (int i = 0; i <= 7; ++i) text += std::to_string(i) + ",0.4" + std::to_string(1 + i % 3) + ",0.9\n";
    const std::string svg = mnistnn::render_curves_svg(parse(text), "t");
    const std::regex x_label(R"re(text-anchor="middle" font-size="13">([^<]*)</text>)re");
    int labels = 0;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), x_label); it != std::sregex_iterator(); ++it) {
        const std::string label = (*it)[1];
        EXPECT_TRUE(std::regex_match(label, std::regex(R"(-?\d+)"))) << label;
        ++labels;
    }
    EXPECT_GE(labels, 2 * 3);  // both panels
    for (const char* tick : {">0.410</text>", ">0.415</text>", ">0.430</text>"}) {  // equal decimals
        EXPECT_NE(svg.find(tick), std::string::npos) << tick;
    }
}

TEST(PlotSvg, ManyPointsAreDrawnWithoutMarkers) {
    std::string text = "step,loss,train_accuracy,holdout_accuracy\n";
    for (int i = 0; i < 2000; ++i) {
        text += std::to_string(i * 10) + "," + std::to_string(2.0 / (1 + i)) + "," + std::to_string(i / 2000.0) + "," +
                (i % 10 == 0 ? std::to_string(i / 2100.0) : std::string("nan")) + "\n";
    }
    const std::string svg = mnistnn::render_curves_svg(parse(text), "big");
    EXPECT_EQ(polyline_points(svg, "training-loss"), 2000);
    EXPECT_EQ(polyline_points(svg, "held-out-accuracy"), 200);
    EXPECT_EQ(count_of(svg, "<circle"), 0);  // nor in the legend
    EXPECT_NE(svg.find(">20000</text>"), std::string::npos);
}

TEST(PlotSvg, VeryLongLogsAreThinnedButKeepSpikes) {
    // 30000 rows of loss 1 with one spike of 3: far more points than pixel columns.
    std::string text = "step,loss,train_accuracy\n";
    for (int i = 0; i < 30000; ++i) text += std::to_string(i) + (i == 12345 ? ",3" : ",1") + ",0.5\n";
    const std::string svg = mnistnn::render_curves_svg(parse(text), "long");
    const int points = polyline_points(svg, "training-loss");
    EXPECT_GT(points, 100);
    EXPECT_LE(points, 4 * mnistnn::kPlotWidth);
    // the y coordinates: the flat line's and the spike's
    const std::size_t at = svg.find("id=\"training-loss\"");
    const std::size_t start = svg.find("points=\"", at) + 8;
    std::istringstream pairs(svg.substr(start, svg.find('"', start) - start));
    std::vector<std::string> ys;
    std::string pair;
    while (pairs >> pair) ys.push_back(pair.substr(pair.find(',') + 1));
    std::sort(ys.begin(), ys.end());
    ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
    EXPECT_EQ(ys.size(), 2u);
}

// ---- PNG -----------------------------------------------------------------------------------

TEST(PlotPng, FixtureDecodesWithSeriesColours) {
    TempDir dir;
    const std::string path = dir.file("curves.png");
    mnistnn::write_curves_plot(path, mnistnn::read_learning_curves(fixture("curve.csv")), "Learning curves: curve.csv");
    const Decoded png = decode_png(read_text(path));
    EXPECT_EQ(png.width, mnistnn::kPlotWidth);
    EXPECT_EQ(png.height, mnistnn::kPlotHeight);
    const int total = png.width * png.height;
    const int background = png.count(mnistnn::kPlotBackground);
    EXPECT_GT(background, total / 2);  // mostly white ...
    EXPECT_LT(background, total * 98 / 100);  // ... but with plenty drawn on it
    EXPECT_GT(png.count(mnistnn::kPlotTrainingColour), 1000);
    EXPECT_GT(png.count(mnistnn::kPlotHoldoutColour), 500);
    EXPECT_GT(png.count(PlotRgb{34, 34, 34}), 1000);  // text
    // the corners are background
    EXPECT_EQ(png.rgb[0], 255);
    EXPECT_EQ(png.rgb[png.rgb.size() - 1], 255);
}

TEST(PlotPng, WithoutHoldoutHasNoHoldoutColour) {
    const Decoded png = decode_png(
        mnistnn::render_curves_png(mnistnn::read_learning_curves(fixture("curve_no_holdout.csv")), "no holdout"));
    EXPECT_GT(png.count(mnistnn::kPlotTrainingColour), 1000);
    EXPECT_EQ(png.count(mnistnn::kPlotHoldoutColour), 0);
}

TEST(PlotPng, SinglePointIsVisible) {
    const mnistnn::RgbImage image =
        mnistnn::render_curves_rgb(parse("step,loss,train_accuracy,holdout_loss\n500,0.7,0.8,0.9\n"), "one");
    ASSERT_EQ(image.pixels.size(), static_cast<std::size_t>(mnistnn::kPlotWidth * mnistnn::kPlotHeight * 3));
    Decoded d{image.width, image.height, image.pixels};
    EXPECT_GT(d.count(mnistnn::kPlotTrainingColour), 40);  // two markers + legend swatches
    EXPECT_GT(d.count(mnistnn::kPlotHoldoutColour), 20);
}

TEST(PlotPng, RasterMatchesPngEncoding) {
    const LearningCurves c = mnistnn::read_learning_curves(fixture("curve.csv"));
    const mnistnn::RgbImage raw = mnistnn::render_curves_rgb(c, "x");
    const Decoded png = decode_png(mnistnn::render_curves_png(c, "x"));
    EXPECT_EQ(png.rgb, raw.pixels);
}

// The text is drawn in a real font: anti-aliased (grey levels between the ink and the white
// background), shaped by its characters, and confined to where the layout puts it.
TEST(PlotPng, TextIsAntiAliasedGlyphs) {
    const LearningCurves c = mnistnn::read_learning_curves(fixture("curve.csv"));
    const mnistnn::RgbImage a = mnistnn::render_curves_rgb(c, "Learning curves: iiii.csv");
    const mnistnn::RgbImage b = mnistnn::render_curves_rgb(c, "Learning curves: WWWW.csv");
    constexpr int kTitleBand = 45;  // rows above the first panel's top tick label
    const std::size_t band_bytes = static_cast<std::size_t>(kTitleBand * mnistnn::kPlotWidth * 3);
    // Ink (34, 34, 34), partial ink (an equal grey strictly between 34 and 255), total coverage,
    // and pixels that are not grey at all.
    const auto ink = [&](const mnistnn::RgbImage& image) {
        std::array<double, 4> out{};
        for (std::size_t i = 0; i < band_bytes; i += 3) {
            const int r = image.pixels[i], g = image.pixels[i + 1], bl = image.pixels[i + 2];
            if (r != g || g != bl) out[3] += 1;
            if (r == 34) out[0] += 1;
            if (r > 34 && r < 255) out[1] += 1;
            out[2] += (255 - r) / 221.0;
        }
        return out;
    };
    const auto narrow = ink(a);
    const auto wide = ink(b);
    EXPECT_EQ(narrow[3], 0);
    EXPECT_EQ(wide[3], 0);
    EXPECT_GT(narrow[0], 100);
    EXPECT_GT(narrow[1], 200);  // anti-aliased edges
    EXPECT_GT(wide[1], 200);
    EXPECT_GT(wide[2], narrow[2] + 50);  // "WWWW" carries more ink than "iiii"
    // Only the title differs.
    EXPECT_NE(std::vector<std::uint8_t>(a.pixels.begin(), a.pixels.begin() + static_cast<std::ptrdiff_t>(band_bytes)),
              std::vector<std::uint8_t>(b.pixels.begin(), b.pixels.begin() + static_cast<std::ptrdiff_t>(band_bytes)));
    EXPECT_TRUE(std::equal(a.pixels.begin() + static_cast<std::ptrdiff_t>(band_bytes), a.pixels.end(),
                           b.pixels.begin() + static_cast<std::ptrdiff_t>(band_bytes)));
}

TEST(PlotPng, OddTitlesAndValuesDoNotCrash) {
    std::string title(500, 'W');
    title += "\xff\xfe\x01\xE2\x82\xAC";
    const LearningCurves all_zero = parse("step,loss,train_accuracy\n0,0,0\n0,0,0\n");
    const LearningCurves huge = parse("step,loss,train_accuracy\n-5,1e30,1\n1e12,-1e30,100\n");
    const LearningCurves all_nan = parse("step,loss,train_accuracy\n1,nan,inf\n");
    for (const LearningCurves* c : {&all_zero, &huge, &all_nan}) {
        EXPECT_EQ(decode_png(mnistnn::render_curves_png(*c, title)).width, mnistnn::kPlotWidth);
        EXPECT_NE(mnistnn::render_curves_svg(*c, title).find("</svg>"), std::string::npos);
    }
}

// ---- command line --------------------------------------------------------------------------

TEST(PlotCli, WritesSvg) {
    TempDir dir;
    const auto r = run_cli("plot '" + fixture("curve.csv") + "' --out curves.svg", dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("wrote curves.svg (11 rows)"), std::string::npos) << r.err;
    expect_well_formed_svg(dir.file("curves.svg"));
    EXPECT_NE(read_text(dir.file("curves.svg")).find(">Learning curves: curve.csv</text>"), std::string::npos);
}

TEST(PlotCli, WritesPng) {
    TempDir dir;
    const auto r = run_cli("plot --out curves.PNG '" + fixture("curve_no_holdout.csv") + "'", dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("no held-out values"), std::string::npos) << r.err;
    const Decoded png = decode_png(read_text(dir.file("curves.PNG")));
    EXPECT_EQ(png.width, mnistnn::kPlotWidth);
    EXPECT_EQ(png.height, mnistnn::kPlotHeight);
}

TEST(PlotCli, BadValueFailsWithOneLineAndKeepsExistingOutput) {
    TempDir dir;
    write_text(dir.file("log.csv"), "step,loss,train_accuracy\n0,2.3,0.1\n1,2.2,zero\n");
    write_text(dir.file("curves.svg"), "keep");
    const auto r = run_cli("plot log.csv --out curves.svg", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "mnistnn: error: 'log.csv' line 3, column 3 (train_accuracy): 'zero' is not a number\n");
    EXPECT_EQ(read_text(dir.file("curves.svg")), "keep");
}

TEST(PlotCli, UsageErrors) {
    TempDir dir;
    const std::string in = "'" + fixture("curve.csv") + "'";
    auto r = run_cli("plot " + in + " --out curves.jpg", dir.path());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("use .svg or .png"), std::string::npos) << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

    r = run_cli("plot " + in, dir.path());  // --out is required
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("--out"), std::string::npos) << r.err;

    r = run_cli("plot missing.csv --out x.svg", dir.path());  // FILE must exist
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("missing.csv"), std::string::npos) << r.err;

    r = run_cli("plot " + in + " --out nofolder/x.svg", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
