#pragma once
// The 784 → H → 10 network: parameters, forward pass, gradients. Math only:
// Eigen and the standard library, no I/O. Samples are columns (X is 784×m).
#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

enum class Init { Uniform, He, Xavier };

std::string to_string(Init init);
// Throws UsageError for anything but "uniform" / "he" / "xavier".
Init init_from_string(const std::string& name);

// Fresh parameters for hidden size H, drawn from Rng(seed) in the order W1, b1, W2, b2,
// each filled row by row.
//   Uniform (the notebook's): every weight and bias uniform in [−0.5, 0.5).
//   He: W ~ N(0, 2/fan_in), biases 0.   Xavier: W ~ N(0, 2/(fan_in + fan_out)), biases 0.
Params init_params(int hidden, Activation activation, Init init, std::uint64_t seed);

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
    double loss_sum = 0.0;    // Σ_j −log P[y_j, j]
    std::size_t correct = 0;  // # columns whose argmax P[:, j] == y_j
    std::size_t rows = 0;
};

// Training-time regularisation for BatchEngine::gradients (evaluation never applies it).
//   Dropout (inverted): each hidden activation a[h, j] is multiplied by keep(h, j) ∈ {0, 1/(1−p)},
//   zero with probability p, from dropout_scale(dropout_key, j, h, p) (j = the column in the batch),
//   so the masks are a function of the key (one per step, dropout_step_key) and never of threads:
//     A1 = g(Z1) ⊙ K,   dZ1 = (W2ᵀ·dZ2) ⊙ K ⊙ g′(Z1).
//   Label smoothing: the target of column j is q = (1−ε)·onehot(y_j) + ε/10, so
//     L = (1/m) Σ_j −Σ_c q_c log P[c, j]  and  dZ2 = (P − Q)/m.
// The totals' loss_sum stays the plain cross-entropy −log P[y_j, j] of the (dropped-out) forward
// pass, so logged losses compare across settings.
struct Regularization {
    double dropout = 0.0;          // p, 0 ≤ p < 1
    std::uint64_t dropout_key = 0;
    double label_smoothing = 0.0;  // ε, 0 ≤ ε < 1

    bool active() const { return dropout > 0.0 || label_smoothing > 0.0; }
    // Throws UsageError naming the setting out of range.
    void validate() const;
};

// The dropout key of global step `step` of a run with seed `seed`.
std::uint64_t dropout_step_key(std::uint64_t seed, std::int64_t step);

// keep(unit, column) for `key`: 0 with probability p (a 24-bit uniform u < p), else 1/(1−p) (as float).
float dropout_scale(std::uint64_t key, std::size_t column, std::size_t unit, double p);

// Which implementation BatchEngine runs.
//   Fused: the register-tiled uint8 kernels below, tuned for small H and full batches.
//   Wide: Eigen matrix products over column blocks of up to 256 samples, with the hidden units cut
//         into 2·⌈H/256⌉ fixed bands (a function of H only) that the threads share: Z1 = W1·X per
//         band with bias, activation and dropout fused in, the 10-class head on one thread, then
//         dZ1 and dW1 = dZ1·Xᵀ per band. Also bit-identical for any thread count.
//   Auto: Wide when H ≥ 512 or when the call asks for regularisation (Fused has none), else Fused.
enum class EnginePath { Auto, Fused, Wide };

// Computes forward and backward passes over uint8 data, fused per block of columns so X is
// streamed once per call and never stored as floats; pixel vectors that are all zero are skipped
// (exactly: the sums are the dense ones). Holds its worker threads, the per-thread scratch space
// and per-chunk gradient buffers, so repeated calls (one per iteration) start no threads and
// allocate nothing.
//
// Determinism: the m samples are cut into chunks whose count depends only on m (never on the
// thread count); each chunk's partial gradient is accumulated on its own and the chunks are
// summed in order, so results are bit-identical for any `threads`.
class GradientTransport;

class BatchEngine {
public:
    // threads ≤ 0 means all hardware threads.
    BatchEngine(int hidden, int threads, EnginePath path = EnginePath::Auto);
    ~BatchEngine();
    BatchEngine(const BatchEngine&) = delete;
    BatchEngine& operator=(const BatchEngine&) = delete;

    // Mean cross-entropy L = (1/m) Σ_j −log P[y_j, j] and its gradients (written to `grads`):
    //   dZ2 = (P − Y)/m (10×m)         dW2 = dZ2·A1ᵀ (10×H)    db2 = Σ_j dZ2[:, j] (10)
    //   dZ1 = (W2ᵀ·dZ2) ⊙ g′(Z1) (H×m)  dW1 = dZ1·Xᵀ (H×784)    db1 = Σ_j dZ1[:, j] (H)
    // The 1/m is applied once to the summed gradients. Returns the forward pass's totals.
    // `nonzero`, when given, must be nonzero_vector_masks(pixels, m): the engine then skips
    // computing the masks itself (worth it when the same data is passed on every step).
    // `reg`: dropout and label smoothing (see Regularization); they change the gradients as stated
    // there.
    BatchTotals gradients(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                          std::size_t m, Gradients& grads, const std::uint64_t* nonzero = nullptr,
                          const Regularization& reg = {});

    // Forward pass only: totals (labels may be null: then only rows is set) and optionally each
    // column's predicted class. `nonzero` as for gradients().
    BatchTotals evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                         std::size_t m, std::uint8_t* predictions = nullptr, const std::uint64_t* nonzero = nullptr);

    int threads() const;

    // Data-parallel training (see gradient_transport.hpp): with a transport of P > 1 ranks,
    // gradients() computes this rank's parts of the batch only and every rank returns the whole
    // batch's gradients and totals, bit-identical to one process. All ranks must make the same
    // calls with the same parameters and m. The transport must outlive its use; null: one process.
    // evaluate() is never distributed.
    void set_transport(GradientTransport* transport);

    // Columns [first, last) of an m-column gradients() call whose pixels and labels this rank reads
    // (all of them in one process). The other columns' data need not be filled in.
    std::pair<std::size_t, std::size_t> local_columns(std::size_t m, const Regularization& reg = {}) const;

    // Runs fn(i) for i in [0, count) on the engine's threads (each i exactly once, in no particular
    // order; fn must not throw). For work that goes with a step, such as augmenting its batch.
    void parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// For each of m samples (784 bytes each), bit v (v < 49) set iff its pixels 16v … 16v + 15 are not
// all zero: the vectors BatchEngine works on.
std::vector<std::uint64_t> nonzero_vector_masks(const std::uint8_t* pixels, std::size_t m);

// Number of chunks m samples are cut into (a function of m only; see BatchEngine).
std::size_t chunk_count(std::size_t m);

// Mean loss of the current parameters on labelled data (convenience over BatchEngine).
BatchTotals evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                     std::size_t m, int threads);

// Class probabilities for a single sample (784 bytes).
Eigen::VectorXf predict_one(const Params& params, const std::uint8_t* pixels);

// Predicted class for each of m samples.
void predict_classes(const Params& params, const std::uint8_t* pixels, std::size_t m, int threads,
                     std::uint8_t* out);

}  // namespace mnistnn
