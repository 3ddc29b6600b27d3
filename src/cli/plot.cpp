// `mnistnn plot`: draws a learning-curve log (from `train --log-csv`) as SVG or PNG.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli.hpp"
#include "mnistnn/plot.hpp"

namespace mnistnn::cli {
namespace {

struct PlotOptions {
    std::string log;  // the learning-curve CSV
    std::string out;  // .svg or .png
};

int run_plot(const PlotOptions& o) {
    plot_format_for(o.out);  // refuse an unknown extension before reading anything
    check_output_path(o.out, o.log, "plot");
    const LearningCurves curves = read_learning_curves(o.log);
    const std::string name = std::filesystem::path(o.log).filename().string();
    write_curves_plot(o.out, curves, "Learning curves: " + name);
    std::cerr << "wrote " << o.out << " (" << curves.rows << " row" << (curves.rows == 1 ? "" : "s");
    if (curves.holdout_loss.empty() && curves.holdout_accuracy.empty()) std::cerr << ", no held-out values";
    std::cerr << ")\n";
    if (curves.skipped_training > 0) {
        std::cerr << "note: " << curves.skipped_training
                  << " non-finite training loss/accuracy value(s) were left out of the plot\n";
    }
    return 0;
}

}  // namespace

Command add_plot(CLI::App& app) {
    auto o = std::make_shared<PlotOptions>();
    CLI::App* sub = app.add_subcommand("plot", "Draw a learning-curve log (from train --log-csv) as SVG or PNG");
    sub->add_option("FILE", o->log, "Learning-curve CSV written by `mnistnn train --log-csv`")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--out", o->out, "Image to write: .svg or .png (by extension)")->required();
    return [o] { return run_plot(*o); };
}

}  // namespace mnistnn::cli
