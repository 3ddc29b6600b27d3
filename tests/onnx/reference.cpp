// onnx_reference MODEL DATA OUT: mnistnn's own float32 probabilities for every row of DATA, the
// reference ONNX Runtime's outputs are compared with (tests/onnx/ort_check.js). OUT gets rows × 10
// little-endian float32, row-major (row i = sample i, column c = class c). The probabilities come
// from the library's forward(): X = pixels_to_input(bytes) (v/255), Z1 = W1·X + b1, A1 = g(Z1),
// P = softmax(W2·A1 + b2).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <ostream>
#include <vector>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: onnx_reference MODEL DATA OUT\n";
        return 2;
    }
    try {
        const mnistnn::Model model = mnistnn::load_model(argv[1]);
        const mnistnn::Images images = mnistnn::load_images(argv[2]);
        std::vector<float> probabilities;
        probabilities.reserve(images.rows * mnistnn::kClasses);
        constexpr std::size_t kBlock = 1000;
        Eigen::MatrixXf X;
        Eigen::MatrixXf P;
        for (std::size_t first = 0; first < images.rows; first += kBlock) {
            const std::size_t m = std::min(kBlock, images.rows - first);
            mnistnn::pixels_to_input(images.sample(first), m, X);
            mnistnn::forward(model.params, X.leftCols(static_cast<Eigen::Index>(m)), P);
            // P is 10×m column-major: column j (sample first + j) is contiguous.
            probabilities.insert(probabilities.end(), P.data(), P.data() + P.size());
        }
        mnistnn::write_file_atomically(argv[3], [&](std::ostream& out) {
            out.write(reinterpret_cast<const char*>(probabilities.data()),
                      static_cast<std::streamsize>(probabilities.size() * sizeof(float)));
        });
        std::cerr << "onnx_reference: " << images.rows << " rows\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "onnx_reference: error: " << e.what() << '\n';
        return 1;
    }
}
