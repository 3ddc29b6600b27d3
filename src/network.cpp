#include "mnistnn/network.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/rng.hpp"

namespace mnistnn {
namespace {

// Columns per block: 784×256 floats = 784 KiB, the converted block stays in L2 while both
// products read it.
constexpr std::size_t kBlockColumns = 256;
constexpr std::size_t kMaxChunks = 16;
constexpr std::size_t kMinChunkColumns = 64;

struct PixelTable {
    float value[256];
    PixelTable() {
        for (int v = 0; v < 256; ++v) value[v] = static_cast<float>(v) / 255.0f;
    }
};

// A = g(Z), element-wise.
void activate(Activation activation, const Eigen::Ref<const Eigen::MatrixXf>& Z, Eigen::Ref<Eigen::MatrixXf> A) {
    if (activation == Activation::ReLU) {
        A = Z.cwiseMax(0.0f);
    } else {
        A = (1.0f + (-Z.array()).exp()).inverse().matrix();
    }
}

// dZ ← dA ⊙ g′(Z) in place, g′ from Z (ReLU: 1 where Z > 0) or from A = σ(Z) (σ′ = A(1 − A)).
void multiply_activation_derivative(Activation activation, const Eigen::Ref<const Eigen::MatrixXf>& Z,
                                    const Eigen::Ref<const Eigen::MatrixXf>& A, Eigen::Ref<Eigen::MatrixXf> dZ) {
    if (activation == Activation::ReLU) {
        dZ = (Z.array() > 0.0f).select(dZ, 0.0f);
    } else {
        dZ.array() *= A.array() * (1.0f - A.array());
    }
}

// Per-thread scratch for one block. Sizes: X 784×B, Z1 and A1 and dZ1 H×B, P 10×B.
struct Scratch {
    Eigen::MatrixXf X, Z1, A1, P, dZ1;
    Scratch(int hidden, std::size_t block) {
        const auto b = static_cast<Eigen::Index>(block);
        X.resize(kPixels, b);
        Z1.resize(hidden, b);
        A1.resize(hidden, b);
        P.resize(kClasses, b);
        dZ1.resize(hidden, b);
    }
};

// Forward pass for b columns; leaves X, Z1, A1 and P (softmax probabilities) in `s`.
// Adds loss/accuracy to `totals` when labels are given, writes argmaxes when asked.
void forward_block(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                   std::size_t block, Scratch& s, BatchTotals& totals, std::uint8_t* predictions) {
    const auto b = static_cast<Eigen::Index>(block);
    auto X = s.X.leftCols(b);
    pixels_to_input(pixels, block, s.X);
    auto Z1 = s.Z1.leftCols(b);
    auto A1 = s.A1.leftCols(b);
    auto P = s.P.leftCols(b);
    Z1.noalias() = params.W1 * X;  // Z1: H×b
    Z1.colwise() += params.b1;
    activate(params.activation, Z1, A1);
    P.noalias() = params.W2 * A1;  // Z2: 10×b
    P.colwise() += params.b2;
    // Softmax per column, max subtracted; −log P[y] = log Σ exp(z − max) − (z_y − max).
    for (Eigen::Index j = 0; j < b; ++j) {
        auto z = P.col(j);
        Eigen::Index arg = 0;
        const float zmax = z.maxCoeff(&arg);
        const Eigen::Index y = labels != nullptr ? static_cast<Eigen::Index>(labels[j]) : 0;
        const float shifted_zy = z(y) - zmax;  // taken before exp so a tiny P[y] cannot underflow to log(0)
        z.array() = (z.array() - zmax).exp();
        const float sum = z.sum();
        if (labels != nullptr) {
            totals.loss_sum += static_cast<double>(std::log(sum) - shifted_zy);
            if (arg == y) ++totals.correct;
        }
        if (predictions != nullptr) predictions[j] = static_cast<std::uint8_t>(arg);
        z /= sum;
    }
    totals.rows += block;
}

// Backward pass for the block left in `s` by forward_block; adds unscaled gradients to g.
void backward_block(const Params& params, const std::uint8_t* labels, std::size_t block, Scratch& s,
                    Gradients& g) {
    const auto b = static_cast<Eigen::Index>(block);
    auto X = s.X.leftCols(b);
    auto Z1 = s.Z1.leftCols(b);
    auto A1 = s.A1.leftCols(b);
    auto dZ2 = s.P.leftCols(b);
    auto dZ1 = s.dZ1.leftCols(b);
    for (Eigen::Index j = 0; j < b; ++j) dZ2(labels[j], j) -= 1.0f;  // dZ2 = P − Y (10×b)
    g.dW2.noalias() += dZ2 * A1.transpose();                         // 10×H
    g.db2 += dZ2.rowwise().sum();
    dZ1.noalias() = params.W2.transpose() * dZ2;                     // H×b
    multiply_activation_derivative(params.activation, Z1, A1, dZ1);
    g.dW1.noalias() += dZ1 * X.transpose();                          // H×784
    g.db1 += dZ1.rowwise().sum();
}

std::pair<std::size_t, std::size_t> chunk_range(std::size_t m, std::size_t chunks, std::size_t c) {
    return {m * c / chunks, m * (c + 1) / chunks};
}

}  // namespace

std::string to_string(Activation activation) {
    return activation == Activation::ReLU ? "relu" : "sigmoid";
}

Activation activation_from_string(const std::string& name) {
    if (name == "relu") return Activation::ReLU;
    if (name == "sigmoid") return Activation::Sigmoid;
    throw UsageError("unknown activation '" + name + "' (expected relu or sigmoid)");
}

std::string to_string(Init init) {
    switch (init) {
        case Init::Uniform: return "uniform";
        case Init::He: return "he";
        case Init::Xavier: return "xavier";
    }
    return "uniform";
}

Init init_from_string(const std::string& name) {
    if (name == "uniform") return Init::Uniform;
    if (name == "he") return Init::He;
    if (name == "xavier") return Init::Xavier;
    throw UsageError("unknown initialisation '" + name + "' (expected uniform, he or xavier)");
}

Params init_params(int hidden, Activation activation, Init init, std::uint64_t seed) {
    if (hidden < 1) throw UsageError("hidden size must be at least 1, got " + std::to_string(hidden));
    Rng rng(seed);
    Params p;
    p.activation = activation;
    p.W1.resize(hidden, kPixels);
    p.b1.resize(hidden);
    p.W2.resize(kClasses, hidden);
    p.b2.resize(kClasses);
    auto fill_weights = [&](Eigen::MatrixXf& W, int fan_in, int fan_out) {
        const double stddev = init == Init::He       ? std::sqrt(2.0 / fan_in)
                              : init == Init::Xavier ? std::sqrt(2.0 / (fan_in + fan_out))
                                                     : 0.0;
        for (Eigen::Index r = 0; r < W.rows(); ++r)
            for (Eigen::Index c = 0; c < W.cols(); ++c)
                W(r, c) = init == Init::Uniform ? rng.next_float01() - 0.5f
                                                : static_cast<float>(stddev * rng.next_normal());
    };
    auto fill_bias = [&](Eigen::VectorXf& b) {
        for (Eigen::Index i = 0; i < b.size(); ++i) b(i) = init == Init::Uniform ? rng.next_float01() - 0.5f : 0.0f;
    };
    fill_weights(p.W1, kPixels, hidden);
    fill_bias(p.b1);
    fill_weights(p.W2, hidden, kClasses);
    fill_bias(p.b2);
    return p;
}

Gradients::Gradients(int hidden)
    : dW1(Eigen::MatrixXf::Zero(hidden, kPixels)),
      db1(Eigen::VectorXf::Zero(hidden)),
      dW2(Eigen::MatrixXf::Zero(kClasses, hidden)),
      db2(Eigen::VectorXf::Zero(kClasses)) {}

void Gradients::set_zero() {
    dW1.setZero();
    db1.setZero();
    dW2.setZero();
    db2.setZero();
}

const float* pixel_scale_table() {
    static const PixelTable table;
    return table.value;
}

void pixels_to_input(const std::uint8_t* pixels, std::size_t m, Eigen::MatrixXf& X) {
    if (X.rows() != kPixels || static_cast<std::size_t>(X.cols()) < m) X.resize(kPixels, static_cast<Eigen::Index>(m));
    const float* table = pixel_scale_table();
    float* out = X.data();
    const std::size_t n = m * kPixels;
    for (std::size_t i = 0; i < n; ++i) out[i] = table[pixels[i]];
}

void softmax_columns(Eigen::MatrixXf& Z) {
    for (Eigen::Index j = 0; j < Z.cols(); ++j) {
        auto z = Z.col(j);
        z.array() = (z.array() - z.maxCoeff()).exp();
        z /= z.sum();
    }
}

void forward(const Params& params, const Eigen::Ref<const Eigen::MatrixXf>& X, Eigen::MatrixXf& P) {
    Eigen::MatrixXf Z1(params.hidden(), X.cols());
    Z1.noalias() = params.W1 * X;  // Z1: H×m
    Z1.colwise() += params.b1;
    Eigen::MatrixXf A1(Z1.rows(), Z1.cols());
    activate(params.activation, Z1, A1);
    P.resize(kClasses, X.cols());
    P.noalias() = params.W2 * A1;  // Z2: 10×m
    P.colwise() += params.b2;
    softmax_columns(P);
}

std::size_t chunk_count(std::size_t m) {
    return std::clamp<std::size_t>(m / kMinChunkColumns, 1, kMaxChunks);
}

struct BatchEngine::Impl {
    int hidden;
    int threads;
    std::vector<Scratch> scratch;         // one per thread
    std::vector<Gradients> chunk_grads;   // one per chunk
    std::vector<BatchTotals> chunk_totals;

