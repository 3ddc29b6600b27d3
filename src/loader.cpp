// Loading digit sets from Kaggle CSV (plain or gzip, via fast-cpp-csv-parser's LineReader)
// and from IDX files, and writing Kaggle CSV.
#include "mnistnn/loader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mnistnn/error.hpp"

#include <limits>  // Debian's csv.h uses std::numeric_limits without including it

// LineReader keeps its read-ahead thread (no CSV_IO_NO_THREAD): on the 110 MB train.csv it
// costs nothing measurable, and for gzip input it moves inflating off the parsing thread
// (main-thread CPU 0.48 s instead of 0.78 s). It starts only for inputs over 32 MiB.
// GCC flags csv.h's own bounded strncpy of file names once it is inlined into our code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
#include <libfccp/csv.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace mnistnn {
namespace {

constexpr int kLabelledFields = kPixels + 1;
constexpr int kUnlabelledFields = kPixels;
constexpr unsigned kMaxPixel = 255;
constexpr unsigned kMaxLabel = kClasses - 1;
// Shortest possible data row: one digit per field, separators, newline. Dividing the file
// size by it bounds the row count, so one reservation up front never over-commits by more
// than the file's own size.
constexpr long long kMinRowBytes = 2LL * kPixels;
constexpr long long kMaxReservedRows = 1LL << 20;  // 822 MB of pixels
constexpr std::size_t kFoundMax = 20;            // bytes of offending text quoted in messages
constexpr std::size_t kPeekBytes = 64 * 1024;    // always holds a valid header (~7 KB)
constexpr unsigned kGzBufferBytes = 128u << 10;  // zlib's buffer; larger plain reads bypass it
constexpr std::size_t kReadPiece = 1u << 20;     // read in pieces that are still in cache for memchr
constexpr std::size_t kMaxGzRead = 1u << 30;     // gzread takes an unsigned length
constexpr int kLineLimitMiB = 16;                // LineReader's block_len (1 << 24)
constexpr std::size_t kIdxImageHeader = 16;
constexpr std::size_t kIdxLabelHeader = 8;
constexpr std::array<unsigned char, 4> kIdxImageMagic{0x00, 0x00, 0x08, 0x03};
constexpr std::array<unsigned char, 4> kIdxLabelMagic{0x00, 0x00, 0x08, 0x01};
constexpr std::size_t kIdxReadStep = 1u << 24;  // gzip IDX payload grows by at most this
constexpr std::size_t kWriteBuffer = 1u << 20;
constexpr std::size_t kGrowFirst = std::size_t{1024} * kPixels;  // pixels of 1024 rows

std::string errno_text(int err) { return std::strerror(err); }

// Asks for transparent huge pages on the whole 2 MiB pages inside [p, p+n). Loading is
// otherwise dominated by first-touch page faults, one per 4 KiB of ~150 MB of buffers.
void advise_huge_pages(void* p, std::size_t n) {
#ifdef MADV_HUGEPAGE
    constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t begin = (start + kHuge - 1) & ~(kHuge - 1);
    const std::uintptr_t end = (start + n) & ~(kHuge - 1);
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint only
#else
    (void)p;
    (void)n;
#endif
}

// Offending text for a message: at most kFoundMax bytes, anything but printable ASCII as \xHH.
std::string escape(std::string_view text, std::size_t max = kFoundMax) {
    std::string out;
    const std::size_t n = std::min(text.size(), max);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\\' || c == '\'') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    if (text.size() > max) out += "...";
    return out;
}

std::string quoted(std::string_view text) { return "'" + escape(text) + "'"; }

bool has_control_bytes(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t') || c == 0x7f;
    });
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// 1-based column → its name in the given layout ("label", "pixel44", or past the end).
std::string column_name(int col, bool labelled) {
    const int fields = labelled ? kLabelledFields : kUnlabelledFields;
    if (col > fields) return "after pixel" + std::to_string(kPixels - 1);
    if (labelled && col == 1) return "label";
    return "pixel" + std::to_string(col - (labelled ? 2 : 1));
}

std::string header_text(bool labelled) {
    std::string h = labelled ? "label" : "";
    for (int i = 0; i < kPixels; ++i) {
        if (!h.empty()) h += ',';
        h += "pixel" + std::to_string(i);
    }
    return h;
}

