// `mnistnn eval` — being implemented.
#include "cli.hpp"
#include "mnistnn/error.hpp"

namespace mnistnn::cli {
void setup_eval(CLI::App& app, Options&) { app.add_subcommand("eval", "(not implemented yet)"); }
int run_eval(const Options&) { throw Error("eval is not implemented yet"); }
}  // namespace mnistnn::cli
