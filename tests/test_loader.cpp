// Tests of the CSV/IDX loader: known values, accepted variants (CRLF, BOM, gzip, missing final
// newline, trailing empty lines), one test per kind of malformed input, and IDX round trips.
#include "mnistnn/loader.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

using test::read_text;
using test::TempDir;
using test::write_text;

// ---- building inputs -------------------------------------------------------------------

std::string csv_header(bool labelled, const std::string& eol = "\n") {
    std::string h = labelled ? "label" : "";
    for (int i = 0; i < kPixels; ++i) {
        if (!h.empty()) h += ',';
        h += "pixel" + std::to_string(i);
    }
    return h + eol;
}

// One data row; label < 0 means unlabelled.
std::string csv_row(int label, const std::vector<int>& pixels, const std::string& eol = "\n") {
    std::string r = label >= 0 ? std::to_string(label) : "";
    for (int v : pixels) {
        if (!r.empty() || label >= 0) r += ',';
        r += std::to_string(v);
    }
    if (label < 0 && !r.empty() && r[0] == ',') r.erase(0, 1);
    return r + eol;
}

std::vector<int> zeros() { return std::vector<int>(kPixels, 0); }

// The three rows of the known-values fixture.
struct Known {
    int label;
    std::vector<int> pixels;
};

std::vector<Known> known_rows() {
    std::vector<Known> rows(3);
    rows[0] = {7, zeros()};
    rows[0].pixels[0] = 1;
    rows[0].pixels[1] = 22;
    rows[0].pixels[400] = 255;
    rows[0].pixels[783] = 9;
    rows[1] = {0, zeros()};
    rows[1].pixels[100] = 17;
    rows[1].pixels[783] = 128;
    rows[2] = {9, zeros()};
    for (int i = 0; i < kPixels; ++i) rows[2].pixels[static_cast<std::size_t>(i)] = (i * 7) % 256;
    return rows;
}

std::string known_csv(bool labelled = true, const std::string& eol = "\n") {
    std::string text = csv_header(labelled, eol);
    for (const Known& k : known_rows()) text += csv_row(labelled ? k.label : -1, k.pixels, eol);
    return text;
}

// A labelled CSV whose row 1 (file line 2) has field `col` (1-based) replaced by `field`.
std::string csv_with_field(int col, const std::string& field) {
    std::string row = "5";
    for (int i = 0; i < kPixels; ++i) row += ",0";
    std::size_t start = 0;
    for (int c = 1; c < col; ++c) start = row.find(',', start) + 1;
    const std::size_t end = std::min(row.find(',', start), row.size());
    row.replace(start, end - start, field);
    return csv_header(true) + row + "\n" + csv_row(1, zeros());
}

void write_gzip(const std::string& path, const std::string& content) {
    gzFile gz = gzopen(path.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, content.data(), static_cast<unsigned>(content.size())),
              static_cast<int>(content.size()));
    ASSERT_EQ(gzclose(gz), Z_OK);
}

std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
            static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

std::string idx_images(std::uint32_t n, const std::vector<std::uint8_t>& pixels, std::uint32_t rows = 28,
                       std::uint32_t cols = 28) {
    return std::string("\x00\x00\x08\x03", 4) + be32(n) + be32(rows) + be32(cols) +
           std::string(pixels.begin(), pixels.end());
}

std::string idx_labels(std::uint32_t n, const std::vector<std::uint8_t>& labels) {
    return std::string("\x00\x00\x08\x01", 4) + be32(n) + std::string(labels.begin(), labels.end());
}

// Three images with distinct bytes, and their labels.
std::vector<std::uint8_t> idx_pixels() {
    std::vector<std::uint8_t> px(3 * kPixels);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 31 + 5) % 256);
    return px;
}
const std::vector<std::uint8_t> kIdxLabels{3, 0, 9};

// ---- checking errors -------------------------------------------------------------------

// The message of the E thrown by `f`; records a failure if nothing or something else is thrown.
template <class E>
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw the wrong type of exception: " << e.what();
        return {};
    }
    ADD_FAILURE() << "threw nothing";
    return {};
}