const std::string& labelled_header() {
    static const std::string h = header_text(true);
    return h;
}

const std::string& unlabelled_header() {
    static const std::string h = header_text(false);
    return h;
}

constexpr const char* kExpectedHeader =
    "expected header 'label,pixel0,...,pixel783' or 'pixel0,...,pixel783'";

// Why a file that failed as CSV might not be one at all, from its first bytes.
std::string binary_hint(std::string_view head) {
    const auto magic = [&](std::string_view m) { return starts_with(head, m); };
    if (head.size() >= 4 && head[0] == '\0' && head[1] == '\0' && head[2] == '\x08' &&
        (head[3] == '\x01' || head[3] == '\x03')) {
        return " (this looks like an IDX file; load it as IDX input with load_idx, or with "
               "load_images, which recognises IDX, not as CSV)";
    }
    if (magic("\x89PNG\r\n\x1a\n")) return " (this looks like a PNG image, not a CSV file)";
    if (magic("PK\x03\x04")) return " (this looks like a ZIP archive; unzip it first)";
    if (magic("\x1f\x8b")) return " (this looks like gzip data compressed twice)";
    return "";
}

// ---------------------------------------------------------------------------------------
// Input: a file read through zlib, which passes plain files through unchanged and
// decompresses gzip, so both need one code path.

class GzFile {
public:
    explicit GzFile(std::string path) : path_(std::move(path)) {
        const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw IoError("cannot open '" + path_ + "': " + errno_text(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            ::close(fd);
            throw IoError("cannot read '" + path_ + "': " + errno_text(err));
        }
        if (S_ISDIR(st.st_mode)) {
            ::close(fd);
            throw IoError("cannot read '" + path_ + "': " + errno_text(EISDIR));
        }
        size_ = S_ISREG(st.st_mode) ? static_cast<long long>(st.st_size) : -1;
        gz_ = gzdopen(fd, "rb");
        if (gz_ == nullptr) {
            ::close(fd);
            throw IoError("cannot read '" + path_ + "': out of memory");
        }
        gzbuffer(gz_, kGzBufferBytes);
    }
    ~GzFile() { gzclose_r(gz_); }
    GzFile(const GzFile&) = delete;
    GzFile& operator=(const GzFile&) = delete;

    const std::string& path() const { return path_; }
    // Size on disk, -1 if not a regular file.
    long long size() const { return size_; }
    // Valid after the first read: whether the content is gzip-compressed.
    bool compressed() const { return gzdirect(gz_) == 0; }

    // Reads until `n` bytes or the end of the data; a short count means the end.
    std::size_t read(void* buffer, std::size_t n) {
        auto* out = static_cast<char*>(buffer);
        std::size_t total = 0;
        while (total < n) {
            const auto chunk = static_cast<unsigned>(std::min(n - total, kMaxGzRead));
            const int got = gzread(gz_, out + total, chunk);
            if (got < 0) fail();
            if (got == 0) {
                check_clean_end();
                break;
            }
            total += static_cast<std::size_t>(got);
        }
        return total;
    }

private:
    [[noreturn]] void fail() {
        const int saved_errno = errno;
        int code = Z_OK;
        const char* msg = gzerror(gz_, &code);
        if (code == Z_ERRNO) throw IoError("cannot read '" + path_ + "': " + errno_text(saved_errno));
        if (code == Z_MEM_ERROR) throw IoError("cannot read '" + path_ + "': out of memory");
        throw DataFormatError(path_ + ": corrupt gzip data (zlib: " + msg + ")");
    }

    // zlib reports a gzip stream cut short only through gzerror, not through gzread.
    void check_clean_end() {
        int code = Z_OK;
        const char* msg = gzerror(gz_, &code);
        if (code == Z_OK) return;
        if (code == Z_BUF_ERROR) {
            throw DataFormatError(path_ + ": gzip data ends too early (zlib: " + msg +
                                  "); the .gz file is truncated");
        }
        fail();
    }

    std::string path_;
    gzFile gz_ = nullptr;
    long long size_ = -1;
};

// Facts the byte source learns that the parser needs for its messages. Atomics because
// LineReader may call the source on its own thread.
struct SourceState {
    std::atomic<bool> nul_found{false};
    bool nul_at_line_start = false;  // written before nul_found is set
    std::string nul_text;            // bytes from the NUL on, for the message
    std::atomic<bool> added_newline{false};
};

// Feeds LineReader. Guards against fccp issue #72 (reading uninitialised memory when the
// last line has no newline) by appending that newline itself, and stops at the first NUL
// byte, which LineReader's C strings could not show (the parser then reports it).
// LineReader treats a short read as the end, so every read fills `size` unless ending.
class CsvSource final : public io::ByteSourceBase {
public:
    CsvSource(std::unique_ptr<GzFile> file, std::string prefix, SourceState& state)
        : file_(std::move(file)), prefix_(std::move(prefix)), state_(state) {}

