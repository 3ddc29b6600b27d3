// The HTTP/1.1 transport of mnistnn serve: Boost.Beast over Asio. One io_context run by N
// threads; every connection is a Session on its own strand. Limits (header size, body size,
// read deadline, connection count) are enforced here, before any byte reaches the handlers.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <atomic>
#include <csignal>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <unordered_map>

#include "mnistnn/error.hpp"
#include "mnistnn/server.hpp"

namespace mnistnn {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// After an error answer the connection is closed; unread request bytes are first drained for at
// most this long, so the client sees the answer rather than a reset.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr std::size_t kDrainBytes = std::size_t{16} << 20;

bool is_http_error(const beast::error_code& ec) {
    return &ec.category() == &beast::error_code(http::error::end_of_stream).category();
}

}  // namespace

class Session;

struct Server::Impl {
    Impl(const PredictionService& s, ServerOptions o)
        : service(s), options(std::move(o)), accept_strand(asio::make_strand(ioc)), acceptor(accept_strand),
          signals(accept_strand), retry_timer(accept_strand) {}

    void listen();
    void do_accept();
    void on_accept(const beast::error_code& ec, tcp::socket socket);
    void begin_stop();
    void session_closed(Session* session);

    const PredictionService& service;
    ServerOptions options;
    asio::io_context ioc;
    asio::strand<asio::io_context::executor_type> accept_strand;
    tcp::acceptor acceptor;
    asio::signal_set signals;
    asio::steady_timer retry_timer;
    std::atomic<bool> stopping{false};
    bool accept_paused = false;  // accept strand only

    std::mutex mutex;  // guards the two below
    std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
    std::size_t active = 0;
};

// One connection: read a request (header, then body), answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket&& socket, Server::Impl& server) : stream_(std::move(socket)), server_(server) {}
    ~Session() { server_.session_closed(this); }

    void start() {
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
    }

    // Closes the connection if it is waiting for a request (server shutdown); a request being
    // read past its header, handled or answered is finished first.
    void close_if_idle() {
        asio::post(stream_.get_executor(), [self = shared_from_this()] {
            if (self->idle_) self->stream_.close();
        });
    }

private:
    const ServerOptions& options() const { return server_.options; }

    void read_header() {
        if (server_.stopping) return stream_.close();
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(options().max_header, std::numeric_limits<std::uint32_t>::max())));
        parser_->body_limit(options().max_body);
        method_ = "-";
        path_ = "-";
        idle_ = true;
        // One deadline for the whole request (header and body): a slow drip cannot hold it open.
        stream_.expires_after(options().read_timeout);
        http::async_read_header(stream_, buffer_, *parser_,
                                beast::bind_front_handler(&Session::on_header, shared_from_this()));
    }

    void on_header(beast::error_code ec, std::size_t) {
        idle_ = false;
        start_ = Clock::now();
        if (ec) return read_failed(ec);
        const auto& req = parser_->get();
        method_ = std::string(req.method_string());
        path_ = std::string(req.target().substr(0, std::min<std::size_t>(req.target().find('?'), 200)));
        // Beast refuses a declared length over body_limit itself (body_limit above); this is for
        // clarity should that change.
        const auto length = parser_->content_length();
        if (length && *length > options().max_body) return refuse(413, body_limit_message());
        if (parser_->is_done()) return handle();
        if (beast::iequals(req[http::field::expect], "100-continue")) {
            static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
            return asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                                     [self = shared_from_this()](beast::error_code wec, std::size_t) {
                                         if (wec) return self->stream_.close();
                                         self->read_body();
                                     });
        }
        read_body();
    }

    void read_body() {
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_body, shared_from_this()));
    }

    void on_body(beast::error_code ec, std::size_t) {
        if (ec) return read_failed(ec);
        handle();
    }

    std::string body_limit_message() const {
        return "request body is larger than the limit of " + std::to_string(options().max_body) + " bytes";
    }

    // A request that could not be read: a limit (413/431), malformed HTTP (400), or a connection
    // that went away or timed out (closed without an answer).
    void read_failed(const beast::error_code& ec) {
        if (ec == http::error::body_limit) return refuse(413, body_limit_message());
        if (ec == http::error::header_limit) {
            return refuse(431, "request header is larger than the limit of " + std::to_string(options().max_header) +
                                   " bytes");
        }
        if (ec == http::error::end_of_stream || ec == http::error::partial_message || !is_http_error(ec)) {
            return stream_.close();  // closed, reset, timed out or cancelled
        }
        refuse(400, "malformed HTTP request: " + ec.message());
    }

    void handle() {
        auto& req = parser_->get();
        HttpResponse answer;
        try {
            const HttpRequest request{req.method_string(), req.target(), req[http::field::content_type], req.body()};
            answer = server_.service.handle(request);
        } catch (const std::bad_alloc&) {
            answer = error_response(500, "out of memory");
        } catch (const std::exception& e) {
            answer = error_response(500, std::string("internal error: ") + e.what());
        }
        const bool keep_alive = req.keep_alive() && !server_.stopping;
        send(std::move(answer), keep_alive, req.method() == http::verb::head, req.version());
    }

    // Answers with an error and closes: the rest of the request is not read.
    void refuse(int status, const std::string& message) {
        if (start_ == Clock::time_point{}) start_ = Clock::now();
        send(error_response(status, message), false, false, 11);
    }

    void send(HttpResponse answer, bool keep_alive, bool head, unsigned version) {
        response_.emplace(static_cast<http::status>(answer.status), version == 10 ? 10 : 11);
        auto& res = *response_;
        res.set(http::field::server, "mnistnn");
        res.set(http::field::content_type, answer.content_type);
        res.set(http::field::cache_control, "no-store");
        res.set("X-Content-Type-Options", "nosniff");
        if (!answer.allow.empty()) res.set(http::field::allow, answer.allow);
        res.keep_alive(keep_alive);
        res.body() = std::move(answer.body);
        res.prepare_payload();
        if (head) res.body().clear();  // Content-Length stays: the size a GET would get
        status_ = answer.status;
        stream_.expires_after(options().read_timeout);  // a client that does not read is dropped
        http::async_write(stream_, res, beast::bind_front_handler(&Session::on_write, shared_from_this(), keep_alive));
    }

    void on_write(bool keep_alive, beast::error_code ec, std::size_t) {
        if (options().on_request) {
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_).count();
            try {
                options().on_request(RequestLog{method_, path_, status_, static_cast<std::int64_t>(us)});
            } catch (...) {
                // A failing log line must not take the connection down.
            }
        }
        start_ = {};
        response_.reset();
        if (ec) return stream_.close();
        if (keep_alive) return read_header();
        close_gracefully();
    }

    // Half-closes, then reads and discards what the client still sends (bounded in time and
    // bytes) before closing, so a client still writing its body gets the answer, not a reset.
    void close_gracefully() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.expires_after(std::min<std::chrono::milliseconds>(kDrainTime, options().read_timeout));
        drained_ = 0;
        drain();
    }

    void drain() {
        if (!drain_buffer_) drain_buffer_ = std::make_unique<std::array<char, 16384>>();
        stream_.async_read_some(asio::buffer(*drain_buffer_),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    self->drained_ += n;
                                    if (ec || self->drained_ > kDrainBytes) return self->stream_.close();
                                    self->drain();
                                });
    }

    beast::tcp_stream stream_;
    Server::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::string_body>> response_;
    std::unique_ptr<std::array<char, 16384>> drain_buffer_;
    std::size_t drained_ = 0;
    bool idle_ = false;
    std::string method_ = "-";
    std::string path_ = "-";
    int status_ = 0;
    Clock::time_point start_{};
};