void expect_contains(const std::string& message, std::initializer_list<std::string> parts) {
    for (const std::string& part : parts) {
        EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nlacks: " << part;
    }
}

std::string csv_error(const std::string& path, const std::string& content) {
    write_text(path, content);
    return error_of<DataFormatError>([&] { load_csv(path); });
}

void expect_same(const Images& a, const Images& b) {
    EXPECT_EQ(a.rows, b.rows);
    EXPECT_EQ(a.labels, b.labels);
    EXPECT_TRUE(a.pixels == b.pixels) << "pixels differ";
}

// ---- valid input -----------------------------------------------------------------------

TEST(LoadCsv, KnownValuesLandAtTheirOffsets) {
    TempDir dir;
    write_text(dir.file("k.csv"), known_csv());
    const Images img = load_csv(dir.file("k.csv"));
    ASSERT_EQ(img.rows, 3u);
    ASSERT_EQ(img.pixels.size(), 3u * kPixels);
    EXPECT_EQ(img.labels, (std::vector<std::uint8_t>{7, 0, 9}));
    EXPECT_EQ(img.pixels[0], 1);
    EXPECT_EQ(img.pixels[1], 22);
    EXPECT_EQ(img.pixels[2], 0);
    EXPECT_EQ(img.pixels[400], 255);
    EXPECT_EQ(img.pixels[783], 9);
    EXPECT_EQ(img.pixels[kPixels + 100], 17);
    EXPECT_EQ(img.pixels[kPixels + 783], 128);
    EXPECT_EQ(img.sample(1)[783], 128);
    for (int i = 0; i < kPixels; ++i) ASSERT_EQ(img.sample(2)[i], (i * 7) % 256) << "pixel " << i;
}

TEST(LoadCsv, UnlabelledLayout) {
    TempDir dir;
    write_text(dir.file("u.csv"), known_csv(false));
    const Images img = load_csv(dir.file("u.csv"));
    EXPECT_EQ(img.rows, 3u);
    EXPECT_FALSE(img.has_labels());
    EXPECT_EQ(img.pixels.size(), 3u * kPixels);
    EXPECT_EQ(img.pixels[1], 22);
    EXPECT_EQ(img.sample(1)[100], 17);
}

TEST(LoadCsv, CrlfBomAndMissingFinalNewlineGiveTheSameImages) {
    TempDir dir;
    write_text(dir.file("lf.csv"), known_csv());
    const Images expected = load_csv(dir.file("lf.csv"));

    std::string no_final = known_csv();
    no_final.pop_back();
    write_text(dir.file("nofinal.csv"), no_final);
    expect_same(load_csv(dir.file("nofinal.csv")), expected);

    write_text(dir.file("crlf.csv"), known_csv(true, "\r\n"));
    expect_same(load_csv(dir.file("crlf.csv")), expected);

    write_text(dir.file("bom.csv"), "\xEF\xBB\xBF" + known_csv());
    expect_same(load_csv(dir.file("bom.csv")), expected);

    std::string all = "\xEF\xBB\xBF" + known_csv(true, "\r\n");
    all.resize(all.size() - 2);  // CRLF file without its final CRLF
    write_text(dir.file("all.csv"), all);
    expect_same(load_csv(dir.file("all.csv")), expected);

    std::string cr_end = known_csv(true, "\r\n");
    cr_end.pop_back();  // ends in a CR whose LF is missing
    write_text(dir.file("crend.csv"), cr_end);
    expect_same(load_csv(dir.file("crend.csv")), expected);
}

TEST(LoadCsv, TrailingEmptyLinesAreIgnored) {
    TempDir dir;
    write_text(dir.file("a.csv"), known_csv());
    const Images expected = load_csv(dir.file("a.csv"));
    write_text(dir.file("b.csv"), known_csv() + "\n\n\n");
    expect_same(load_csv(dir.file("b.csv")), expected);
    write_text(dir.file("c.csv"), known_csv(true, "\r\n") + "\r\n\r\n");
    expect_same(load_csv(dir.file("c.csv")), expected);
}

TEST(LoadCsv, LeadingZerosAreStillIntegers) {
    TempDir dir;
    const Images img = [&] {
        write_text(dir.file("z.csv"), csv_with_field(46, "0255"));
        return load_csv(dir.file("z.csv"));
    }();
    EXPECT_EQ(img.pixels[44], 255);
}