    int read(char* buffer, int size) override {
        const auto want = static_cast<std::size_t>(size);
        advise_huge_pages(buffer, want);
        std::size_t got = 0;
        while (!ended_ && got < want) {
            // Pieces, so that the NUL scan reads bytes still in cache.
            const std::size_t piece = std::min(want - got, kReadPiece);
            std::size_t n = std::min(piece, prefix_.size() - prefix_pos_);
            std::memcpy(buffer + got, prefix_.data() + prefix_pos_, n);
            prefix_pos_ += n;
            if (n < piece) {
                n += file_->read(buffer + got + n, piece - n);
                ended_ = n < piece;
            }
            if (const void* nul = std::memchr(buffer + got, '\0', n)) {
                const auto at = static_cast<std::size_t>(static_cast<const char*>(nul) - buffer);
                state_.nul_at_line_start = at == 0 ? (!delivered_ || last_ == '\n') : buffer[at - 1] == '\n';
                state_.nul_text.assign(buffer + at, std::min(got + n - at, kFoundMax + 1));
                state_.nul_found.store(true, std::memory_order_release);
                n = at - got;
                ended_ = true;
            }
            got += n;
            if (got > 0) {
                last_ = buffer[got - 1];
                delivered_ = true;
            }
        }
        if (ended_ && !newline_done_ && got < want) {
            newline_done_ = true;
            if (delivered_ && last_ != '\n') {
                buffer[got++] = '\n';
                state_.added_newline.store(true, std::memory_order_release);
            }
        }
        return static_cast<int>(got);
    }

private:
    std::unique_ptr<GzFile> file_;
    std::string prefix_;  // bytes already read to sniff the format, delivered first
    std::size_t prefix_pos_ = 0;
    SourceState& state_;
    bool ended_ = false;
    bool newline_done_ = false;
    bool delivered_ = false;
    char last_ = '\n';
};

// ---------------------------------------------------------------------------------------
// CSV parsing.

// Digit value, or a large number for any other byte (one compare tests both bounds).
inline unsigned digit(char c) { return static_cast<unsigned>(static_cast<unsigned char>(c)) - unsigned{'0'}; }

class CsvParser {
public:
    CsvParser(const std::string& path, io::LineReader& reader, const SourceState& state)
        : path_(path), reader_(reader), state_(state) {}

