// `mnistnn convert`: IDX (raw or gzip) → Kaggle-format CSV, written atomically.
#include <iostream>
#include <memory>

#include "cli.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/loader.hpp"

namespace mnistnn::cli {
namespace {

struct ConvertOptions {
    std::string images;  // IDX image file
    std::string labels;  // IDX label file (optional)
    std::string out;     // CSV to write
};

int run_convert(const ConvertOptions& o) {
    check_output_path(o.out, o.images, "output");
    const Images images = load_idx(o.images, o.labels);
    write_file_atomically(o.out, [&](std::ostream& out) { write_csv(images, out); });
    std::cerr << "wrote " << images.rows << " rows " << (images.has_labels() ? "with" : "without") << " labels to "
              << o.out << '\n';
    return 0;
}

}  // namespace

Command add_convert(CLI::App& app) {
    auto o = std::make_shared<ConvertOptions>();
    CLI::App* sub = app.add_subcommand("convert", "Convert MNIST IDX files to a Kaggle-format CSV");
    sub->add_option("--images", o->images, "IDX image file (idx3, raw or .gz)")->required()->check(CLI::ExistingFile);
    sub->add_option("--labels", o->labels, "IDX label file (idx1, raw or .gz); omit for an unlabelled CSV")
        ->check(CLI::ExistingFile);
    sub->add_option("--out", o->out, "CSV file to write")->required();
    return [o] { return run_convert(*o); };
}

}  // namespace mnistnn::cli