TEST(LoadCsv, GzipGivesTheSameImagesWhateverTheName) {
    TempDir dir;
    write_text(dir.file("plain.csv"), known_csv());
    write_gzip(dir.file("packed.csv.gz"), known_csv());
    write_gzip(dir.file("misnamed.csv"), known_csv(true, "\r\n"));
    const Images expected = load_csv(dir.file("plain.csv"));
    expect_same(load_csv(dir.file("packed.csv.gz")), expected);
    expect_same(load_csv(dir.file("misnamed.csv")), expected);
}

// Bigger than LineReader's 32 MiB first read, so rows straddle its 16 MiB block shifts.
TEST(LoadCsv, LargeFileRoundTripsThroughWriteCsv) {
    constexpr std::size_t kRows = 16000;
    Images big;
    big.rows = kRows;
    big.pixels.resize(kRows * kPixels);
    big.labels.resize(kRows);
    std::uint32_t state = 12345;
    for (auto& v : big.pixels) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<std::uint8_t>(state >> 24);
    }
    for (std::size_t i = 0; i < kRows; ++i) big.labels[i] = static_cast<std::uint8_t>(i % 10);
    TempDir dir;
    {
        std::ostringstream out;
        write_csv(big, out);
        ASSERT_GT(out.str().size(), std::size_t{40} << 20);
        write_text(dir.file("big.csv"), out.str());
    }
    expect_same(load_csv(dir.file("big.csv")), big);
}

// ---- write_csv -------------------------------------------------------------------------

TEST(WriteCsv, WritesHeaderAndRowsWithLf) {
    Images img;
    img.rows = 2;
    img.pixels.assign(2 * kPixels, 0);
    img.pixels[0] = 255;
    img.pixels[kPixels + 783] = 7;
    img.labels = {3, 9};
    std::ostringstream out;
    write_csv(img, out);
    std::vector<int> r0 = zeros(), r1 = zeros();
    r0[0] = 255;
    r1[783] = 7;
    EXPECT_EQ(out.str(), csv_header(true) + csv_row(3, r0) + csv_row(9, r1));

    img.labels.clear();
    std::ostringstream unlabelled;
    write_csv(img, unlabelled);
    EXPECT_EQ(unlabelled.str(), csv_header(false) + csv_row(-1, r0) + csv_row(-1, r1));
}

TEST(WriteCsv, RejectsInconsistentImages) {
    Images img;
    img.rows = 2;
    img.pixels.assign(kPixels, 0);
    std::ostringstream out;
    EXPECT_THROW(write_csv(img, out), UsageError);
}

// ---- malformed CSV: each names file, line, column, what was expected and found ---------

TEST(CsvErrors, EmptyFile) {
    TempDir dir;
    const std::string path = dir.file("empty.csv");
    expect_contains(csv_error(path, ""), {path + ":1:1",
                                          "expected header 'label,pixel0,...,pixel783' or "
                                          "'pixel0,...,pixel783'",
                                          "found an empty file"});
}

TEST(CsvErrors, HeaderOnly) {
    TempDir dir;
    const std::string path = dir.file("h.csv");
    expect_contains(csv_error(path, csv_header(true)),
                    {path + ":2:1 (label)", "expected a data row", "no data rows"});
    expect_contains(csv_error(path, csv_header(false) + "\n\n"), {path + ":4:1 (pixel0)", "no data rows"});
}

TEST(CsvErrors, HeaderOfNeitherLayout) {
    TempDir dir;
    const std::string path = dir.file("h.csv");
    expect_contains(csv_error(path, "a,b,c\n1,2,3\n"),
                    {path + ":1:1 (label)",
                     "expected header 'label,pixel0,...,pixel783' or 'pixel0,...,pixel783', found 'a,b,c'"});
    std::string typo = csv_header(true);
    typo.replace(typo.find("pixel44,"), 8, "pixel45,");
    expect_contains(csv_error(path, typo + csv_row(1, zeros())),
                    {path + ":1:46 (pixel44)", "found 'pixel45,pixel45,"});
    std::string short_header = csv_header(true);
    short_header.resize(short_header.find(",pixel783"));
    expect_contains(csv_error(path, short_header + "\n" + csv_row(1, zeros())),
                    {path + ":1:785 (pixel783)", "found end of line after 784 fields"});
    expect_contains(csv_error(path, csv_row(1, zeros()) + csv_row(2, zeros())),
                    {path + ":1:1 (label)", "found '1,0,0,", "no header row"});
}