    Images parse(long long row_bound) {
        Images images;
        const char* line = next_line();
        if (line == nullptr) {  // only when the data starts with a NUL byte
            throw_nul(1, 1, std::string(kExpectedHeader) + ", found ");
        }
        check_header(line);
        const int fields = labelled_ ? kLabelledFields : kUnlabelledFields;
        last_fields_ = fields;
        if (row_bound > 0) {
            images.pixels.reserve(static_cast<std::size_t>(row_bound) * kPixels);
            advise_huge_pages(images.pixels.data(), images.pixels.capacity());
            if (labelled_) images.labels.reserve(static_cast<std::size_t>(row_bound));
        }
        std::array<std::uint8_t, kPixels> row{};
        std::uint8_t label = 0;
        std::size_t first_blank = 0;  // line number of a run of empty lines, 0 if none
        while ((line = next_line()) != nullptr) {
            const std::size_t line_no = reader_.get_file_line();
            if (*line == '\0') {
                if (first_blank == 0) first_blank = line_no;
                last_fields_ = 0;
                continue;
            }
            if (first_blank != 0) {
                fail(first_blank, 1, nullptr, false,
                     "expected a data row, found an empty line (only trailing empty lines are allowed)");
            }
            if (labelled_) {
                parse_row<true>(line, line_no, row.data(), label);
                images.labels.push_back(label);
            } else {
                parse_row<false>(line, line_no, row.data(), label);
            }
            if (images.pixels.capacity() - images.pixels.size() < kPixels) grow(images.pixels);
            images.pixels.insert(images.pixels.end(), row.begin(), row.end());
            ++images.rows;
            last_fields_ = fields;
        }
        check_nul_at_end();
        if (images.rows == 0) {
            throw_at(reader_.get_file_line() + 1, 1,
                     "expected a data row after the header, found the end of the file (no data rows)");
        }
        return images;
    }

private:
    char* next_line() {
        try {
            return reader_.next_line();
        } catch (const io::error::line_length_limit_exceeded& e) {
            throw DataFormatError(path_ + ":" + std::to_string(e.file_line) +
                                  ": expected a line of a few KB, found a line longer than " +
                                  std::to_string(kLineLimitMiB) + " MiB" + cr_hint_for_long_line());
        } catch (const io::error::base& e) {
            throw DataFormatError(path_ + ": " + e.what());
        }
    }

    std::string cr_hint_for_long_line() const {
        return reader_.get_file_line() <= 1 ? " (not a CSV file, or CR-only line ends?)" : "";
    }

    // Throws for `line_no`:`col`. `text` is the current line, still intact, or nullptr: an
    // error found where that line ends may really be caused by the data being cut short at a
    // NUL byte or by the end of a truncated file, and then the message says so instead.
    [[noreturn]] void fail(std::size_t line_no, int col, const char* text, bool at_line_end,
                           const std::string& what) {
        std::string message = what;
        const bool nul = state_.nul_found.load(std::memory_order_acquire) && !state_.nul_at_line_start;
        const bool added_newline = state_.added_newline.load(std::memory_order_acquire);
        if (text != nullptr && (nul || (added_newline && at_line_end))) {
            const char* last_comma = std::strrchr(text, ',');
            const int nul_col = 1 + static_cast<int>(std::count(text, text + std::strlen(text), ','));
            const std::string nul_field = last_comma != nullptr ? last_comma + 1 : text;
            // Nothing follows the NUL or the missing newline, so this must be the last line.
            bool last_line = false;
            try {
                last_line = reader_.next_line() == nullptr;
            } catch (...) {
            }
            if (last_line && nul && col >= nul_col) {
                throw_at(
                    line_no, nul_col,
                    (line_no == 1 ? std::string(kExpectedHeader) : "expected " + field_expectation(nul_col)) +
                        ", found " + quoted(nul_field + state_.nul_text) +
                        " (a NUL byte: binary data, not CSV text)");
            }
            if (last_line && added_newline && at_line_end) {
                message += " (the last line has no newline: is the file truncated?)";
            }
        }
        throw_at(line_no, col, message);
    }

    [[noreturn]] void throw_at(std::size_t line_no, int col, const std::string& what) const {
        throw DataFormatError(path_ + ":" + std::to_string(line_no) + ":" + std::to_string(col) + " (" +
                              column_name(col, labelled_) + "): " + what);
    }

    std::string field_expectation(int col) const {
        if (col > (labelled_ ? kLabelledFields : kUnlabelledFields)) return "end of line";
        return labelled_ && col == 1 ? "an integer 0-9" : "an integer 0-255";
    }

