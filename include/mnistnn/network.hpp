#pragma once
// The 784 → H → 10 network: parameters, forward pass, gradients. Math only:
// Eigen and the standard library, no I/O. Samples are columns (X is 784×m).
#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <string>

#include "mnistnn/images.hpp"

namespace mnistnn {

enum class Activation { ReLU, Sigmoid };

std::string to_string(Activation activation);
// Throws UsageError for anything but "relu" / "sigmoid".
Activation activation_from_string(const std::string& name);

struct Params {
    Eigen::MatrixXf W1;  // H×784
    Eigen::VectorXf b1;  // H
    Eigen::MatrixXf W2;  // 10×H
    Eigen::VectorXf b2;  // 10
    Activation activation = Activation::ReLU;

    int hidden() const { return static_cast<int>(W1.rows()); }
};

// Gradients have the shapes of the parameters they belong to.
struct Gradients {
    Eigen::MatrixXf dW1;  // H×784
    Eigen::VectorXf db1;  // H
    Eigen::MatrixXf dW2;  // 10×H
    Eigen::VectorXf db2;  // 10

    explicit Gradients(int hidden = 0);
    void set_zero();
};

// Pixel byte → network input in [0,1]; a table so every path converts identically (v/255).
const float* pixel_scale_table();

// Converts m uint8 samples (784 bytes each, contiguous) into X (784×m, values v/255).
void pixels_to_input(const std::uint8_t* pixels, std::size_t m, Eigen::MatrixXf& X);

// Probabilities P (10×m) for inputs X (784×m):
//   Z1 = W1·X + b1 (H×m), A1 = g(Z1), Z2 = W2·A1 + b2 (10×m), P = softmax(Z2) column-wise,
//   softmax stabilised by subtracting each column's max.
void forward(const Params& params, const Eigen::Ref<const Eigen::MatrixXf>& X, Eigen::MatrixXf& P);

// Column-wise stable softmax in place: Z ← exp(Z − max) / Σ exp(Z − max).
void softmax_columns(Eigen::MatrixXf& Z);

// Sum over a batch, before any division by m.
struct BatchTotals {
    double loss_sum = 0.0;    // Σ −log P[y, j]
    std::size_t correct = 0;  // # argmax P[:, j] == y_j
    std::size_t rows = 0;
};

// Forward + backward over all m samples of uint8 data, fused per block of columns so X is
// streamed once. Returns loss/accuracy of the forward pass and writes the mean gradients
// of the mean cross-entropy L = (1/m) Σ −log P[y_j, j]:
//   dZ2 = (P − Y)/m (10×m)        dW2 = dZ2·A1ᵀ (10×H)     db2 = Σ_j dZ2 (10)
//   dZ1 = W2ᵀ·dZ2 ⊙ g'(Z1) (H×m)  dW1 = dZ1·Xᵀ (H×784)     db1 = Σ_j dZ1 (H)
// The samples are cut into a fixed number of chunks independent of `threads`, each chunk's
// partial gradient is summed in chunk order, so the result is bit-identical for any thread count.
BatchTotals full_batch_gradients(const Params& params, const std::uint8_t* pixels,
                                 const std::uint8_t* labels, std::size_t m, int threads,
                                 Gradients& grads);

// Loss and accuracy only (no gradients), same block streaming.
BatchTotals evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                     std::size_t m, int threads);

// Class probabilities for a single sample (784 bytes).
Eigen::VectorXf predict_one(const Params& params, const std::uint8_t* pixels);

// Predicted class for each of m samples.
void predict_classes(const Params& params, const std::uint8_t* pixels, std::size_t m, int threads,
                     std::uint8_t* out);

}  // namespace mnistnn