TEST(CsvErrors, TooFewFields) {
    TempDir dir;
    const std::string path = dir.file("few.csv");
    std::string row = "5";
    for (int i = 0; i < 99; ++i) row += ",0";
    expect_contains(csv_error(path, csv_header(true) + row + "\n" + csv_row(1, zeros())),
                    {path + ":2:101 (pixel99)", "expected 785 fields, found only 100"});
}

TEST(CsvErrors, TooManyFields) {
    TempDir dir;
    const std::string path = dir.file("many.csv");
    std::string row = csv_row(1, zeros(), "");
    expect_contains(csv_error(path, csv_header(true) + row + ",0,x\n"),
                    {path + ":2:786 (after pixel783)", "expected 785 fields, found 787", "'0,x'"});
    expect_contains(csv_error(path, csv_header(false) + csv_row(1, zeros())),
                    {path + ":2:785 (after pixel783)", "expected 784 fields, found 785"});
}

TEST(CsvErrors, EmptyField) {
    TempDir dir;
    const std::string path = dir.file("e.csv");
    expect_contains(csv_error(path, csv_with_field(46, "")),
                    {path + ":2:46 (pixel44)", "expected an integer 0-255, found an empty field"});
    expect_contains(csv_error(path, csv_with_field(785, "")),
                    {path + ":2:785 (pixel783)", "found an empty field"});
}

TEST(CsvErrors, NotANumber) {
    TempDir dir;
    const std::string path = dir.file("n.csv");
    expect_contains(csv_error(path, csv_with_field(46, "abc")),
                    {path + ":2:46 (pixel44): expected an integer 0-255, found 'abc'"});
    expect_contains(csv_error(path, csv_with_field(3, " 5")), {path + ":2:3 (pixel1)", "found ' 5'"});
    expect_contains(csv_error(path, csv_with_field(3, "5 ")), {path + ":2:3 (pixel1)", "found '5 '"});
    // Bytes just above '9' must not pass the digit test.
    expect_contains(csv_error(path, csv_with_field(1, ":")), {path + ":2:1 (label)", "found ':'"});
    expect_contains(csv_error(path, csv_with_field(2, "1:")), {path + ":2:2 (pixel0)", "found '1:'"});
}

TEST(CsvErrors, NegativePixel) {
    TempDir dir;
    const std::string path = dir.file("neg.csv");
    expect_contains(csv_error(path, csv_with_field(46, "-1")),
                    {path + ":2:46 (pixel44): expected an integer 0-255, found '-1'"});
}

TEST(CsvErrors, PixelAbove255) {
    TempDir dir;
    const std::string path = dir.file("big.csv");
    expect_contains(csv_error(path, csv_with_field(46, "256")),
                    {path + ":2:46 (pixel44): expected an integer 0-255, found '256'"});
    expect_contains(csv_error(path, csv_with_field(785, "99999999999999999999999")),
                    {path + ":2:785 (pixel783)", "found '99999999999999999999...'"});
}

TEST(CsvErrors, LabelOutside0To9) {
    TempDir dir;
    const std::string path = dir.file("l.csv");
    expect_contains(csv_error(path, csv_with_field(1, "10")),
                    {path + ":2:1 (label): expected an integer 0-9, found '10'"});
    expect_contains(csv_error(path, csv_with_field(1, "-3")), {path + ":2:1 (label)", "found '-3'"});
}

TEST(CsvErrors, FloatInIntegerField) {
    TempDir dir;
    const std::string path = dir.file("f.csv");
    expect_contains(csv_error(path, csv_with_field(46, "3.5")),
                    {path + ":2:46 (pixel44): expected an integer 0-255, found '3.5'"});
    expect_contains(csv_error(path, csv_with_field(1, "3.0")), {path + ":2:1 (label)", "found '3.0'"});
}

