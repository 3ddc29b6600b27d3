#include "mnistnn/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <ostream>
#include <random>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "mnistnn/error.hpp"

namespace mnistnn {
namespace {

constexpr mode_t kNewFileMode = 0644;  // further restricted by the umask
constexpr int kCreateAttempts = 16;    // retries if a random temp name is already taken
constexpr std::size_t kBufferBytes = 1 << 16;

std::string errno_text(int err) { return std::strerror(err); }

// Directory part and file-name part of `path` ("a/b/c" → "a/b", "c"; "c" → ".", "c").
std::pair<std::string, std::string> split_path(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    if (slash == 0) return {"/", path.substr(1)};
    return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string random_suffix() {
    static thread_local std::mt19937_64 gen{[] {
        std::uint64_t seed = static_cast<std::uint64_t>(::getpid()) ^
                             static_cast<std::uint64_t>(
                                 std::chrono::steady_clock::now().time_since_epoch().count());
        try {
            std::random_device rd;
            seed ^= (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
        } catch (const std::exception&) {
            // No entropy source: pid and clock still make a clash unlikely, and O_EXCL retries.
        }
        return seed;
    }()};
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(gen()));
    return text;
}

// An output streambuf writing straight to a file descriptor through a fixed buffer.
// Remembers the errno of the first failed write() so the caller can report it.
class FdStreambuf : public std::streambuf {
public:
    explicit FdStreambuf(int fd) : fd_(fd) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
    FdStreambuf(const FdStreambuf&) = delete;
    FdStreambuf& operator=(const FdStreambuf&) = delete;

    int error() const { return error_; }

protected:
    int_type overflow(int_type ch) override {
        if (!flush_buffer()) return traits_type::eof();
        if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
        *pptr() = traits_type::to_char_type(ch);
        pbump(1);
        return ch;
    }

    std::streamsize xsputn(const char* s, std::streamsize n) override {
        const auto room = static_cast<std::streamsize>(epptr() - pptr());
        if (n <= room) {
            std::memcpy(pptr(), s, static_cast<std::size_t>(n));
            pbump(static_cast<int>(n));
            return n;
        }
        // Large write: drain the buffer, then hand the data to write() directly.
        if (!flush_buffer()) return 0;
        if (!write_all(s, static_cast<std::size_t>(n))) return 0;
        return n;
    }

    int sync() override { return flush_buffer() ? 0 : -1; }

private:
    bool flush_buffer() {
        const auto pending = static_cast<std::size_t>(pptr() - pbase());
        if (pending == 0) return error_ == 0;
        const bool ok = write_all(pbase(), pending);
        setp(buffer_.data(), buffer_.data() + buffer_.size());
        return ok;
    }

    bool write_all(const char* data, std::size_t size) {
        if (error_ != 0) return false;
        while (size > 0) {
            const ssize_t written = ::write(fd_, data, size);
            if (written < 0) {
                if (errno == EINTR) continue;
                error_ = errno;
                return false;
            }
            if (written == 0) {  // should not happen for regular files; avoid spinning
                error_ = EIO;
                return false;
            }
            data += written;
            size -= static_cast<std::size_t>(written);
        }
        return true;
    }

    int fd_;
    int error_ = 0;
    std::vector<char> buffer_ = std::vector<char>(kBufferBytes);  // on the heap, not the stack
};

// Owns the temporary file until it has been renamed into place: closes the descriptor and
// unlinks the file on every early exit (exceptions included).
class TempFile {
public:
    TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(path_.c_str());
    }

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }

    // Closes the descriptor; returns 0 or the errno of close().
    int close() {
        const int fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0 ? 0 : errno;
    }
    void committed() { committed_ = true; }

private:
    int fd_;
    std::string path_;
    bool committed_ = false;
};

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
    throw IoError(what + " " + path + ": " + errno_text(err));
}

// Flushes the directory entry of the rename to disk. Some file systems do not support
// fsync on directories (EINVAL); that is not an error worth failing a save for.
void sync_directory(const std::string& dir, const std::string& path) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // e.g. a write-only folder: the rename itself has succeeded
    int err = 0;
    if (::fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) err = errno;
    ::close(fd);
    if (err != 0) fail("cannot sync the folder of", path, err);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
    if (path.empty()) throw IoError("cannot create a file with an empty name");
    const auto [dir, base] = split_path(path);
    if (base.empty()) fail("cannot create", path, EISDIR);

    // Keep the permission bits of a file we replace; refuse to replace a directory.
    bool keep_mode = false;
    mode_t old_mode = 0;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) fail("cannot create", path, EISDIR);
        if (S_ISREG(st.st_mode)) {
            keep_mode = true;
            old_mode = st.st_mode & 07777;
        }
    }

    int fd = -1;
    std::string temp_path;
    for (int attempt = 0; attempt < kCreateAttempts && fd < 0; ++attempt) {
        temp_path = (dir == "/" ? "" : dir) + "/." + base + ".tmp." + std::to_string(::getpid()) +
                    "." + random_suffix();
        fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kNewFileMode);
        if (fd < 0 && errno != EEXIST) fail("cannot create", path, errno);
    }
    if (fd < 0) fail("cannot create", path, EEXIST);
    TempFile temp(fd, temp_path);

    if (keep_mode && ::fchmod(temp.fd(), old_mode) != 0) fail("cannot set the mode of", path, errno);

    {
        FdStreambuf buf(temp.fd());
        std::ostream out(&buf);
        write(out);  // an exception propagates unchanged; ~TempFile removes the temp file
        out.flush();
        if (!out) {
            if (buf.error() != 0) fail("cannot write", path, buf.error());
            throw IoError("cannot write " + path + ": the output stream reported an error");
        }
    }
    if (::fsync(temp.fd()) != 0) fail("cannot write", path, errno);
    if (const int err = temp.close(); err != 0) fail("cannot write", path, err);
    if (::rename(temp.path().c_str(), path.c_str()) != 0) fail("cannot replace", path, errno);
    temp.committed();
    sync_directory(dir, path);
}

}  // namespace mnistnn
