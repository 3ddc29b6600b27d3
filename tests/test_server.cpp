// `mnistnn serve` over real connections: every endpoint and error status, predictions equal to
// `predict` and to the library, and a hostile client (oversized bodies and headers, a slow drip,
// half-closed and idle connections, 200 at once, the connection cap, garbage). After each,
// /healthz must still answer within a second. Then a graceful stop on SIGTERM.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../src/png_encoder.hpp"
#include "mnistnn/digit_image.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "test_util.hpp"

extern char** environ;

namespace mnistnn {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ---- a small blocking HTTP/1.1 client over raw sockets ----

class Socket {
public:
    explicit Socket(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~Socket() { close(); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    // False if the peer has gone (EPIPE/ECONNRESET).
    bool send(const std::string& data) {
        std::size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
            if (n <= 0) return false;
            done += static_cast<std::size_t>(n);
        }
        return true;
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    // Waits up to `timeout` for bytes; returns "" on EOF, throws on timeout.
    std::string receive(milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (ready == 0) throw std::runtime_error("timed out waiting for the server");
        char buf[65536];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0) return "";  // reset counts as closed
        return std::string(buf, static_cast<std::size_t>(n));
    }
    // True if the server closes the connection within `timeout` (reading and dropping bytes).
    bool closed_within(milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            try {
                if (receive(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + milliseconds(1)).empty()) {
                    return true;
                }
            } catch (const std::runtime_error&) {
                return false;
            }
        }
        return false;
    }
    int fd() const { return fd_; }
    std::string pending;  // bytes received past the last response read (pipelining)

private:
    int fd_ = -1;
};

struct Response {
    int status = 0;
    std::string headers;  // lower-cased header block
    std::string body;
    json body_json() const { return json::parse(body); }
    bool has_header(const std::string& line) const { return headers.find(line) != std::string::npos; }
};

// Reads one response (Content-Length framed; no body for HEAD) from the socket.
Response read_response(Socket& s, milliseconds timeout = milliseconds(5000), bool head = false) {
    std::string data = std::move(s.pending);
    s.pending.clear();
    std::size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
        const std::string more = s.receive(timeout);
        if (more.empty()) throw std::runtime_error("connection closed before a response: '" + data + "'");
        data += more;
    }
    Response r;
    r.headers = data.substr(0, header_end);
    for (auto& c : r.headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (r.headers.compare(0, 9, "http/1.1 ") != 0) throw std::runtime_error("not HTTP: " + r.headers);
    r.status = std::stoi(r.headers.substr(9, 3));
    const auto cl = r.headers.find("content-length: ");
    const std::size_t length = cl == std::string::npos || head ? 0 : std::stoul(r.headers.substr(cl + 16));
    r.body = data.substr(header_end + 4);
    while (r.body.size() < length) {
        const std::string more = s.receive(timeout);
        if (more.empty()) throw std::runtime_error("connection closed inside a body");
        r.body += more;
    }
    s.pending = r.body.substr(length);
    r.body.resize(length);
    return r;
}

std::string request_text(const std::string& method, const std::string& path, const std::string& type = "",
                         const std::string& body = "", const std::string& extra = "") {
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra;
    if (!type.empty()) r += "Content-Type: " + type + "\r\n";
    if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return r + "\r\n" + body;
}

// ---- the server process ----

class ServeProcess {
public:
    ServeProcess(const std::string& model, const std::vector<std::string>& extra_args) {
        int out[2];
        if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
        log_ = dir_.file("stderr.log");
        std::vector<std::string> args = {MNISTNN_BINARY, "serve", "--model", model, "--host", "127.0.0.1",
                                         "--port", "0"};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        const int rc = posix_spawn(&pid_, MNISTNN_BINARY, &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        if (rc != 0) throw std::runtime_error("cannot start mnistnn serve");
        out_ = out[0];
        // The first stdout line: "listening on http://127.0.0.1:PORT/" (an ASan build starts slowly).
        std::string line;
        char c;
        pollfd p{out_, POLLIN, 0};
        while (line.find('\n') == std::string::npos && ::poll(&p, 1, 60000) > 0 && ::read(out_, &c, 1) == 1) line += c;
        const auto colon = line.rfind(':');
        if (line.rfind("listening on http://127.0.0.1:", 0) != 0 || colon == std::string::npos) {
            throw std::runtime_error("serve did not start: '" + line + "' " + test::read_text(log_));
        }
        port_ = std::stoi(line.substr(colon + 1));
    }
    ~ServeProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) ::close(out_);
    }
    int port() const { return port_; }
    void signal(int sig) { ::kill(pid_, sig); }
    // Waits for the process to end; its exit code (128 + signal if killed), or -1 on timeout.
    int wait(milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(milliseconds(10));
        }
        return -1;
    }
    std::string log() const { return test::read_text(log_); }