TEST(CsvErrors, CrOnlyLineEnds) {
    TempDir dir;
    const std::string path = dir.file("mac.csv");
    expect_contains(csv_error(path, known_csv(true, "\r")),
                    {path + ":1:785 (pixel783)", "expected LF or CRLF line ends",
                     "found a lone carriage return", "'2,pixel783\\r7,1,22,0,...'"});
    // A stray CR later in the file (mixed line ends) is caught where it is.
    const std::string mixed = csv_header(true) + csv_row(1, zeros(), "\r") + csv_row(2, zeros());
    expect_contains(csv_error(path, mixed),
                    {path + ":2:785 (pixel783)", "found '0\\r2'", "carriage return inside the line"});
}

TEST(CsvErrors, EmbeddedNulBytes) {
    TempDir dir;
    const std::string path = dir.file("nul.csv");
    const std::string head = csv_header(true) + csv_row(1, zeros());
    expect_contains(csv_error(path, head + std::string("3,0,12\0,0\n", 10) + csv_row(2, zeros())),
                    {path + ":3:3 (pixel1)", "expected an integer 0-255, found '12\\x00,0\\n", "NUL byte"});
    // Right after a complete row: LineReader's C strings alone would hide it.
    std::string after_row = head;
    after_row.insert(after_row.size() - 1, std::string("\0\0", 2));
    expect_contains(csv_error(path, after_row),
                    {path + ":2:785 (pixel783)", "expected end of line", "'\\x00\\x00\\n'"});
    // At the start of a line, where it would look like a harmless trailing empty line.
    expect_contains(csv_error(path, head + std::string("\0\n", 2)),
                    {path + ":3:1 (label)", "'\\x00\\n'", "NUL byte"});
    // Right after the header, and at the very start of the file.
    std::string after_header = csv_header(true);
    after_header.insert(after_header.size() - 1, std::string("\0", 1));
    expect_contains(csv_error(path, after_header + csv_row(1, zeros())),
                    {path + ":1:785 (pixel783)", "expected end of line, found '\\x00\\n1,0,", "NUL byte"});
    expect_contains(csv_error(path, std::string("\0\0\0\0label", 9)),
                    {path + ":1:1", "expected header", "found '\\x00\\x00\\x00\\x00label'", "NUL byte"});
    // In the header.
    expect_contains(csv_error(path, std::string("label,pix\0el0\n", 14) + csv_row(1, zeros())),
                    {path + ":1:2 (pixel0)", "found 'pix\\x00el0\\n1,0,", "NUL byte"});
}

// Past LineReader's first 32 MiB, where its read-ahead thread delivers the data.
TEST(CsvErrors, NulFarIntoALargeFile) {
    TempDir dir;
    const std::string path = dir.file("nul.csv");
    constexpr std::size_t kRows = 25000;
    const std::string row = csv_row(1, zeros());
    std::string text = csv_header(true);
    text.reserve(text.size() + (kRows + 2) * row.size());
    for (std::size_t i = 0; i < kRows; ++i) text += row;
    ASSERT_GT(text.size(), std::size_t{32} << 20);
    std::string bad = row;
    bad[bad.size() / 2] = '\0';
    expect_contains(csv_error(path, text + bad + row),
                    {path + ":" + std::to_string(kRows + 2) + ":", "\\x00", "NUL byte"});
}

TEST(CsvErrors, TenMegabyteLine) {
    TempDir dir;
    const std::string path = dir.file("long.csv");
    std::string fields;
    while (fields.size() < (std::size_t{10} << 20)) fields += "1,";
    expect_contains(csv_error(path, csv_header(true) + fields + "1\n"),
                    {path + ":2:786 (after pixel783)", "expected 785 fields, found 5242881"});
    expect_contains(csv_error(path, csv_header(true) + std::string(std::size_t{10} << 20, '7') + "\n"),
                    {path + ":2:1 (label)", "found '77777777777777777777...'"});
    // Beyond LineReader's 16 MiB line limit.
    expect_contains(csv_error(path, csv_header(true) + std::string(std::size_t{17} << 20, '7') + "\n"),
                    {path + ":2:", "longer than 16 MiB"});
}