    // Runs fn(chunk, thread) for every chunk, spread over the threads; chunks are claimed
    // dynamically but each writes only its own slot, so the order of claiming does not matter.
    template <class Fn>
    void for_each_chunk(std::size_t chunks, Fn&& fn) {
        const int used = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(threads), chunks));
        std::atomic<std::size_t> next{0};
        auto worker = [&](int t) {
            for (std::size_t c = next++; c < chunks; c = next++) fn(c, t);
        };
        std::vector<std::thread> pool;
        for (int t = 1; t < used; ++t) pool.emplace_back(worker, t);
        worker(0);
        for (auto& th : pool) th.join();
    }
};

BatchEngine::BatchEngine(int hidden, int threads) : impl_(std::make_unique<Impl>()) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    impl_->hidden = hidden;
    impl_->threads = threads;
    for (int t = 0; t < threads; ++t) impl_->scratch.emplace_back(hidden, kBlockColumns);
    impl_->chunk_grads.assign(kMaxChunks, Gradients(hidden));
    impl_->chunk_totals.resize(kMaxChunks);
}

BatchEngine::~BatchEngine() = default;

int BatchEngine::threads() const { return impl_->threads; }

BatchTotals BatchEngine::gradients(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                                   std::size_t m, Gradients& grads) {
    if (m == 0) throw UsageError("cannot compute gradients over zero samples");
    const std::size_t chunks = chunk_count(m);
    impl_->for_each_chunk(chunks, [&](std::size_t c, int t) {
        auto [begin, end] = chunk_range(m, chunks, c);
        Gradients& g = impl_->chunk_grads[c];
        g.set_zero();
        BatchTotals& totals = impl_->chunk_totals[c];
        totals = BatchTotals{};
        Scratch& s = impl_->scratch[static_cast<std::size_t>(t)];
        for (std::size_t j = begin; j < end; j += kBlockColumns) {
            const std::size_t b = std::min(kBlockColumns, end - j);
            forward_block(params, pixels + j * kPixels, labels + j, b, s, totals, nullptr);
            backward_block(params, labels + j, b, s, g);
        }
    });
    // Fixed-order reduction, then one scale by 1/m.
    grads = impl_->chunk_grads[0];
    BatchTotals total = impl_->chunk_totals[0];
    for (std::size_t c = 1; c < chunks; ++c) {
        grads.dW1 += impl_->chunk_grads[c].dW1;
        grads.db1 += impl_->chunk_grads[c].db1;
        grads.dW2 += impl_->chunk_grads[c].dW2;
        grads.db2 += impl_->chunk_grads[c].db2;
        total.loss_sum += impl_->chunk_totals[c].loss_sum;
        total.correct += impl_->chunk_totals[c].correct;
        total.rows += impl_->chunk_totals[c].rows;
    }
    const float inv_m = 1.0f / static_cast<float>(m);
    grads.dW1 *= inv_m;
    grads.db1 *= inv_m;
    grads.dW2 *= inv_m;
    grads.db2 *= inv_m;
    return total;
}