private:
    test::TempDir dir_;
    std::string log_;
    pid_t pid_ = -1;
    int out_ = -1;
    int port_ = 0;
};

Response http(int port, const std::string& method, const std::string& path, const std::string& type = "",
              const std::string& body = "") {
    Socket s(port);
    s.send(request_text(method, path, type, body));
    return read_response(s, milliseconds(5000), method == "HEAD");
}

// /healthz answers 200 within a second on a fresh connection.
void expect_healthy(int port, const char* after) {
    const auto t = Clock::now();
    Response r;
    try {
        Socket s(port);
        s.send(request_text("GET", "/healthz"));
        r = read_response(s, milliseconds(1000));
    } catch (const std::exception& e) {
        FAIL() << "after " << after << ": /healthz did not answer: " << e.what();
    }
    EXPECT_EQ(r.status, 200) << after;
    EXPECT_LT(seconds_since(t), 1.0) << after;
}

class Server : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new test::TempDir();
        test::save_pixel_vote_model(model_path());
        server_ = new ServeProcess(model_path(), {"--threads", "2", "--read-timeout", "1"});
    }
    static void TearDownTestSuite() {
        delete server_;
        delete dir_;
    }
    static std::string model_path() { return dir_->file("vote.safetensors"); }
    static int port() { return server_->port(); }
    static test::TempDir* dir_;
    static ServeProcess* server_;
};
test::TempDir* Server::dir_ = nullptr;
ServeProcess* Server::server_ = nullptr;

std::string pixels_body(const std::uint8_t* p) {
    return json{{"pixels", std::vector<int>(p, p + kPixels)}}.dump();
}

// ---- endpoints ----

