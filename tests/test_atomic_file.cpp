#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

using test::read_text;
using test::TempDir;
using test::write_text;

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

mode_t file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat failed: " + path);
    return st.st_mode & 07777;
}

mode_t current_umask() {
    const mode_t mask = ::umask(022);
    ::umask(mask);
    return mask;
}

// Content with every byte value, including NUL and newlines (no text-mode translation).
std::string binary_content() {
    std::string s;
    for (int round = 0; round < 3; ++round)
        for (int b = 0; b < 256; ++b) s.push_back(static_cast<char>(b));
    return s;
}

std::string error_message(const std::string& path, const std::function<void(std::ostream&)>& writer) {
    try {
        write_file_atomically(path, writer);
    } catch (const IoError& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected IoError writing " << path;
    return "";
}

TEST(AtomicFile, WritesContent) {
    TempDir dir;
    const std::string path = dir.file("out.bin");
    const std::string content = binary_content();
    write_file_atomically(path, [&](std::ostream& out) { out << content; });
    EXPECT_EQ(read_text(path), content);
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"out.bin"});
}

TEST(AtomicFile, NewFileGets0644UnderTheUmask) {
    TempDir dir;
    const std::string path = dir.file("new.txt");
    write_file_atomically(path, [](std::ostream& out) { out << "x"; });
    EXPECT_EQ(file_mode(path), static_cast<mode_t>(0644 & ~current_umask()));
}

TEST(AtomicFile, WritesEmptyFile) {
    TempDir dir;
    const std::string path = dir.file("empty");
    write_file_atomically(path, [](std::ostream&) {});
    EXPECT_EQ(read_text(path), "");
}

TEST(AtomicFile, LargeContentMixingSmallAndLargeWrites) {
    TempDir dir;
    const std::string path = dir.file("large.bin");
    std::string expected;
    std::string big(300000, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 3);
    write_file_atomically(path, [&](std::ostream& out) {
        for (int i = 0; i < 5; ++i) {
            out << "chunk " << i << '\n';
            out.write(big.data(), static_cast<std::streamsize>(big.size()));
            out.put('!');
        }
    });
    for (int i = 0; i < 5; ++i) expected += "chunk " + std::to_string(i) + "\n" + big + "!";
    EXPECT_EQ(read_text(path), expected);
}

TEST(AtomicFile, ReplacesExistingFileAndKeepsItsMode) {
    TempDir dir;
    const std::string path = dir.file("model");
    write_text(path, "old content that is longer than the new one");
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    write_file_atomically(path, [](std::ostream& out) { out << "new"; });
    EXPECT_EQ(read_text(path), "new");
    EXPECT_EQ(file_mode(path), static_cast<mode_t>(0600));
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"model"});
}

TEST(AtomicFile, TempFileIsHiddenBesideTheTarget) {
    TempDir dir;
    const std::string path = dir.file("target.safetensors");
    std::vector<std::string> during;
    write_file_atomically(path, [&](std::ostream& out) {
        during = list_dir(dir.path());
        out << "data";
    });
    ASSERT_EQ(during.size(), 1u);
    const std::string prefix = ".target.safetensors.tmp." + std::to_string(::getpid()) + ".";
    EXPECT_EQ(during[0].rfind(prefix, 0), 0u) << during[0];
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"target.safetensors"});
}

TEST(AtomicFile, ThrowingWriterLeavesOldFileByteIdentical) {
    TempDir dir;
    const std::string path = dir.file("model");
    const std::string old = binary_content();
    write_text(path, old);
    struct WriterFailure : std::runtime_error {
        using std::runtime_error::runtime_error;
    };
    EXPECT_THROW(write_file_atomically(path,
                                       [](std::ostream& out) {
                                           out << std::string(100000, 'n');  // past the buffer
                                           throw WriterFailure("interrupted");
                                       }),
                 WriterFailure);
    EXPECT_EQ(read_text(path), old);
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"model"});
}

TEST(AtomicFile, ThrowingWriterWithoutOldFileCreatesNothing) {
    TempDir dir;
    EXPECT_THROW(write_file_atomically(dir.file("new"),
                                       [](std::ostream&) { throw std::runtime_error("boom"); }),
                 std::runtime_error);
    EXPECT_TRUE(list_dir(dir.path()).empty());
}