TEST(CsvErrors, BinaryContent) {
    TempDir dir;
    const std::string path = dir.file("img.csv");
    constexpr char kPng[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x1c\0\0\0\x1c\x08\0\0\0\0";
    const std::string png(kPng, sizeof kPng - 1);
    expect_contains(csv_error(path, png), {path + ":1:1", "found '\\x89PNG\\r\\n\\x1a\\n\\x00", "PNG image"});
    const std::string idx = idx_images(3, idx_pixels());
    expect_contains(csv_error(path, idx), {path + ":1:1", "found '\\x00\\x00\\x08\\x03",
                                           "this looks like an IDX file", "load_idx"});
    expect_contains(csv_error(path, std::string("PK\x03\x04\x14\0\0\0", 8)), {path + ":1:1", "ZIP archive"});
    expect_contains(csv_error(path, "\x01\x02\x7f\x03,\x04\n1,2\n"),
                    {path + ":1:1 (label)", "'\\x01\\x02\\x7f", "binary"});
}

TEST(CsvErrors, RowTruncatedAtEndOfFile) {
    TempDir dir;
    const std::string path = dir.file("cut.csv");
    expect_contains(csv_error(path, known_csv() + "5,0,0,0"),
                    {path + ":5:5 (pixel3)", "expected 785 fields, found only 4", "is the file truncated?"});
    // Cut right after a comma: the empty field is the last one.
    expect_contains(csv_error(path, known_csv() + "5,0,"),
                    {path + ":5:3 (pixel1)", "found an empty field", "truncated"});
    // The same row with its newline is merely short, not truncated.
    const std::string msg = csv_error(path, known_csv() + "5,0,0,0\n");
    expect_contains(msg, {path + ":5:5 (pixel3)", "found only 4"});
    EXPECT_EQ(msg.find("truncated"), std::string::npos) << msg;
}

TEST(CsvErrors, EmptyLineBeforeMoreData) {
    TempDir dir;
    const std::string path = dir.file("gap.csv");
    expect_contains(csv_error(path, csv_header(true) + csv_row(1, zeros()) + "\n" + csv_row(2, zeros())),
                    {path + ":3:1 (label)", "expected a data row, found an empty line"});
}

TEST(CsvErrors, TruncatedGzip) {
    TempDir dir;
    write_gzip(dir.file("full.gz"), known_csv());
    std::string packed = read_text(dir.file("full.gz"));
    packed.resize(packed.size() / 2);
    const std::string path = dir.file("cut.csv.gz");
    expect_contains(csv_error(path, packed), {path, "gzip", "truncated"});
}

TEST(CsvIoErrors, MissingFile) {
    TempDir dir;
    const std::string path = dir.file("nope.csv");
    expect_contains(error_of<IoError>([&] { load_csv(path); }), {path, "No such file or directory"});
}

TEST(CsvIoErrors, Directory) {
    TempDir dir;
    expect_contains(error_of<IoError>([&] { load_csv(dir.path()); }), {dir.path(), "Is a directory"});
}

TEST(CsvIoErrors, Unreadable) {
    // Root reads any file, so as root the check runs in a child that drops to user "nobody".
    TempDir dir;
    ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
    const std::string path = dir.file("secret.csv");
    write_text(path, known_csv());
    ASSERT_EQ(::chmod(path.c_str(), 0), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        constexpr uid_t kNobody = 65534;
        if (::geteuid() == 0 && (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) ::_exit(3);
        try {
            load_csv(path);
            ::_exit(1);  // read despite mode 000
        } catch (const IoError& e) {
            const std::string msg = e.what();
            ::_exit(msg.find(path) != std::string::npos && msg.find("Permission denied") != std::string::npos ? 0 : 2);
        } catch (...) {
            ::_exit(4);
        }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: file was read; 2: message lacks path or 'Permission denied'; "
                                         "3: could not drop privileges; 4: wrong exception type";
}

// ---- IDX -------------------------------------------------------------------------------

TEST(LoadIdx, ReadsImagesAndLabels) {
    TempDir dir;
    write_text(dir.file("img"), idx_images(3, idx_pixels()));
    write_text(dir.file("lab"), idx_labels(3, kIdxLabels));
    const Images img = load_idx(dir.file("img"), dir.file("lab"));
    EXPECT_EQ(img.rows, 3u);
    EXPECT_EQ(img.pixels, idx_pixels());
    EXPECT_EQ(img.labels, kIdxLabels);
    const Images unlabelled = load_idx(dir.file("img"), "");
    EXPECT_EQ(unlabelled.rows, 3u);
    EXPECT_FALSE(unlabelled.has_labels());
    EXPECT_EQ(unlabelled.pixels, idx_pixels());
}

TEST(LoadIdx, GzipAndRoundTripThroughCsv) {
    TempDir dir;
    write_text(dir.file("img"), idx_images(3, idx_pixels()));
    write_text(dir.file("lab"), idx_labels(3, kIdxLabels));
    write_gzip(dir.file("img.gz"), idx_images(3, idx_pixels()));
    write_gzip(dir.file("lab.gz"), idx_labels(3, kIdxLabels));
    const Images raw = load_idx(dir.file("img"), dir.file("lab"));
    expect_same(load_idx(dir.file("img.gz"), dir.file("lab.gz")), raw);

    std::ostringstream out;
    write_csv(raw, out);
    write_text(dir.file("rt.csv"), out.str());
    expect_same(load_csv(dir.file("rt.csv")), raw);
}

TEST(LoadIdx, BadMagic) {
    TempDir dir;
    write_text(dir.file("img"), std::string("\x00\x00\x08\x02", 4) + idx_images(3, idx_pixels()).substr(4));
    write_text(dir.file("lab"), idx_labels(3, kIdxLabels));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("img"), ""); }),
                    {dir.file("img"), "expected IDX image magic 00 00 08 03, found 00 00 08 02"});
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("lab"), ""); }),
                    {dir.file("lab"), "found 00 00 08 01", "swapped"});
    write_text(dir.file("csv"), known_csv());
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("csv"), ""); }),
                    {dir.file("csv"), "looks like a CSV file"});
}