TEST_F(Server, ServesThePageItsFilesHealthAndModel) {
    const auto page = http(port(), "GET", "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_TRUE(page.has_header("content-type: text/html; charset=utf-8"));
    EXPECT_NE(page.body.find("<canvas"), std::string::npos);
    EXPECT_EQ(http(port(), "GET", "/app.js").status, 200);
    EXPECT_EQ(http(port(), "GET", "/style.css").status, 200);
    const auto health = http(port(), "GET", "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body_json(), json({{"status", "ok"}}));
    const auto model = http(port(), "GET", "/v1/model");
    EXPECT_EQ(model.status, 200);
    EXPECT_EQ(model.body_json()["hidden"], 10);
    EXPECT_EQ(model.body_json()["activation"], "relu");
    const auto head = http(port(), "HEAD", "/healthz");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.has_header("content-length: 15"));
}

TEST_F(Server, JsonPredictionsEqualPredictIndexOnTheSameRows) {
    const std::string csv = test::cli_fixture("known.csv");
    const Images images = load_csv(csv);
    ASSERT_EQ(images.rows, 12u);
    std::vector<std::vector<int>> rows;
    for (std::size_t i = 0; i < images.rows; ++i) {
        const auto r = test::run_cli("predict --json --model '" + model_path() + "' --data '" + csv + "' --index " +
                                     std::to_string(i));
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json cli = json::parse(r.out);
        const auto answer = http(port(), "POST", "/v1/predict", "application/json", pixels_body(images.sample(i)));
        ASSERT_EQ(answer.status, 200) << answer.body;
        EXPECT_EQ(answer.body_json()["prediction"], cli["prediction"]) << i;
        EXPECT_EQ(answer.body_json()["probabilities"], cli["probabilities"]) << i;
        rows.emplace_back(images.sample(i), images.sample(i) + kPixels);
        // The batch form gives the same answers.
        if (i + 1 == images.rows) {
            const auto batch = http(port(), "POST", "/v1/predict", "application/json", json{{"instances", rows}}.dump());
            ASSERT_EQ(batch.status, 200);
            EXPECT_EQ(batch.body_json()["predictions"][i]["probabilities"], cli["probabilities"]);
        }
    }
}

// A 200×240 grey picture of row `i` of known.csv drawn dark on light, scaled up by 6.
std::string picture_of(const std::uint8_t* pixels) {
    const int w = 200, h = 240;
    std::vector<std::uint8_t> grey(static_cast<std::size_t>(w * h), 250);
    for (int y = 0; y < 28 * 6; ++y) {
        for (int x = 0; x < 28 * 6; ++x) {
            grey[static_cast<std::size_t>((y + 30) * w + x + 10)] = static_cast<std::uint8_t>(255 - pixels[(y / 6) * 28 + x / 6]);
        }
    }
    return encode_png(w, h, 1, grey.data());
}

TEST_F(Server, ImagePredictionsEqualNormalisePlusPredict) {
    const Images images = load_csv(test::cli_fixture("known.csv"));
    const Model model = load_model(model_path());
    for (std::size_t i = 0; i < images.rows; i += 3) {
        const std::string png = picture_of(images.sample(i));
        const auto answer = http(port(), "POST", "/v1/predict", "image/png", png);
        ASSERT_EQ(answer.status, 200) << answer.body;
        const DigitPixels input =
            normalize_digit_image(reinterpret_cast<const std::uint8_t*>(png.data()), png.size(), "test");
        const Eigen::VectorXf p = predict_one(model.params, input.data());
        const json j = answer.body_json();
        EXPECT_EQ(j["input"], json(input));
        for (int k = 0; k < 10; ++k) {
            EXPECT_EQ(j["probabilities"][static_cast<std::size_t>(k)].get<double>(), static_cast<double>(p(k)));
        }
    }
}

TEST_F(Server, ErrorsAreJsonWithTheRightStatus) {
    const auto expect = [&](const Response& r, int status) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_TRUE(r.has_header("content-type: application/json"));
        EXPECT_TRUE(r.body_json().contains("error")) << r.body;
    };
    expect(http(port(), "POST", "/v1/predict", "application/json", "{\"pixels\": [1,"), 400);
    expect(http(port(), "POST", "/v1/predict", "application/json", "{\"pixels\": [1, 2]}"), 400);
    expect(http(port(), "POST", "/v1/predict", "application/json", "{\"pixels\": [" + std::string(783 * 2, ' ') + "256]}"), 400);
    expect(http(port(), "POST", "/v1/predict", "image/png", "not a picture"), 400);
    std::vector<std::uint8_t> white(100 * 100, 255);
    expect(http(port(), "POST", "/v1/predict", "image/png", encode_png(100, 100, 1, white.data())), 400);
    expect(http(port(), "POST", "/v1/predict", "text/csv", "1,2,3"), 415);
    expect(http(port(), "GET", "/nowhere"), 404);
    const auto r405 = http(port(), "GET", "/v1/predict");
    expect(r405, 405);
    EXPECT_TRUE(r405.has_header("allow: post"));
    expect_healthy(port(), "error answers");
}

TEST_F(Server, KeepAliveServesManyRequestsOnOneConnection) {
    Socket s(port());
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(s.send(request_text("GET", "/healthz")));
        EXPECT_EQ(read_response(s).status, 200);
    }
    // Pipelined: three requests in one write, three answers in order.
    s.send(request_text("GET", "/healthz") + request_text("GET", "/nope") + request_text("GET", "/v1/model"));
    EXPECT_EQ(read_response(s).status, 200);
    EXPECT_EQ(read_response(s).status, 404);
    EXPECT_EQ(read_response(s).status, 200);
}

TEST_F(Server, ExpectContinueGetsContinueThenTheAnswer) {
    Socket s(port());
    const std::string body = pixels_body(std::vector<std::uint8_t>(784, 0).data());
    s.send("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    EXPECT_EQ(s.receive(milliseconds(2000)), "HTTP/1.1 100 Continue\r\n\r\n");
    s.send(body);
    EXPECT_EQ(read_response(s).status, 200);
}

// ---- hostile clients ----

TEST_F(Server, DeclaredBodyOverTheLimitIsRefusedBeforeItIsSent) {
    Socket s(port());
    s.send("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n");
    const auto r = read_response(s, milliseconds(2000));  // no body sent: the answer comes from the header alone
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body_json()["error"].get<std::string>().find("1048576"), std::string::npos);
    EXPECT_TRUE(r.has_header("connection: close"));
    // A body of exactly the limit is read (and then refused as JSON, not as too large).
    Socket exact(port());
    exact.send(request_text("POST", "/v1/predict", "application/json", std::string(1 << 20, ' ')));
    EXPECT_EQ(read_response(exact).status, 400);
    expect_healthy(port(), "an oversized declared body");
}

