// mnistnn: train, evaluate and run a small neural network on handwritten digits.
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <vector>

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

    // Each subcommand adds itself and returns how to run it; runs[i] belongs to the i-th one.
    std::vector<Command> runs;
    for (Command (*add)(CLI::App&) : {add_train, add_eval, add_predict, add_convert, add_plot, add_export, add_serve})
        runs.push_back(add(app));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        // One line, like every other error, and the usage exit code.
        std::cerr << "mnistnn: error: " << e.what() << " (see mnistnn --help)\n";
        return kExitUsage;
    }

    try {
        const std::vector<CLI::App*> subcommands = app.get_subcommands({});
        for (std::size_t i = 0; i < subcommands.size(); ++i)
            if (subcommands[i]->parsed()) return runs[i]();
        std::cerr << "mnistnn: no subcommand\n";
        return kExitUsage;
    } catch (const mnistnn::UsageError& e) {
        std::cerr << "mnistnn: error: " << describe(e) << '\n';
        return kExitUsage;
    } catch (const mnistnn::InterruptedError& e) {
        std::cerr << "mnistnn: " << describe(e) << '\n';
        return kExitInterrupted;
    } catch (const mnistnn::Error& e) {
        std::cerr << "mnistnn: error: " << describe(e) << '\n';
        return kExitFailure;
    } catch (const std::bad_alloc&) {
        std::cerr << "mnistnn: error: out of memory\n";
        return kExitFailure;
    } catch (const std::exception& e) {
        std::cerr << "mnistnn: internal error: " << e.what() << '\n';
        return kExitFailure;
    }
}
