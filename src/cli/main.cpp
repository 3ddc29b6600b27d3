// mnistnn: train, evaluate and run a small neural network on handwritten digits.
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/mpi_world.hpp"

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

    // Under mpirun (MPI build), the job's ranks; a world of one rank otherwise. A failure on one
    // rank of several ends them all (the others would wait for it forever), naming the rank.
    mnistnn::MpiWorld world;
    const std::string who = world.size() > 1 ? "mnistnn: rank " + std::to_string(world.rank()) + ": " : "mnistnn: ";
    const auto fail = [&world, &who](const std::string& message, int code) {
        std::cerr << who << message << '\n';
        world.abort(code);
        return code;
    };
    try {
        const std::vector<CLI::App*> subcommands = app.get_subcommands({});
        for (std::size_t i = 0; i < subcommands.size(); ++i)
            if (subcommands[i]->parsed()) return runs[i]();
        std::cerr << "mnistnn: no subcommand\n";
        return kExitUsage;
    } catch (const mnistnn::UsageError& e) {
        return fail("error: " + describe(e), kExitUsage);
    } catch (const mnistnn::InterruptedError& e) {
        // Every rank stops on the same step (train agrees on it), so nobody is left waiting.
        if (world.root()) std::cerr << "mnistnn: " << describe(e) << '\n';
        return kExitInterrupted;
    } catch (const mnistnn::Error& e) {
        return fail("error: " + describe(e), kExitFailure);
    } catch (const std::bad_alloc&) {
        return fail("error: out of memory", kExitFailure);
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what(), kExitFailure);
    }
}