TEST_F(Server, ChunkedBodyIsCutAtTheLimit) {
    Socket s(port());
    s.send("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    // 4 MiB in 64 KiB chunks from another thread; the server stops reading after 1 MiB.
    std::thread sender([&] {
        const std::string chunk = "10000\r\n" + std::string(0x10000, '[') + "\r\n";
        for (int i = 0; i < 64; ++i) {
            if (!s.send(chunk)) break;
        }
    });
    Response r;
    try {
        r = read_response(s, milliseconds(5000));
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
    }
    s.shutdown_write();
    ::shutdown(s.fd(), SHUT_RDWR);  // unblocks the sender if it still writes
    sender.join();
    EXPECT_EQ(r.status, 413);
    expect_healthy(port(), "an endless chunked body");
}

TEST_F(Server, OversizedHeadersAre431) {
    Socket big(port());
    big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
    EXPECT_EQ(read_response(big).status, 431);
    Socket many(port());
    std::string headers;
    for (int i = 0; i < 2000; ++i) headers += "X-" + std::to_string(i) + ": 1\r\n";
    many.send("GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
    EXPECT_EQ(read_response(many).status, 431);
    Socket target(port());
    target.send("GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(read_response(target).status, 431);
    expect_healthy(port(), "oversized headers");
}

TEST_F(Server, SlowDripIsCutOffAtTheReadTimeoutWhileOthersAreServed) {
    Socket slow(port());
    const std::string request = request_text("GET", "/healthz");
    const auto start = Clock::now();
    bool closed = false;
    for (std::size_t i = 0; i < request.size() && seconds_since(start) < 4.0; ++i) {
        if (!slow.send(request.substr(i, 1))) {
            closed = true;
            break;
        }
        if (i % 4 == 0) expect_healthy(port(), "during a slow drip");
        pollfd p{slow.fd(), POLLIN, 0};
        if (::poll(&p, 1, 150) > 0) {
            closed = slow.receive(milliseconds(10)).empty();
            break;
        }
    }
    if (!closed) closed = slow.closed_within(milliseconds(2000));
    EXPECT_TRUE(closed) << "the server closes a request that takes longer than --read-timeout";
    EXPECT_LT(seconds_since(start), 3.0);
    expect_healthy(port(), "a slow drip");
}

TEST_F(Server, IdleConnectionsAreClosedAfterTheReadTimeout) {
    Socket idle(port());
    const auto start = Clock::now();
    EXPECT_TRUE(idle.closed_within(milliseconds(3000)));
    EXPECT_GT(seconds_since(start), 0.8);
    expect_healthy(port(), "an idle connection");
}

TEST_F(Server, HalfClosedConnectionsGetTheirAnswerOrAreClosed) {
    // A whole request, then the client stops writing: the answer still comes.
    Socket whole(port());
    whole.send(request_text("GET", "/healthz"));
    whole.shutdown_write();
    EXPECT_EQ(read_response(whole).status, 200);
    EXPECT_TRUE(whole.closed_within(milliseconds(2000)));
    // Half a header, then the client stops writing: the server closes without an answer.
    Socket half(port());
    half.send("POST /v1/predict HTTP/1.1\r\nContent-Le");
    half.shutdown_write();
    EXPECT_TRUE(half.closed_within(milliseconds(2000)));
    // Half a body.
    Socket body(port());
    body.send("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pix");
    body.shutdown_write();
    EXPECT_TRUE(body.closed_within(milliseconds(2000)));
    expect_healthy(port(), "half-closed connections");
}

TEST_F(Server, GarbageIs400OrClosedNeverACrash) {
    const std::vector<std::string> junk = {
        "HELLO\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        std::string("\0\1\2\3\xff\xfe\r\n\r\n", 10),
        "POST /v1/predict HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "POST /v1/predict HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST /v1/predict HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST /v1/predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST /v1/predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n",
    };
    for (const auto& j : junk) {
        Socket s(port());
        s.send(j);
        std::string seen;
        try {
            const Response r = read_response(s, milliseconds(3000));
            EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status << " for " << json(j).dump();
        } catch (const std::exception& e) {
            seen = e.what();  // closed without an answer is fine too
        }
        expect_healthy(port(), "garbage");
    }
}

TEST_F(Server, TwoHundredConcurrentConnectionsAreAllServed) {
    const std::string body = pixels_body(load_csv(test::cli_fixture("known.csv")).sample(4));
    std::vector<Socket> sockets;
    for (int i = 0; i < 200; ++i) sockets.emplace_back(port());
    for (auto& s : sockets) ASSERT_TRUE(s.send(request_text("POST", "/v1/predict", "application/json", body)));
    int ok = 0;
    for (auto& s : sockets) {
        const auto r = read_response(s, milliseconds(10000));
        ok += r.status == 200 && r.body_json()["prediction"] == 1;
    }
    EXPECT_EQ(ok, 200);
    sockets.clear();
    expect_healthy(port(), "200 concurrent connections");
}

TEST_F(Server, LogsOneLinePerRequest) {
    http(port(), "GET", "/healthz?probe=1");
    http(port(), "GET", "/nowhere");
    std::this_thread::sleep_for(milliseconds(100));
    const std::string log = server_->log();
    const auto at = log.find("GET /healthz 200 ");
    ASSERT_NE(at, std::string::npos) << log;
    EXPECT_NE(log.find("us\n", at), std::string::npos) << log;
    EXPECT_NE(log.find("GET /nowhere 404 "), std::string::npos) << log;
}

// ---- servers of their own ----

TEST(ServerCap, ConnectionsBeyondTheCapWaitAndAreServedWhenOneCloses) {
    test::TempDir dir;
    test::save_pixel_vote_model(dir.file("m.safetensors"));
    ServeProcess server(dir.file("m.safetensors"), {"--max-connections", "4", "--read-timeout", "5", "-q"});
    std::vector<Socket> idle;
    for (int i = 0; i < 4; ++i) {
        idle.emplace_back(server.port());
        idle.back().send(request_text("GET", "/healthz"));  // make sure each is accepted
        EXPECT_EQ(read_response(idle.back()).status, 200);
    }
    Socket waiting(server.port());  // the kernel completes the handshake; the server does not accept yet
    waiting.send(request_text("GET", "/healthz"));
    EXPECT_THROW(waiting.receive(milliseconds(500)), std::runtime_error) << "a fifth connection waits";
    idle.front().close();
    EXPECT_EQ(read_response(waiting, milliseconds(2000)).status, 200) << "and is served once one closes";
    EXPECT_TRUE(server.log().empty()) << "-q: no request log: " << server.log();
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait(milliseconds(10000)), 0);
}

TEST(ServerStop, SigtermFinishesTheRequestInFlightClosesIdleOnesAndExitsZero) {
    test::TempDir dir;
    test::save_pixel_vote_model(dir.file("m.safetensors"));
    ServeProcess server(dir.file("m.safetensors"), {"--threads", "2"});
    Socket idle(server.port());
    idle.send(request_text("GET", "/healthz"));
    EXPECT_EQ(read_response(idle).status, 200);

    // A request in flight: header and half the body sent.
    const std::string body = pixels_body(std::vector<std::uint8_t>(784, 7).data());
    Socket busy(server.port());
    busy.send("POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 100));
    std::this_thread::sleep_for(milliseconds(200));
    server.signal(SIGTERM);
    EXPECT_TRUE(idle.closed_within(milliseconds(2000))) << "an idle keep-alive connection is closed";
    std::this_thread::sleep_for(milliseconds(200));
    EXPECT_THROW(Socket{server.port()}, std::runtime_error) << "no longer accepting";
    busy.send(body.substr(100));
    const auto r = read_response(busy);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.has_header("connection: close"));
    EXPECT_EQ(server.wait(milliseconds(10000)), 0) << server.log();
}

TEST(ServerStart, BadModelOrBusyPortFailWithAMessage) {
    test::TempDir dir;
    const auto missing = test::run_cli("serve --model '" + dir.file("none.safetensors") + "' --port 0");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("none.safetensors"), std::string::npos) << missing.err;

    test::save_pixel_vote_model(dir.file("m.safetensors"));
    ServeProcess first(dir.file("m.safetensors"), {"-q"});
    const auto busy = test::run_cli("serve --model '" + dir.file("m.safetensors") + "' --port " +
                                    std::to_string(first.port()));
    EXPECT_EQ(busy.exit_code, 1);
    EXPECT_NE(busy.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())), std::string::npos) << busy.err;
    const auto bad_port = test::run_cli("serve --model '" + dir.file("m.safetensors") + "' --port 70000");
    EXPECT_EQ(bad_port.exit_code, 2);
}

}  // namespace
}  // namespace mnistnn