TEST(LoadIdx, TruncatedOrOversized) {
    TempDir dir;
    std::string img = idx_images(3, idx_pixels());
    write_text(dir.file("cut"), img.substr(0, img.size() - 1));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("cut"), ""); }),
                    {dir.file("cut"), "expected 2368 bytes", "found 2367", "truncated"});
    write_text(dir.file("long"), img + "x");
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("long"), ""); }),
                    {dir.file("long"), "found 2369", "trailing bytes"});
    write_text(dir.file("header"), img.substr(0, 10));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("header"), ""); }),
                    {dir.file("header"), "16-byte IDX image header, found only 10 bytes"});
    // A huge count in a small file is refused from the sizes, before allocating.
    write_text(dir.file("huge"), idx_images(0xffffffffu, idx_pixels()));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("huge"), ""); }),
                    {dir.file("huge"), "expected 3367254359296 bytes", "truncated"});
    write_gzip(dir.file("huge.gz"), idx_images(0xffffffffu, idx_pixels()));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("huge.gz"), ""); }),
                    {dir.file("huge.gz"), "found only 2368", "truncated"});
    write_gzip(dir.file("long.gz"), img + "x");
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("long.gz"), ""); }),
                    {dir.file("long.gz"), "trailing bytes"});
}

TEST(LoadIdx, WrongDimensionsOrNoImages) {
    TempDir dir;
    write_text(dir.file("img"), idx_images(1, std::vector<std::uint8_t>(32 * 32), 32, 32));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("img"), ""); }),
                    {dir.file("img"), "expected 28x28 images, found 32x32"});
    write_text(dir.file("none"), idx_images(0, {}));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("none"), ""); }),
                    {dir.file("none"), "found a count of 0"});
}

TEST(LoadIdx, LabelCountMismatch) {
    TempDir dir;
    write_text(dir.file("img"), idx_images(3, idx_pixels()));
    write_text(dir.file("lab"), idx_labels(2, {1, 2}));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("img"), dir.file("lab")); }),
                    {dir.file("lab"), "expected 3 labels", "found 2"});
}

