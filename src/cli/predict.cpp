// `mnistnn predict`: classify one row (--index N: prediction, probabilities, the digit drawn)
// or every row of a file (--out FILE: Kaggle's submission format).
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/render.hpp"

namespace mnistnn::cli {
namespace {

// --out: every row's predicted class, written atomically as `ImageId,Label` with ids from 1.
int run_submission(const Options& o) {
    check_output_path(o.out, o.data, "submission");
    check_output_path(o.out, o.model, "submission");
    if (!o.labels.empty()) check_output_path(o.out, o.labels, "submission");

    const Model model = load_model_file(o.model);
    const Images images = load_data_file(o.data, o.labels);
    if (images.rows == 0) throw UsageError("'" + o.data + "' has no rows to predict");

    // Labels, when the file has them, are ignored: the submission holds predictions only.
    std::vector<std::uint8_t> predictions(images.rows);
    BatchEngine engine(model.params.hidden(), o.threads);
    engine.evaluate(model.params, images.pixels.data(), nullptr, images.rows, predictions.data());

    std::string text = "ImageId,Label\n";
    text.reserve(text.size() + images.rows * 8);
    for (std::size_t i = 0; i < images.rows; ++i) {
        text += std::to_string(i + 1);
        text += ',';
        text += static_cast<char>('0' + predictions[i]);
        text += '\n';
    }
    write_file_atomically(o.out, [&](std::ostream& out) { out << text; });

    if (o.json) {
        std::cout << nlohmann::json{{"rows", images.rows}, {"out", o.out}}.dump() << '\n';
    } else {
        std::printf("wrote %zu predictions to %s\n", images.rows, o.out.c_str());
    }
    return 0;
}

}  // namespace

void setup_predict(CLI::App& app, Options& o) {
    CLI::App* sub = app.add_subcommand(
        "predict", "Classify one digit (--index N) or every row of a file into a submission CSV (--out FILE)");
    sub->add_option("--model", o.model, "Model to use (safetensors)")->type_name("FILE");
    CLI::Option* data = sub->add_option_function<std::string>(
                               "--data",
                               [&o](const std::string& path) {
                                   o.data = path;
                                   o.data_given = true;
                               },
                               "Data file (labelled or not); default for --index: the model's training data")
                            ->type_name("FILE");
    sub->add_option("--labels", o.labels, "IDX label file, when --data is an IDX image file")
        ->type_name("FILE")
        ->needs(data);
    sub->add_option("--index", o.index, "Row to classify, 0-based as pandas counts (df.iloc[N])")
                         ->type_name("N")
                         ->default_str("")  // -1 only means "not given"
                         ->each([&o](const std::string&) { o.index_given = true; });
    sub->add_flag("--ascii", o.ascii, "Draw the digit in plain ASCII even on a colour terminal");
    sub->add_option("--image", o.image, "With --index: also write the digit, scaled up, to FILE (.png or .pgm)")
        ->type_name("FILE");
    sub->add_option("--out", o.out, "Predict every row of --data and write Kaggle's submission CSV (ImageId,Label)")
        ->type_name("FILE");
    sub->add_option("--threads", o.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o.json, "Print the result as one JSON object on stdout (no drawing)");
}

int run_predict(const Options& o) {
    const bool one = o.index_given;
    const bool all = !o.out.empty();
    if (one && all) {
        throw UsageError("--index and --out cannot be used together: --index N classifies one row, --out FILE "
                         "writes predictions for every row");
    }
    if (!one && !all) {
        throw UsageError("predict needs --index N (classify one row) or --data FILE --out submission.csv "
                         "(classify every row)");
    }
    if (all) {
        if (!o.data_given) throw UsageError("--out needs --data FILE: the images to predict (e.g. data/test.csv)");
        if (!o.image.empty()) throw UsageError("--image draws one digit: use it with --index, not --out");
        if (o.ascii) throw UsageError("--ascii draws one digit: use it with --index, not --out");
        return run_submission(o);
    }

    if (!o.image.empty()) {
        if (!is_image_path(o.image)) throw UsageError("--image '" + o.image + "' must end in .png or .pgm");
        check_output_path(o.image, o.model, "image");
        if (o.data_given) check_output_path(o.image, o.data, "image");
        if (!o.labels.empty()) check_output_path(o.image, o.labels, "image");
    }

    const Model model = load_model_file(o.model);

    // The model's own data (by default, or when --data names the same file): fingerprint-checked,
    // and the row's split is known. Any other file: split "none".
    const std::string trained_on = metadata_string_or(model, "data_path", "");
    const std::string trained_labels = metadata_string_or(model, "labels_path", "");
    const bool own_data = !o.data_given || (same_file(o.data, trained_on) &&
                                            (o.labels.empty() ? trained_labels.empty()
                                                              : same_file(o.labels, trained_labels)));
    Images images;
    std::string source;
    std::vector<std::size_t> holdout_rows;
    if (own_data) {
        if (!o.image.empty()) check_output_path(o.image, metadata_string(model, "data_path"), "image");
        ModelData data = load_model_data(model);
        images = std::move(data.all);
        holdout_rows = std::move(data.split.holdout);
        source = o.data_given ? o.data : data.path;
    } else {
        images = load_data_file(o.data, o.labels);
        source = o.data;
    }

    const long long rows = static_cast<long long>(images.rows);
    if (o.index < 0 || o.index >= rows) {
        throw UsageError("index " + std::to_string(o.index) + " is out of range: " + source + " has " +
                         std::to_string(rows) + " rows" +
                         (rows > 0 ? " (valid 0.." + std::to_string(rows - 1) + ")" : ""));
    }
    const auto row = static_cast<std::size_t>(o.index);
    const std::uint8_t* pixels = images.sample(row);

    std::string split = "none";
    if (own_data) {
        split = std::find(holdout_rows.begin(), holdout_rows.end(), row) != holdout_rows.end() ? "holdout" : "train";
    }

    const Eigen::VectorXf probabilities = predict_one(model.params, pixels);
    Eigen::Index arg = 0;
    probabilities.maxCoeff(&arg);
    const int prediction = static_cast<int>(arg);
    const bool labelled = images.has_labels();
    const int label = labelled ? images.labels[row] : -1;

    if (!o.image.empty()) write_digit_image(o.image, pixels);

    if (o.json) {
        nlohmann::json probs = nlohmann::json::array();
        for (Eigen::Index k = 0; k < probabilities.size(); ++k) probs.push_back(static_cast<double>(probabilities(k)));
        const nlohmann::json j = {{"index", o.index},
                                  {"prediction", prediction},
                                  {"label", labelled ? nlohmann::json(label) : nlohmann::json(nullptr)},
                                  {"probabilities", probs},
                                  {"split", split}};
        std::cout << j.dump() << '\n';
    } else {
        std::array<int, kClasses> order{};
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](int a, int b) { return probabilities(a) > probabilities(b); });
        std::printf("row         %lld of %s\nprediction  %d\n", o.index, source.c_str(), prediction);
        if (labelled) std::printf("label       %d%s\n", label, label == prediction ? "" : "  (wrong)");
        std::printf("top 3       ");
        for (std::size_t k = 0; k < 3; ++k) {
            std::printf("%s%d %.2f%%", k == 0 ? "" : ", ", order[k],
                        100.0 * static_cast<double>(probabilities(order[k])));
        }
        std::printf("\nsplit       %s\n\n", split.c_str());
        const std::string drawing = colour_allowed() && !o.ascii ? render_halfblock(pixels) : render_ascii(pixels);
        std::fwrite(drawing.data(), 1, drawing.size(), stdout);
    }
    if (!o.image.empty()) std::cerr << "wrote " << o.image << '\n';
    return 0;
}

}  // namespace mnistnn::cli