    void check_header(const char* line) {
        const std::string_view h(line);
        if (h == labelled_header()) {
            labelled_ = true;
            return;
        }
        if (h == unlabelled_header()) {
            labelled_ = false;
            return;
        }
        // Point at the first field that differs from the closer of the two layouts.
        labelled_ = !starts_with(h, "pixel");
        const int fields = labelled_ ? kLabelledFields : kUnlabelledFields;
        std::size_t pos = 0;
        int col = 1;
        for (;; ++col) {
            const std::size_t comma = std::min(h.find(',', pos), h.size());
            if (col > fields || h.substr(pos, comma - pos) != column_name(col, labelled_)) break;
            if (comma == h.size()) {
                pos = h.size();
                ++col;
                break;
            }
            pos = comma + 1;
        }
        std::string found;
        if (h.empty()) {
            found = "an empty line";
        } else if (pos >= h.size() && col <= fields) {
            found = "end of line after " + std::to_string(col - 1) + " fields";
        } else {
            found = quoted(h.substr(pos));
        }
        std::string hint = binary_hint(h);
        if (hint.empty() && has_control_bytes(h)) hint = " (binary data? this is not CSV text)";
        unsigned first = 0;
        const std::string_view first_field = h.substr(0, h.find(','));
        const auto [end, ec] =
            std::from_chars(first_field.data(), first_field.data() + first_field.size(), first);
        if (hint.empty() && !first_field.empty() && ec == std::errc() &&
            end == first_field.data() + first_field.size()) {
            hint = " (the file seems to have no header row)";
        }
        if (hint.empty() && h.find('\r') != std::string_view::npos) hint = " (CR-only line ends?)";
        if (hint.empty() && starts_with(h, "\"")) hint = " (quoted fields are not supported)";
        if (hint.empty() && h.find(',') == std::string_view::npos &&
            h.find_first_of(";\t") != std::string_view::npos) {
            hint = " (the separator must be a comma)";
        }
        fail(1, col, line, pos >= h.size(), std::string(kExpectedHeader) + ", found " + found + hint);
    }

    // Careful path for any field the hot loop did not accept: takes valid oddities (leading
    // zeros) and throws for everything else. Returns where the next field starts.
    [[gnu::noinline]] const char* careful_field(const char* start, const char* line, std::size_t line_no,
                                                int col, unsigned max, bool last, std::uint8_t& out) {
        const char* end = start + std::strcspn(start, ",");
        unsigned v = 0;
        const auto [stop, ec] = std::from_chars(start, end, v);
        if (start == end || ec != std::errc() || stop != end || v > max) {
            std::string what = "expected " + field_expectation(col) + ", found ";
            what += start == end ? "an empty field"
                                 : quoted(std::string_view(start, static_cast<std::size_t>(end - start)));
            if (std::find(start, end, '\r') != end) {
                what += " (a carriage return inside the line: CR-only or mixed line ends?)";
            }
            fail(line_no, col, line, start == end && *end == '\0', what);
        }
        const int fields = labelled_ ? kLabelledFields : kUnlabelledFields;
        if (last && *end == ',') {
            const auto total = 1 + std::count(line, end + std::strlen(end), ',');
            fail(line_no, fields + 1, line, false,
                 "expected " + std::to_string(fields) + " fields, found " + std::to_string(total) +
                     " (extra text " + quoted(end + 1) + ")");
        }
        if (!last && *end == '\0') {
            fail(line_no, col + 1, line, true,
                 "expected " + std::to_string(fields) + " fields, found only " + std::to_string(col));
        }
        out = static_cast<std::uint8_t>(v);
        return last ? end : end + 1;
    }

    // Hot loop: a pixel is 1-3 digits and a comma. Each byte is looked at only after the
    // previous one proved to be a digit, so nothing past the line's terminator is read.
    // Anything unusual goes to careful_field, which has the last word.
    template <bool Labelled>
    void parse_row(const char* line, std::size_t line_no, std::uint8_t* pixels, std::uint8_t& label) {
        const char* p = line;
        if constexpr (Labelled) {
            const unsigned d = digit(p[0]);
            if (d <= kMaxLabel && p[1] == ',') {
                label = static_cast<std::uint8_t>(d);
                p += 2;
            } else {
                p = careful_field(p, line, line_no, 1, kMaxLabel, false, label);
            }
        }
        constexpr int kFirstPixelCol = Labelled ? 2 : 1;
        for (int i = 0; i < kPixels - 1; ++i) {
            const unsigned d0 = digit(p[0]);
            if (d0 <= 9) {
                if (p[1] == ',') {
                    pixels[i] = static_cast<std::uint8_t>(d0);
                    p += 2;
                    continue;
                }
                const unsigned d1 = digit(p[1]);
                if (d1 <= 9) {
                    if (p[2] == ',') {
                        pixels[i] = static_cast<std::uint8_t>(d0 * 10 + d1);
                        p += 3;
                        continue;
                    }
                    const unsigned d2 = digit(p[2]);
                    const unsigned v = d0 * 100 + d1 * 10 + d2;
                    if (d2 <= 9 && p[3] == ',' && v <= kMaxPixel) {
                        pixels[i] = static_cast<std::uint8_t>(v);
                        p += 4;
                        continue;
                    }
                }
            }
            p = careful_field(p, line, line_no, kFirstPixelCol + i, kMaxPixel, false, pixels[i]);
        }
        careful_field(p, line, line_no, kFirstPixelCol + kPixels - 1, kMaxPixel, true, pixels[kPixels - 1]);
    }

