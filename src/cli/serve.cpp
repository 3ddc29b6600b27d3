// `mnistnn serve`: the prediction server and the drawing page, until SIGINT/SIGTERM.
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "cli.hpp"
#include "mnistnn/server.hpp"

namespace mnistnn::cli {
namespace {

struct ServeOptions {
    std::string model = kDefaultModel;
    std::string host = "127.0.0.1";
    int port = 8080;
    int threads = 0;
    std::size_t max_body = std::size_t{1} << 20;
    std::size_t max_header = 8 * 1024;
    double read_timeout = 10.0;
    std::size_t max_connections = 256;
    bool quiet = false;
};

void log_request(const RequestLog& r) {
    std::fprintf(stderr, "%s %s %d %lldus\n", r.method.c_str(), r.path.c_str(), r.status,
                 static_cast<long long>(r.microseconds));
}

ServerOptions server_options(const ServeOptions& o) {
    ServerOptions s;
    s.host = o.host;
    s.port = static_cast<std::uint16_t>(o.port);
    const unsigned cores = std::thread::hardware_concurrency();
    s.threads = o.threads > 0 ? o.threads : static_cast<int>(cores > 0 ? cores : 1);
    s.max_body = o.max_body;
    s.max_header = o.max_header;
    s.read_timeout = std::chrono::milliseconds(static_cast<long long>(o.read_timeout * 1000.0));
    s.max_connections = o.max_connections;
    if (!o.quiet) s.on_request = log_request;
    return s;
}

std::string url(const std::string& host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/";
}

int run_serve(const ServeOptions& o) {
    const PredictionService service(load_model_file(o.model));
    Server server(service, server_options(o));
    // The bound address is the command's result (port 0 picks a free one): stdout, at once.
    std::cout << "listening on " << url(o.host, server.port()) << std::endl;
    server.run();
    if (!o.quiet) std::cerr << "mnistnn serve: stopped\n";
    return 0;
}

}  // namespace

std::function<int()> add_serve(CLI::App& app) {
    auto o = std::make_shared<ServeOptions>();
    CLI::App* sub = app.add_subcommand(
        "serve", "Serve predictions over HTTP (POST /v1/predict) and a page to draw digits on (GET /)");
    sub->add_option("--model", o->model, "Model to serve (safetensors)")->type_name("FILE");
    sub->add_option("--host", o->host, "Address to listen on (loopback unless you say otherwise)");
    sub->add_option("--port", o->port, "Port to listen on (0: any free port; the bound one is printed)")
        ->check(CLI::Range(0, 65535));
    sub->add_option("--threads", o->threads, "Threads serving requests (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_option("--max-body", o->max_body, "Largest request body in bytes (larger: 413)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
        ->type_name("BYTES");
    sub->add_option("--max-header", o->max_header, "Largest request header in bytes (larger: 431)")
        ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 20))
        ->type_name("BYTES");
    sub->add_option("--read-timeout", o->read_timeout,
                    "Seconds to receive a whole request, and to wait idle between requests")
        ->check(number_check("SECONDS", [](double v) { return v >= 0.01 && v <= 86400.0; }, "0.01 to 86400"));
    sub->add_option("--max-connections", o->max_connections,
                    "Connections served at once; more wait to be accepted")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
    sub->add_flag("-q,--quiet", o->quiet, "No request log on stderr");
    return [o] { return run_serve(*o); };
}

}  // namespace mnistnn::cli
