// `mnistnn convert`: IDX (raw or gzip) → Kaggle-format CSV, written atomically.
#include <iostream>

#include "cli.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/loader.hpp"

namespace mnistnn::cli {

void setup_convert(CLI::App& app, Options& options) {
    CLI::App* sub = app.add_subcommand("convert", "Convert MNIST IDX files to a Kaggle-format CSV");
    sub->add_option("--images", options.images_in, "IDX image file (idx3, raw or .gz)")->required()->check(CLI::ExistingFile);
    sub->add_option("--labels", options.labels_in, "IDX label file (idx1, raw or .gz); omit for an unlabelled CSV")
        ->check(CLI::ExistingFile);
    sub->add_option("--out", options.csv_out, "CSV file to write")->required();
}

int run_convert(const Options& options) {
    check_output_path(options.csv_out, options.images_in, "output");
    const Images images = load_idx(options.images_in, options.labels_in);
    write_file_atomically(options.csv_out, [&](std::ostream& out) { write_csv(images, out); });
    std::cerr << "wrote " << images.rows << " rows " << (images.has_labels() ? "with" : "without") << " labels to "
              << options.csv_out << '\n';
    return 0;
}

}  // namespace mnistnn::cli
