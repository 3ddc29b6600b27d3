#pragma once
// The prediction server (mnistnn_serve library): a request → response service that knows the
// model and the routes (no sockets), and an HTTP/1.1 transport that serves it (Boost.Beast,
// hidden behind this header so users of the library do not need Boost).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mnistnn/model_file.hpp"

namespace mnistnn {

// What the service needs of a request.
struct HttpRequest {
    std::string_view method;        // "GET", "POST", ...
    std::string_view target;        // "/v1/predict?x=1"; the query is ignored
    std::string_view content_type;  // the Content-Type header ("" if absent)
    std::string_view body;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::string allow;  // the Allow header of a 405 answer
};

// Builds the answer {"error": message} with `status`.
HttpResponse error_response(int status, const std::string& message);

// The routes, each a plain function of the request (thread-safe: the model is read-only):
//   GET  /, /app.js, /style.css  the drawing page (embedded in the binary)
//   GET  /healthz                {"status":"ok"}
//   GET  /v1/model               hidden size, activation, held-out accuracy, metadata
//   POST /v1/predict             JSON {"pixels":[784]} or {"instances":[[784],...]} (≤ kMaxBatch
//                                rows), or the bytes of a PNG/JPEG/PGM picture (normalised as
//                                normalize_digit_image does)
// Errors: 400 bad JSON/pixels/picture, 404 unknown path, 405 wrong method, 415 unknown type.
class PredictionService {
public:
    static constexpr std::size_t kMaxBatch = 1000;

    explicit PredictionService(Model model);
    HttpResponse handle(const HttpRequest& request) const;

    HttpResponse predict_json(std::string_view body) const;
    HttpResponse predict_image(std::string_view body) const;
    HttpResponse model_info() const;

private:
    Model model_;
    std::string model_info_;  // the /v1/model answer, built once
};

// One line of the request log.
struct RequestLog {
    std::string method;  // "-" when the request line could not be read
    std::string path;
    int status = 0;
    std::int64_t microseconds = 0;  // from the end of the request's header to the answer sent
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0: any free port (see Server::port())
    int threads = 1;            // threads running the event loop (≥ 1)
    std::size_t max_body = std::size_t{1} << 20;   // bytes; larger bodies get 413
    std::size_t max_header = 8 * 1024;             // bytes of request line + headers; larger get 431
    std::chrono::milliseconds read_timeout{10'000};  // to read one whole request, or idle between
    std::size_t max_connections = 256;  // beyond this, new connections wait in the listen queue
    bool handle_signals = true;         // SIGINT/SIGTERM stop the server gracefully
    std::function<void(const RequestLog&)> on_request;  // called once per answered request
};

// An HTTP/1.1 server (keep-alive, chunked bodies) for a PredictionService.
class Server {
public:
    // Binds and listens; throws IoError if the address cannot be used.
    Server(const PredictionService& service, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const;  // the bound port

    // Serves until stop() or (with handle_signals) SIGINT/SIGTERM. Then it stops accepting,
    // closes idle connections, lets requests in flight finish, and returns.
    void run();
    // Thread-safe; may be called before or during run().
    void stop();

    struct Impl;  // the transport (src/server/transport.cpp)

private:
    std::unique_ptr<Impl> impl_;
};

// The page's files, embedded at build time from web/: (path, content type, bytes).
struct WebAsset {
    std::string_view path;
    std::string_view content_type;
    std::string_view body;
};
const std::vector<WebAsset>& web_assets();

}  // namespace mnistnn
