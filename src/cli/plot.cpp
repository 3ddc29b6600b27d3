// `mnistnn plot` — being implemented.
#include "cli.hpp"
#include "mnistnn/error.hpp"

namespace mnistnn::cli {
void setup_plot(CLI::App& app, Options&) { app.add_subcommand("plot", "(not implemented yet)"); }
int run_plot(const Options&) { throw Error("plot is not implemented yet"); }
}  // namespace mnistnn::cli