void Server::Impl::listen() {
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(options.host, std::to_string(options.port),
                                          tcp::resolver::numeric_service | tcp::resolver::passive, ec);
    const std::string where = options.host + ":" + std::to_string(options.port);
    if (ec || results.empty()) throw IoError("cannot listen on " + where + ": " + (ec ? ec.message() : "no address"));
    const tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw IoError("cannot listen on " + where + ": " + ec.message());
}

// On the accept strand. At the connection cap it stops accepting: further clients wait in the
// kernel's listen queue until a connection closes (session_closed resumes).
void Server::Impl::do_accept() {
    if (stopping) return;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (active >= options.max_connections) {
            accept_paused = true;
            return;
        }
    }
    acceptor.async_accept(asio::make_strand(ioc), [this](const beast::error_code& ec, tcp::socket socket) {
        on_accept(ec, std::move(socket));
    });
}

void Server::Impl::on_accept(const beast::error_code& ec, tcp::socket socket) {
    if (stopping || ec == asio::error::operation_aborted) return;
    if (ec) {  // e.g. out of file descriptors: try again shortly rather than spin or stop
        retry_timer.expires_after(std::chrono::milliseconds(50));
        retry_timer.async_wait([this](const beast::error_code& wec) {
            if (!wec) do_accept();
        });
        return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto session = std::make_shared<Session>(std::move(socket), *this);
    {
        std::lock_guard<std::mutex> lock(mutex);
        sessions.emplace(session.get(), session);
        ++active;
    }
    session->start();
    do_accept();
}

// Any thread (a Session's destructor).
void Server::Impl::session_closed(Session* session) {
    {
        std::lock_guard<std::mutex> lock(mutex);
        sessions.erase(session);
        --active;
    }
    asio::post(accept_strand, [this] {
        if (accept_paused && !stopping) {
            accept_paused = false;
            do_accept();
        }
    });
}

// On the accept strand: stop accepting, stop listening for signals, close idle connections.
void Server::Impl::begin_stop() {
    if (stopping.exchange(true)) return;
    beast::error_code ignored;
    acceptor.close(ignored);
    signals.clear(ignored);  // a second Ctrl-C now ends the process the default way
    signals.cancel(ignored);
    retry_timer.cancel();
    std::vector<std::shared_ptr<Session>> live;
    {
        std::lock_guard<std::mutex> lock(mutex);
        for (auto& entry : sessions) {
            if (auto s = entry.second.lock()) live.push_back(std::move(s));
        }
    }
    for (auto& s : live) s->close_if_idle();
}

Server::Server(const PredictionService& service, ServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {
    impl_->listen();
}

Server::~Server() = default;

std::uint16_t Server::port() const {
    beast::error_code ec;
    const auto endpoint = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void Server::run() {
    Impl& s = *impl_;
    if (s.options.handle_signals) {
        s.signals.add(SIGINT);
        s.signals.add(SIGTERM);
        s.signals.async_wait([&s](const beast::error_code& ec, int) {
            if (!ec) s.begin_stop();
        });
    }
    asio::post(s.accept_strand, [&s] { s.do_accept(); });
    const int threads = std::max(1, s.options.threads);
    std::vector<std::thread> workers;
    workers.reserve(static_cast<std::size_t>(threads - 1));
    for (int i = 1; i < threads; ++i) workers.emplace_back([&s] { s.ioc.run(); });
    s.ioc.run();
    for (auto& w : workers) w.join();
}

void Server::stop() {
    Impl& s = *impl_;
    asio::post(s.accept_strand, [&s] { s.begin_stop(); });
}

}  // namespace mnistnn