    [[noreturn]] void throw_nul(std::size_t line_no, int col, const std::string& what) const {
        throw_at(line_no, col, what + quoted(state_.nul_text) + " (a NUL byte: binary data, not CSV text)");
    }

    // Only gzip input, whose size is unknown, needs this: doubling, with huge pages for the
    // part not yet touched (see advise_huge_pages).
    static void grow(std::vector<std::uint8_t>& pixels) {
        pixels.reserve(std::max(2 * pixels.capacity(), kGrowFirst));
        advise_huge_pages(pixels.data() + pixels.size(), pixels.capacity() - pixels.size());
    }

    // A NUL byte ended the data early but nothing before it was wrong.
    void check_nul_at_end() const {
        if (!state_.nul_found.load(std::memory_order_acquire)) return;
        const std::size_t last_line = reader_.get_file_line();
        if (state_.nul_at_line_start) throw_nul(last_line + 1, 1, "expected a data row, found ");
        if (last_fields_ == 0) throw_nul(last_line, 1, "expected a data row, found ");
        throw_nul(last_line, last_fields_, "expected end of line, found ");  // right after a complete row
    }

    const std::string& path_;
    io::LineReader& reader_;
    const SourceState& state_;
    bool labelled_ = true;
    int last_fields_ = 0;  // fields in the last line read (0 if empty), for NUL messages
};

// Rejects, from the first bytes, inputs that LineReader would misread: empty files, binary
// formats (whose NUL bytes would cut lines short), and CR-only line ends (one giant line).
void sniff_csv(const std::string& path, std::string_view head) {
    if (head.empty() || head == "\xEF\xBB\xBF") {
        throw DataFormatError(path + ":1:1: " + kExpectedHeader + ", found an empty file");
    }
    const std::string hint = binary_hint(head);
    if (!hint.empty()) {
        throw DataFormatError(path + ":1:1: " + kExpectedHeader + ", found " + quoted(head) + hint);
    }
    const std::size_t newline = std::min(head.find('\n'), head.size());
    std::string_view first = head.substr(0, newline);
    if (starts_with(first, "\xEF\xBB\xBF")) first.remove_prefix(3);
    // A CR before the LF, or ending a short file that is all in `head`, is a CRLF line end.
    const bool whole_file = head.size() < kPeekBytes;
    if ((newline < head.size() || whole_file) && !first.empty() && first.back() == '\r') {
        first.remove_suffix(1);
    }
    const std::size_t cr = first.find('\r');
    if (cr != std::string_view::npos) {
        constexpr std::size_t kBefore = kFoundMax / 2;
        const auto col = 1 + std::count(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(cr), ',');
        const bool labelled = !starts_with(first, "pixel");
        throw DataFormatError(path + ":1:" + std::to_string(col) + " (" +
                              column_name(static_cast<int>(col), labelled) +
                              "): expected LF or CRLF line ends, found a lone carriage return in " +
                              quoted(first.substr(cr > kBefore ? cr - kBefore : 0)) +
                              " (CR-only line ends, as in old Mac files? convert them to LF)");
    }
}

// ---------------------------------------------------------------------------------------
// IDX.

std::uint32_t big_endian32(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

std::string hex_bytes(const unsigned char* p, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        char hex[4];
        std::snprintf(hex, sizeof hex, i == 0 ? "%02x" : " %02x", p[i]);
        out += hex;
    }
    return out;
}

// An IDX file with its header read and checked; the payload is read separately so both
// files' counts can be compared before anything large is allocated.
struct IdxFile {
    std::unique_ptr<GzFile> file;
    std::size_t count = 0;
    std::size_t payload = 0;  // bytes after the header
    std::size_t header = 0;
};

IdxFile open_idx(const std::string& path, bool images) {
    IdxFile idx;
    idx.file = std::make_unique<GzFile>(path);
    idx.header = images ? kIdxImageHeader : kIdxLabelHeader;
    std::array<unsigned char, kIdxImageHeader> h{};
    const std::size_t got = idx.file->read(h.data(), idx.header);
    const auto& magic = images ? kIdxImageMagic : kIdxLabelMagic;
    const char* kind = images ? "IDX image" : "IDX label";
    if (got < 4 || !std::equal(magic.begin(), magic.end(), h.begin())) {
        std::string hint;
        const auto& other = images ? kIdxLabelMagic : kIdxImageMagic;
        const std::string_view text(reinterpret_cast<const char*>(h.data()), got);
        if (got >= 4 && std::equal(other.begin(), other.end(), h.begin())) {
            hint = images ? " (this is an IDX label file; were images and labels swapped?)"
                          : " (this is an IDX image file; were images and labels swapped?)";
        } else if (starts_with(text, "label") || starts_with(text, "pixel") ||
                   starts_with(text, "\xef\xbb\xbf")) {
            hint = " (this looks like a CSV file; load it as CSV)";
        }
        throw DataFormatError(
            path + ": expected " + kind + " magic " + hex_bytes(magic.data(), 4) + ", found " +
            (got == 0 ? std::string("an empty file") : hex_bytes(h.data(), std::min<std::size_t>(got, 4))) +
            hint);
    }
    if (got < idx.header) {
        throw DataFormatError(path + ": expected a " + std::to_string(idx.header) + "-byte " + kind +
                              " header, found only " + std::to_string(got) + " bytes (file truncated)");
    }
    idx.count = big_endian32(h.data() + 4);
    std::size_t item = 1;
    if (images) {
        const std::uint32_t rows = big_endian32(h.data() + 8);
        const std::uint32_t cols = big_endian32(h.data() + 12);
        if (rows != kImageSide || cols != kImageSide) {
            throw DataFormatError(path + ": expected 28x28 images, found " + std::to_string(rows) + "x" +
                                  std::to_string(cols));
        }
        item = kPixels;
    }
    if (idx.count == 0) throw DataFormatError(path + ": expected at least one item, found a count of 0");
    idx.payload = idx.count * item;
    // Exact size check before allocating; for gzip the size is unknown until read, so
    // read_payload grows the buffer only as real data arrives.
    const long long expected = static_cast<long long>(idx.header + idx.payload);
    if (!idx.file->compressed() && idx.file->size() >= 0 && idx.file->size() != expected) {
        throw DataFormatError(path + ": expected " + std::to_string(expected) + " bytes (" +
                              std::to_string(idx.header) + "-byte header + " + std::to_string(idx.count) +
                              " x " + std::to_string(item) + "), found " + std::to_string(idx.file->size()) +
                              (idx.file->size() < expected ? " (file truncated)" : " (trailing bytes)"));
    }
    return idx;
}

std::vector<std::uint8_t> read_payload(IdxFile& idx) {
    std::vector<std::uint8_t> data;
    if (!idx.file->compressed()) {  // size already checked against the header
        data.reserve(idx.payload);
        advise_huge_pages(data.data(), data.capacity());
    }
    std::size_t have = 0;
    while (have < idx.payload) {
        const std::size_t step = std::min(idx.payload - have, std::max(have, kIdxReadStep));
        data.resize(have + step);
        const std::size_t got = idx.file->read(data.data() + have, step);
        have += got;
        if (got < step) {
            throw DataFormatError(idx.file->path() + ": expected " +
                                  std::to_string(idx.header + idx.payload) +
                                  " bytes as the header says, found only " +
                                  std::to_string(idx.header + have) + " (file truncated)");
        }
    }
    unsigned char extra = 0;
    if (idx.file->read(&extra, 1) != 0) {
        throw DataFormatError(idx.file->path() + ": expected " + std::to_string(idx.header + idx.payload) +
                              " bytes as the header says, found trailing bytes after them");
    }
    return data;
}

}  // namespace