TEST(AtomicFile, FailedStreamIsAnIoErrorAndLeavesOldFile) {
    TempDir dir;
    const std::string path = dir.file("model");
    write_text(path, "old");
    const std::string msg = error_message(path, [](std::ostream& out) {
        out << "partial";
        out.setstate(std::ios::badbit);
    });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_EQ(read_text(path), "old");
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"model"});
}

// A write error from the kernel (here EFBIG from a file-size limit, standing in for ENOSPC)
// is reported with strerror, and the old file survives.
TEST(AtomicFile, WriteErrorIsReportedWithStrerror) {
    TempDir dir;
    const std::string path = dir.file("model");
    write_text(path, "old");

    struct rlimit saved {};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
    const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved;
    small.rlim_cur = 4096;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    std::string msg;
    try {
        write_file_atomically(path, [](std::ostream& out) { out << std::string(200000, 'x'); });
    } catch (const IoError& e) {
        msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, saved_handler);

    EXPECT_NE(msg.find("cannot write " + path), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
    EXPECT_EQ(read_text(path), "old");
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"model"});
}

TEST(AtomicFile, MissingDirectoryIsAnIoErrorNamingThePath) {
    TempDir dir;
    const std::string path = dir.file("no/such/folder/model.safetensors");
    bool called = false;
    const std::string msg = error_message(path, [&](std::ostream&) { called = true; });
    EXPECT_NE(msg.find("cannot create " + path), std::string::npos) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
    EXPECT_FALSE(called);
}

TEST(AtomicFile, TargetIsADirectory) {
    TempDir dir;
    const std::string path = dir.file("sub");
    std::filesystem::create_directory(path);
    write_text(path + "/keep", "k");
    const std::string msg = error_message(path, [](std::ostream& out) { out << "x"; });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("Is a directory"), std::string::npos) << msg;
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_EQ(read_text(path + "/keep"), "k");
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"sub"});
}

TEST(AtomicFile, TrailingSlashIsRefused) {
    TempDir dir;
    const std::string msg = error_message(dir.path() + "/", [](std::ostream& out) { out << "x"; });
    EXPECT_NE(msg.find("Is a directory"), std::string::npos) << msg;
}

// Runs `body` as an unprivileged user when the tests run as root (root ignores directory
// permissions): in a forked child that drops to nobody. Returns the child's exit status.
int run_unprivileged(const std::function<int()>& body) {
    if (::geteuid() != 0) return body();
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        constexpr uid_t kNobody = 65534;
        if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(3);
        ::_exit(body());
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(AtomicFile, UnwritableDirectory) {
    TempDir dir;
    const std::string sub = dir.file("locked");
    std::filesystem::create_directory(sub);
    const std::string path = sub + "/model";
    write_text(path, "old");
    // Read and search allowed for everyone, writing for no one.
    ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(sub.c_str(), 0555), 0);
    const int status = run_unprivileged([&] {
        try {
            write_file_atomically(path, [](std::ostream& out) { out << "new"; });
        } catch (const IoError& e) {
            const std::string msg = e.what();
            if (msg.find("cannot create " + path) == std::string::npos) return 1;
            if (msg.find("Permission denied") == std::string::npos) return 2;
            return 0;
        }
        return 4;
    });
    ::chmod(sub.c_str(), 0755);
    EXPECT_EQ(status, 0) << "1: path missing, 2: strerror missing, 3: setuid failed, 4: no error";
    EXPECT_EQ(read_text(path), "old");
    EXPECT_EQ(list_dir(sub), std::vector<std::string>{"model"});
}

TEST(AtomicFile, RelativePathInCurrentDirectory) {
    TempDir dir;
    const auto saved = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    try {
        write_file_atomically("plain.txt", [](std::ostream& out) { out << "here"; });
    } catch (...) {
        std::filesystem::current_path(saved);
        throw;
    }
    std::filesystem::current_path(saved);
    EXPECT_EQ(read_text(dir.file("plain.txt")), "here");
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"plain.txt"});
}

TEST(AtomicFile, ReplacesASymlinkItselfNotItsTarget) {
    TempDir dir;
    write_text(dir.file("real"), "real");
    std::filesystem::create_symlink("real", dir.file("link"));
    write_file_atomically(dir.file("link"), [](std::ostream& out) { out << "new"; });
    EXPECT_EQ(read_text(dir.file("real")), "real");
    EXPECT_FALSE(std::filesystem::is_symlink(dir.file("link")));
    EXPECT_EQ(read_text(dir.file("link")), "new");
}

}  // namespace
}  // namespace mnistnn
