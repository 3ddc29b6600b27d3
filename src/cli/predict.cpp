// `mnistnn predict` — being implemented.
#include "cli.hpp"
#include "mnistnn/error.hpp"

namespace mnistnn::cli {
void setup_predict(CLI::App& app, Options&) { app.add_subcommand("predict", "(not implemented yet)"); }
int run_predict(const Options&) { throw Error("predict is not implemented yet"); }
}  // namespace mnistnn::cli