BatchTotals BatchEngine::evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                                  std::size_t m, std::uint8_t* predictions) {
    if (m == 0) return BatchTotals{};
    const std::size_t chunks = chunk_count(m);
    impl_->for_each_chunk(chunks, [&](std::size_t c, int t) {
        auto [begin, end] = chunk_range(m, chunks, c);
        BatchTotals& totals = impl_->chunk_totals[c];
        totals = BatchTotals{};
        Scratch& s = impl_->scratch[static_cast<std::size_t>(t)];
        for (std::size_t j = begin; j < end; j += kBlockColumns) {
            const std::size_t b = std::min(kBlockColumns, end - j);
            forward_block(params, pixels + j * kPixels, labels ? labels + j : nullptr, b, s, totals,
                          predictions ? predictions + j : nullptr);
        }
    });
    BatchTotals total;
    for (std::size_t c = 0; c < chunks; ++c) {
        total.loss_sum += impl_->chunk_totals[c].loss_sum;
        total.correct += impl_->chunk_totals[c].correct;
        total.rows += impl_->chunk_totals[c].rows;
    }
    return total;
}

BatchTotals evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels, std::size_t m,
                     int threads) {
    BatchEngine engine(params.hidden(), threads);
    return engine.evaluate(params, pixels, labels, m);
}

Eigen::VectorXf predict_one(const Params& params, const std::uint8_t* pixels) {
    Eigen::MatrixXf X;
    pixels_to_input(pixels, 1, X);
    Eigen::MatrixXf P;
    forward(params, X, P);
    return P.col(0);
}

void predict_classes(const Params& params, const std::uint8_t* pixels, std::size_t m, int threads,
                     std::uint8_t* out) {
    BatchEngine engine(params.hidden(), threads);
    engine.evaluate(params, pixels, nullptr, m, out);
}

}  // namespace mnistnn
