// mnistnn: train, evaluate and run a small neural network on handwritten digits.
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>

#include "cli.hpp"
#include "mnistnn/error.hpp"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

}  // namespace

int main(int argc, char** argv) {
    using namespace mnistnn::cli;
    CLI::App app{"mnistnn: train, evaluate and run a small neural network on handwritten digits (MNIST)", "mnistnn"};
    app.set_version_flag("--version", kVersion);
    app.require_subcommand(1, 1);
    app.option_defaults()->always_capture_default();

    Options options;
    setup_train(app, options);
    setup_eval(app, options);
    setup_predict(app, options);
    setup_convert(app, options);
    setup_plot(app, options);
    const auto serve = add_serve(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        // One line, like every other error, and the usage exit code.
        std::cerr << "mnistnn: error: " << e.what() << " (see mnistnn --help)\n";
        return kExitUsage;
    }

    try {
        for (CLI::App* sub : app.get_subcommands()) {
            const std::string name = sub->get_name();
            if (name == "train") return run_train(options);
            if (name == "eval") return run_eval(options);
            if (name == "predict") return run_predict(options);
            if (name == "convert") return run_convert(options);
            if (name == "plot") return run_plot(options);
            if (name == "serve") return serve();
        }
        std::cerr << "mnistnn: no subcommand\n";
        return kExitUsage;
    } catch (const mnistnn::UsageError& e) {
        std::cerr << "mnistnn: error: " << e.what() << '\n';
        return kExitUsage;
    } catch (const mnistnn::InterruptedError& e) {
        std::cerr << "mnistnn: " << e.what() << '\n';
        return kExitInterrupted;
    } catch (const mnistnn::Error& e) {
        std::cerr << "mnistnn: error: " << e.what() << '\n';
        return kExitFailure;
    } catch (const std::bad_alloc&) {
        std::cerr << "mnistnn: error: out of memory\n";
        return kExitFailure;
    } catch (const std::exception& e) {
        std::cerr << "mnistnn: internal error: " << e.what() << '\n';
        return kExitFailure;
    }
}