TEST(LoadIdx, LabelAbove9) {
    TempDir dir;
    write_text(dir.file("img"), idx_images(3, idx_pixels()));
    write_text(dir.file("lab"), idx_labels(3, {1, 12, 2}));
    expect_contains(error_of<DataFormatError>([&] { load_idx(dir.file("img"), dir.file("lab")); }),
                    {dir.file("lab"), "label 1 (byte offset 9): expected 0-9, found 12"});
}

TEST(LoadIdx, MissingFile) {
    TempDir dir;
    write_text(dir.file("img"), idx_images(3, idx_pixels()));
    expect_contains(error_of<IoError>([&] { load_idx(dir.file("img"), dir.file("nope")); }),
                    {dir.file("nope"), "No such file or directory"});
}

// ---- load_images -----------------------------------------------------------------------

TEST(LoadImages, DispatchesByContentNotName) {
    TempDir dir;
    write_text(dir.file("data.csv"), idx_images(3, idx_pixels()));  // IDX despite the name
    write_gzip(dir.file("data.idx"), known_csv());                  // gzip CSV despite the name
    write_gzip(dir.file("img.bin"), idx_images(3, idx_pixels()));
    write_text(dir.file("lab"), idx_labels(3, kIdxLabels));

    const Images idx = load_images(dir.file("data.csv"), dir.file("lab"));
    EXPECT_EQ(idx.pixels, idx_pixels());
    EXPECT_EQ(idx.labels, kIdxLabels);
    expect_same(load_images(dir.file("img.bin"), dir.file("lab")), idx);
    EXPECT_FALSE(load_images(dir.file("data.csv")).has_labels());

    const Images csv = load_images(dir.file("data.idx"));
    EXPECT_EQ(csv.rows, 3u);
    EXPECT_EQ(csv.labels, (std::vector<std::uint8_t>{7, 0, 9}));
}

TEST(DataFileKind, FromTheFirstBytesRawOrGzip) {
    TempDir dir;
    write_text(dir.file("img.csv"), idx_images(3, idx_pixels()));  // the name does not count
    write_gzip(dir.file("img.gz"), idx_images(3, idx_pixels()));
    write_text(dir.file("lab"), idx_labels(3, kIdxLabels));
    write_gzip(dir.file("lab.gz"), idx_labels(3, kIdxLabels));
    write_gzip(dir.file("a.idx"), known_csv());
    write_text(dir.file("short"), std::string("\x00\x00\x08", 3));  // shorter than a magic
    write_text(dir.file("empty"), "");
    EXPECT_EQ(data_file_kind(dir.file("img.csv")), DataFileKind::IdxImages);
    EXPECT_EQ(data_file_kind(dir.file("img.gz")), DataFileKind::IdxImages);
    EXPECT_EQ(data_file_kind(dir.file("lab")), DataFileKind::IdxLabels);
    EXPECT_EQ(data_file_kind(dir.file("lab.gz")), DataFileKind::IdxLabels);
    EXPECT_EQ(data_file_kind(dir.file("a.idx")), DataFileKind::Csv);
    EXPECT_EQ(data_file_kind(dir.file("short")), DataFileKind::Csv);
    EXPECT_EQ(data_file_kind(dir.file("empty")), DataFileKind::Csv);
    expect_contains(error_of<IoError>([&] { data_file_kind(dir.file("nope")); }), {dir.file("nope"), "No such file"});
}

TEST(LoadImages, RejectsMismatchedInputs) {
    TempDir dir;
    write_text(dir.file("a.csv"), known_csv());
    write_text(dir.file("lab"), idx_labels(3, kIdxLabels));
    expect_contains(error_of<UsageError>([&] { load_images(dir.file("a.csv"), dir.file("lab")); }),
                    {dir.file("lab"), dir.file("a.csv"), "only goes with IDX images"});
    expect_contains(error_of<DataFormatError>([&] { load_images(dir.file("lab")); }),
                    {dir.file("lab"), "IDX label file"});
    expect_contains(error_of<IoError>([&] { load_images(dir.file("nope")); }),
                    {dir.file("nope"), "No such file"});
}

}  // namespace
}  // namespace mnistnn