Images load_csv(const std::string& path) {
    auto file = std::make_unique<GzFile>(path);
    std::string head(kPeekBytes, '\0');
    head.resize(file->read(head.data(), head.size()));
    sniff_csv(path, head);
    // Plain files bound the row count by their size; for gzip, or beyond a cap that keeps a
    // huge malformed file from failing on allocation before its first bad row, vectors grow.
    const long long row_bound =
        file->compressed() ? 0 : std::min(file->size() / kMinRowBytes + 1, kMaxReservedRows);

    SourceState state;
    io::LineReader reader(path, std::make_unique<CsvSource>(std::move(file), std::move(head), state));
    CsvParser parser(path, reader, state);
    return parser.parse(row_bound);
}

Images load_idx(const std::string& images_path, const std::string& labels_path) {
    IdxFile images = open_idx(images_path, true);
    IdxFile labels;
    if (!labels_path.empty()) {
        labels = open_idx(labels_path, false);
        if (labels.count != images.count) {
            throw DataFormatError(labels_path + ": expected " + std::to_string(images.count) +
                                  " labels (as many as images in " + images_path + "), found " +
                                  std::to_string(labels.count));
        }
    }
    Images out;
    out.rows = images.count;
    out.pixels = read_payload(images);
    if (!labels_path.empty()) {
        out.labels = read_payload(labels);
        const auto bad =
            std::find_if(out.labels.begin(), out.labels.end(), [](std::uint8_t v) { return v > kMaxLabel; });
        if (bad != out.labels.end()) {
            const auto index = static_cast<std::size_t>(bad - out.labels.begin());
            throw DataFormatError(labels_path + ": label " + std::to_string(index) + " (byte offset " +
                                  std::to_string(kIdxLabelHeader + index) + "): expected 0-9, found " +
                                  std::to_string(*bad));
        }
    }
    return out;
}

