// `mnistnn plot`: draws a learning-curve log (from `train --log-csv`) as SVG or PNG.
#include <filesystem>
#include <iostream>

#include "cli.hpp"
#include "mnistnn/plot.hpp"

namespace mnistnn::cli {

void setup_plot(CLI::App& app, Options& options) {
    CLI::App* sub = app.add_subcommand("plot", "Draw a learning-curve log (from train --log-csv) as SVG or PNG");
    sub->add_option("FILE", options.plot_in, "Learning-curve CSV written by `mnistnn train --log-csv`")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--out", options.plot_out, "Image to write: .svg or .png (by extension)")->required();
}

int run_plot(const Options& options) {
    plot_format_for(options.plot_out);  // refuse an unknown extension before reading anything
    check_output_path(options.plot_out, options.plot_in, "plot");
    const LearningCurves curves = read_learning_curves(options.plot_in);
    const std::string name = std::filesystem::path(options.plot_in).filename().string();
    write_curves_plot(options.plot_out, curves, "Learning curves: " + name);
    std::cerr << "wrote " << options.plot_out << " (" << curves.rows << " row" << (curves.rows == 1 ? "" : "s");
    if (curves.holdout_loss.empty() && curves.holdout_accuracy.empty()) std::cerr << ", no held-out values";
    std::cerr << ")\n";
    if (curves.skipped_training > 0) {
        std::cerr << "note: " << curves.skipped_training
                  << " non-finite training loss/accuracy value(s) were left out of the plot\n";
    }
    return 0;
}

}  // namespace mnistnn::cli