DataFileKind data_file_kind(const std::string& path) {
    std::array<unsigned char, 4> magic{};
    GzFile file(path);
    if (file.read(magic.data(), magic.size()) < magic.size()) return DataFileKind::Csv;
    if (magic == kIdxImageMagic) return DataFileKind::IdxImages;
    if (magic == kIdxLabelMagic) return DataFileKind::IdxLabels;
    return DataFileKind::Csv;
}

Images load_images(const std::string& path, const std::string& labels_path) {
    const DataFileKind kind = data_file_kind(path);
    if (kind == DataFileKind::IdxImages) return load_idx(path, labels_path);
    if (kind == DataFileKind::IdxLabels) {
        throw DataFormatError(path +
                              ": expected a CSV file or an IDX image file, found an IDX label file "
                              "(magic 00 00 08 01); give it as the labels of the IDX image file");
    }
    if (!labels_path.empty()) {
        throw UsageError("a labels file (" + labels_path + ") only goes with IDX images, but " + path +
                         " is not an IDX image file (CSV files carry their labels in the 'label' column)");
    }
    return load_csv(path);
}

void write_csv(const Images& images, std::ostream& out) {
    if (images.pixels.size() != images.rows * kPixels ||
        (images.has_labels() && images.labels.size() != images.rows)) {
        throw UsageError("write_csv: Images sizes disagree with its row count");
    }
    constexpr std::size_t kMaxRow = 4 * kLabelledFields + 1;  // "255," per field + newline
    const auto buffer = std::make_unique<char[]>(kWriteBuffer);
    char* const begin = buffer.get();
    char* const limit = begin + kWriteBuffer - kMaxRow;
    char* p = begin;
    const auto flush = [&] {
        out.write(begin, p - begin);
        p = begin;
    };
    const std::string& header = images.has_labels() ? labelled_header() : unlabelled_header();
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.put('\n');
    for (std::size_t r = 0; r < images.rows; ++r) {
        if (p > limit) flush();
        if (images.has_labels()) {
            p = std::to_chars(p, p + 3, images.labels[r]).ptr;
            *p++ = ',';
        }
        const std::uint8_t* px = images.sample(r);
        for (int i = 0; i < kPixels; ++i) {
            p = std::to_chars(p, p + 3, px[i]).ptr;
            *p++ = ',';
        }
        p[-1] = '\n';
    }
    flush();
    if (!out) throw IoError("write_csv: writing the CSV output failed");
}

}  // namespace mnistnn
