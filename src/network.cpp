#include "mnistnn/network.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/gradient_transport.hpp"
#include "mnistnn/rng.hpp"
#include "kernels.hpp"

// The engine below passes kernels::vf16 (64-byte vectors) between internal inline functions and
// lambdas; without AVX-512 the compilers warn that this would change an ABI, but none is exposed.
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mnistnn {
namespace {

using kernels::kLanes;
using kernels::kRow;
using kernels::kRowVectors;
using kernels::vf16;
using kernels::vi16;

static_assert(kPixels == static_cast<int>(kRow), "the kernels assume 784-pixel rows");

// Samples per block. The block's pixels (96×784 bytes = 74 KiB) are read by the forward tiles and
// again, from L2, by the backward tiles, whose dW1 tiles are loaded and stored once per block. 96 is
// a multiple of the head's 16 lanes and of the 2-, 4- and 6-sample forward tiles, and keeps the
// loss product of head_block far from overflow.
constexpr std::size_t kBlock = 96;
static_assert(kBlock % 16 == 0 && kBlock <= 256, "head_block's lanes and loss product need this");
constexpr std::size_t kMaxChunks = 16;
constexpr std::size_t kMinChunkColumns = 64;
constexpr std::size_t kClassCount = static_cast<std::size_t>(kClasses);

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

std::size_t round_up(std::size_t n, std::size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Zero-initialised float array aligned to 64 bytes (one cache line, one zmm register).
class AlignedFloats {
public:
    AlignedFloats() = default;
    explicit AlignedFloats(std::size_t n)
        : data_(static_cast<float*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(float), std::align_val_t{64}))),
          size_(n) {
        std::fill_n(data_.get(), n, 0.0f);
    }
    float* data() { return data_.get(); }
    const float* data() const { return data_.get(); }
    std::size_t size() const { return size_; }
    void set_zero() { std::fill_n(data_.get(), size_, 0.0f); }

private:
    struct Free {
        void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
    };
    std::unique_ptr<float[], Free> data_;
    std::size_t size_ = 0;
};

// The engine's inputs are the pixel values v themselves (converted exactly from the bytes inside
// the kernels) rather than x = v/255; the 1/255 is applied where it costs nothing, to Z1 before
// the bias and to dW1 together with the 1/m:
//   Z1 = W1·X + b1 = (W1·V)/255 + b1        dW1 = dZ1·Xᵀ = (dZ1·Vᵀ)/255
// Converting each pixel to a correctly rounded v/255 instead costs three more FMA-pipe operations
// per 16 pixels in both products (about 20% of an iteration at H = 10); the two differ in rounding
// only.
constexpr float kPixelScale = 1.0f / 255.0f;

// Register tile of the layer-1 products: HT hidden units × W samples in the forward (dot products
// over the 784 pixels), HT units × W pixel vectors in the backward (outer products). With AVX-512,
// 16 or 20 accumulators of the 32 zmm registers. With AVX2 a vf16 takes two of the 16 ymm
// registers: a 5×1 or 4×1 tile keeps its 10 or 8 accumulator halves, 2 halves of input and a
// weight in registers (5×1 measured 12% faster than 2×2 at H = 10, one thread). Hidden units are padded with zeros to a multiple of HT. The tile changes only which
// products are computed together, never a sum's order, so every tile gives the same bits.
struct Tile {
    std::size_t units, width;
};
Tile tile_for(std::size_t hidden) {
#if defined(__AVX512F__)
    if (hidden % 10 == 0 && hidden % 4 != 0) return {10, 2};
    if (hidden % 5 == 0 && hidden % 4 != 0) return {5, 4};
    return {4, 4};
#else
    return {hidden % 5 == 0 ? std::size_t{5} : std::size_t{4}, 1};
#endif
}
constexpr std::size_t kMaxTileWidth = 4;

// The parameters repacked once per call into the layouts the kernels read.
struct Packed {
    std::size_t hidden = 0;
    std::size_t padded = 0;  // hidden rounded up to the tile height
    Activation activation = Activation::ReLU;
    AlignedFloats W1;  // padded×784, row h = W1(h, :) (row-major: the transpose of Eigen's storage); rows ≥ hidden are 0
    AlignedFloats b1;  // hidden
    AlignedFloats W2;  // hidden×10, row h = W2(:, h) (Eigen's column-major storage)
    float b2[kClasses] = {};

    explicit Packed(std::size_t h)
        : hidden(h), padded(round_up(h, tile_for(h).units)), W1(padded * kRow), b1(h), W2(h * kClassCount) {}

    void pack(const Params& p) {
        activation = p.activation;
        const float* w1 = p.W1.data();  // column-major: (h, k) at k·H + h
        for (std::size_t h = 0; h < hidden; ++h)
            for (std::size_t k = 0; k < kRow; ++k) W1.data()[h * kRow + k] = w1[k * hidden + h];
        std::copy_n(p.b1.data(), hidden, b1.data());
        std::copy_n(p.W2.data(), hidden * kClassCount, W2.data());
        std::copy_n(p.b2.data(), kClassCount, b2);
    }
};

// Per-thread working space for one block of b ≤ kBlock samples, plus per-lane partial sums for
// the small gradients of the chunk being processed. Matrices over the block are unit-major with
// row stride kBlock (row h holds unit h for the block's samples).
struct Scratch {
    AlignedFloats A;          // padded×kBlock: W1·V from the forward tiles, then A1 = g(Z1) (rows < hidden)
    AlignedFloats dZ1;        // padded×kBlock (rows ≥ hidden stay zero)
    AlignedFloats dZ2;        // 10×kBlock
    AlignedFloats dW2_lanes;  // (hidden·10) vectors: lane i sums dZ2·A1ᵀ over the chunk's samples ≡ i mod 16
    AlignedFloats db1_lanes;  // hidden vectors, likewise for db1
    AlignedFloats db2_lanes;  // 10 vectors, likewise for db2
    AlignedFloats sum_exp;     // kBlock: Σ_c exp(z2_c − max) per sample
    AlignedFloats shifted_zy;  // kBlock: z2_y − max per sample
    std::vector<std::uint8_t> tail_pixels;  // a block's last, partial sample tile, zero-padded
    std::vector<std::uint64_t> nonzero;     // kBlock: each sample's nonzero pixel vectors (kernels::nonzero_vectors)
    const std::uint64_t* block_nonzero = nullptr;  // the block's masks: nonzero.data(), or the caller's
    std::vector<std::uint32_t> samples;     // kBlock + 16: a backward tile column's samples with nonzero pixels there
    // (Everything written during a pass lives on the heap, apart from the other threads' scratch.)

    explicit Scratch(const Packed& net)
        : A(net.padded * kBlock), dZ1(net.padded * kBlock), dZ2(kClassCount * kBlock),
          dW2_lanes(net.hidden * kClassCount * kLanes), db1_lanes(net.hidden * kLanes),
          db2_lanes(kClassCount * kLanes), sum_exp(kBlock), shifted_zy(kBlock), tail_pixels(kMaxTileWidth * kRow),
          nonzero(kBlock), samples(kBlock + kLanes) {}
};

// One chunk's unscaled gradient sums (dW1 row-major with the 1/255 still to apply, the rest in
// Eigen's layout).
struct ChunkResult {
    AlignedFloats dW1;  // padded×784
    std::vector<float> dW2, db1, db2;

    explicit ChunkResult(const Packed& net)
        : dW1(net.padded * kRow), dW2(net.hidden * kClassCount), db1(net.hidden), db2(kClassCount) {}
};

// A ← W1·V (padded×b; V is the block's pixel values, 784×b) in HT×W tiles, each over the pixel
// vectors that are nonzero in any of its samples (the masks, the caller's `known` ones or else
// computed into s.nonzero, are left in s.block_nonzero for the backward pass). A last partial tile of samples reads zero-padded copies from s.tail_pixels.
// The first tile of each sample tile also
// prefetches the next block's first next_b samples into L2: a block ahead is tens of thousands of
// cycles, ample to hide the DRAM latency that the hardware prefetcher alone leaves exposed. Hidden
// units are walked in panels of 16 tiles so a panel's W1 rows (≤ 250 KiB) stay in L2 while every
// sample tile passes over them.
template <int HT, int W>
void forward_layer1(const Packed& net, const std::uint8_t* pixels, const std::uint64_t* known, std::size_t b,
                    std::size_t next_b, Scratch& s) {
    constexpr auto ht = static_cast<std::size_t>(HT), width = static_cast<std::size_t>(W);
    static_assert(width <= kMaxTileWidth && kBlock % width == 0, "tiles must divide the block");
    const std::size_t full = b / width * width;
    if (full < b) {
        std::copy_n(pixels + full * kRow, (b - full) * kRow, s.tail_pixels.data());
        std::fill(s.tail_pixels.begin() + static_cast<std::ptrdiff_t>((b - full) * kRow), s.tail_pixels.end(),
                  std::uint8_t{0});
    }
    if (known == nullptr) {
        for (std::size_t j = 0; j < b; ++j) s.nonzero[j] = kernels::nonzero_vectors(pixels + j * kRow);
        known = s.nonzero.data();
    }
    s.block_nonzero = known;
    const std::size_t panel = 16 * ht;
    for (std::size_t p = 0; p < net.padded; p += panel) {
        const std::size_t panel_end = std::min(p + panel, net.padded);
        for (std::size_t j = 0; j < b; j += width) {
            const std::uint8_t* src = j < full ? pixels + j * kRow : s.tail_pixels.data();
            std::uint64_t vectors = 0;  // nonzero in any of the tile's samples
            for (std::size_t i = j; i < std::min(j + width, b); ++i) vectors |= known[i];
            std::size_t h = p;
            if (p == 0 && j < next_b) {
                // The first tile also prefetches the same samples of the next block.
                kernels::dot_tile<HT, W>(net.W1.data(), src, vectors, s.A.data() + j, kBlock,
                                         pixels + (kBlock + j) * kRow, std::min(width, next_b - j));
                h += ht;
            }
            for (; h < panel_end; h += ht)
                kernels::dot_tile<HT, W>(net.W1.data() + h * kRow, src, vectors, s.A.data() + h * kBlock + j, kBlock);
        }
    }
}

// dW1 += dZ1·Vᵀ (padded×784, row-major) over the block's b samples, in HT×W tiles (W pixel
// vectors; 49 = whole tiles + one vector); with first, dW1 = dZ1·Vᵀ. Pixel vectors are the outer
// loop so the block's pixels for one tile (b·16·W bytes) stay in L1 while all hidden units pass
// over them.
template <int HT, int W>
void backward_layer1(const Packed& net, const float* dZ1, const std::uint8_t* pixels, std::size_t b, bool first,
                     Scratch& s, float* dW1) {
    constexpr auto ht = static_cast<std::size_t>(HT), width = static_cast<std::size_t>(W);
    constexpr std::size_t full = kRowVectors / width * width;
    // Tile column [v, v + w): the samples with any nonzero pixel there, then every tile of hidden
    // units in the column over just those.
    auto column = [&](std::size_t v, std::size_t w, auto tile) {
        const std::uint64_t bits = ((std::uint64_t{1} << w) - 1) << v;
        const std::size_t count = kernels::select_samples(s.block_nonzero, b, bits, s.samples.data());
        for (std::size_t h = 0; h < net.padded; h += ht)
            tile(dW1 + h * kRow + v * kLanes, dZ1 + h * kBlock, kBlock, pixels + v * kLanes, s.samples.data(), count,
                 first);
    };
    for (std::size_t v = 0; v < full; v += width) column(v, width, kernels::outer_tile<HT, W>);
    for (std::size_t v = full; v < kRowVectors; ++v) column(v, 1, kernels::outer_tile<HT, 1>);
}

// The small layers for one block, vectorised across samples (lane i of group g is sample 16g + i):
//   A1 = g(Z1), Z1 = (W1·V)/255 + b1 (hidden×b)   Z2 = W2·A1 + b2 (10×b)   P = softmax(Z2) per column
// and when `train`:
//   dZ2 = P − Y (10×b)            db2 += Σ_j dZ2[:, j]
//   dZ1 = (W2ᵀ·dZ2) ⊙ g′(Z1)      db1 += Σ_j dZ1[:, j]     (g′ from A1: ReLU 1[A1 > 0], σ′ = A1(1 − A1))
// Lanes past b get A1 = 0 and dZ2 = 0 (hence dZ1 = 0), so they add nothing to any sum. Loss terms
// go to s.sum_exp / s.shifted_zy; accuracy to `totals`; argmaxes to `predictions` when non-null.
void head_block(const Packed& net, Scratch& s, const std::uint8_t* labels, std::size_t b, bool train,
                std::uint8_t* predictions, BatchTotals& totals) {
    using kernels::fmadd;
    using kernels::load;
    using kernels::select;
    using kernels::splat;
    using kernels::store;
    const vi16 lane = kernels::lane_indices();
    const std::size_t H = net.hidden;
    for (std::size_t off = 0; off < b; off += kLanes) {
        const std::size_t valid = std::min<std::size_t>(kLanes, b - off);
        const vi16 in_block = lane < static_cast<std::int32_t>(valid);
        std::uint8_t label_bytes[kLanes] = {};
        if (labels != nullptr) std::copy_n(labels + off, valid, label_bytes);
        const vi16 y = kernels::widen_bytes(label_bytes);

        // A1 = g((W1·V)/255 + b1), stored over W1·V.
        for (std::size_t h = 0; h < H; ++h) {
            float* a = s.A.data() + h * kBlock + off;
            const vf16 z = kernels::fmadd(load(a), splat(kPixelScale), splat(net.b1.data()[h]));
            const vf16 act = net.activation == Activation::ReLU
                                 ? select(z < 0.0f, vf16{}, z)  // max(z, 0) that keeps NaN
                                 : 1.0f / (1.0f + kernels::exp(-z));
            store(a, select(in_block, act, vf16{}));
        }
        // Z2 = W2·A1 + b2, one FMA per (unit, class) with W2's column h broadcast.
        vf16 z2[kClasses];
        for (std::size_t c = 0; c < kClassCount; ++c) z2[c] = splat(net.b2[c]);
        for (std::size_t h = 0; h < H; ++h) {
            const vf16 a = load(s.A.data() + h * kBlock + off);
            const float* w = net.W2.data() + h * kClassCount;
            for (std::size_t c = 0; c < kClassCount; ++c) z2[c] = fmadd(splat(w[c]), a, z2[c]);
        }
        // Max and first argmax (a NaN never wins a comparison, but then poisons the sum below).
        vf16 zmax = z2[0], zy = z2[0];
        vi16 arg = vi16{};
        for (std::size_t c = 1; c < kClassCount; ++c) {
            const auto ci = static_cast<std::int32_t>(c);
            const vi16 greater = z2[c] > zmax;
            zmax = select(greater, z2[c], zmax);
            arg = select(greater, kernels::splat_int(ci), arg);
            zy = select(y == ci, z2[c], zy);
        }
        // −log P[y] = log Σ exp(z − max) − (z_y − max): z_y − max is taken before any exp so a tiny
        // P[y] cannot underflow to log(0).
        vf16 e[kClasses];
        vf16 sum = vf16{};
        for (std::size_t c = 0; c < kClassCount; ++c) {
            e[c] = kernels::exp(z2[c] - zmax);
            sum += e[c];
        }
        store(s.sum_exp.data() + off, sum);
        store(s.shifted_zy.data() + off, zy - zmax);
        for (std::size_t i = 0; i < valid; ++i) {
            if (labels != nullptr && arg[i] == y[i]) ++totals.correct;
            if (predictions != nullptr) predictions[off + i] = static_cast<std::uint8_t>(arg[i]);
        }
        if (!train) continue;

        // dZ2 = P − Y.
        const vf16 inv_sum = 1.0f / sum;
        vf16 dz2[kClasses];
        for (std::size_t c = 0; c < kClassCount; ++c) {
            const vf16 one_hot = select(y == static_cast<std::int32_t>(c), splat(1.0f), vf16{});
            dz2[c] = select(in_block, e[c] * inv_sum - one_hot, vf16{});
            store(s.dZ2.data() + c * kBlock + off, dz2[c]);
            float* db2 = s.db2_lanes.data() + c * kLanes;
            store(db2, load(db2) + dz2[c]);
        }
        // dZ1 = (W2ᵀ·dZ2) ⊙ g′.
        for (std::size_t h = 0; h < H; ++h) {
            const float* w = net.W2.data() + h * kClassCount;
            vf16 da = splat(w[0]) * dz2[0];
            for (std::size_t c = 1; c < kClassCount; ++c) da = fmadd(splat(w[c]), dz2[c], da);
            const vf16 a = load(s.A.data() + h * kBlock + off);
            const vf16 dz1 = net.activation == Activation::ReLU ? select(a > 0.0f, da, vf16{}) : da * (a * (1.0f - a));
            store(s.dZ1.data() + h * kBlock + off, dz1);
            float* db1 = s.db1_lanes.data() + h * kLanes;
            store(db1, load(db1) + dz1);
        }
    }
    // Σ_j −log P[y_j] = log Π_j Σexp_j − Σ_j shifted_zy_j: one log per block instead of one per
    // sample. Each Σexp is in [1, 10] (the max class contributes e^0), so the double product of
    // ≤ kBlock of them stays below 10^kBlock (no overflow) and loses nothing measurable; NaN propagates.
    if (labels != nullptr) {
        double product = 1.0, shifted = 0.0;
        for (std::size_t j = 0; j < b; ++j) {
            product *= static_cast<double>(s.sum_exp.data()[j]);
            shifted += static_cast<double>(s.shifted_zy.data()[j]);
        }
        totals.loss_sum += std::log(product) - shifted;
    }
    totals.rows += b;
}

// dW2 lanes += dZ2·A1ᵀ (10×hidden) over the block: lane i accumulates the samples ≡ i mod 16.
void accumulate_dW2(const Packed& net, Scratch& s, std::size_t b) {
    const std::size_t groups = (b + kLanes - 1) / kLanes;
    for (std::size_t h = 0; h < net.hidden; ++h) {
        const float* a = s.A.data() + h * kBlock;
        for (std::size_t c = 0; c < kClassCount; ++c) {
            const float* dz2 = s.dZ2.data() + c * kBlock;
            float* lanes = s.dW2_lanes.data() + (h * kClassCount + c) * kLanes;
            vf16 acc = kernels::load(lanes);
            for (std::size_t g = 0; g < groups; ++g)
                acc = kernels::fmadd(kernels::load(dz2 + g * kLanes), kernels::load(a + g * kLanes), acc);
            kernels::store(lanes, acc);
        }
    }
}

// Forward (and with `out`, backward) passes over samples [begin, end) one block at a time.
// With `out`, leaves the chunk's unscaled gradient sums there. The totals are written once at the
// end (threads' chunk_totals share cache lines).
template <int HT, int W>
void run_chunk(const Packed& net, const std::uint8_t* pixels, const std::uint8_t* labels, const std::uint64_t* nonzero,
               std::size_t begin, std::size_t end, Scratch& s, ChunkResult* out, std::uint8_t* predictions,
               BatchTotals& chunk_totals) {
    BatchTotals totals;
    if (out != nullptr) {
        s.dW2_lanes.set_zero();
        s.db1_lanes.set_zero();
        s.db2_lanes.set_zero();
    }
    for (std::size_t j = begin; j < end; j += kBlock) {
        const std::size_t b = std::min(kBlock, end - j);
        const std::size_t next_b = j + kBlock < end ? std::min(kBlock, end - j - kBlock) : 0;
        forward_layer1<HT, W>(net, pixels + j * kRow, nonzero != nullptr ? nonzero + j : nullptr, b, next_b, s);
        head_block(net, s, labels != nullptr ? labels + j : nullptr, b, out != nullptr,
                   predictions != nullptr ? predictions + j : nullptr, totals);
        if (out == nullptr) continue;
        accumulate_dW2(net, s, b);
        backward_layer1<HT, W>(net, s.dZ1.data(), pixels + j * kRow, b, j == begin, s, out->dW1.data());
    }
    chunk_totals = totals;
    if (out == nullptr) return;
    // Lane sums → scalars, in the fixed order of kernels::hsum.
    for (std::size_t i = 0; i < net.hidden * kClassCount; ++i)
        out->dW2[i] = kernels::hsum(kernels::load(s.dW2_lanes.data() + i * kLanes));
    for (std::size_t h = 0; h < net.hidden; ++h) out->db1[h] = kernels::hsum(kernels::load(s.db1_lanes.data() + h * kLanes));
    for (std::size_t c = 0; c < kClassCount; ++c) out->db2[c] = kernels::hsum(kernels::load(s.db2_lanes.data() + c * kLanes));
}

// Dispatches to the instantiation for the hidden size's tile (the shapes of tile_for).
void run_chunk(const Packed& net, const std::uint8_t* pixels, const std::uint8_t* labels, const std::uint64_t* nonzero,
               std::size_t begin, std::size_t end, Scratch& s, ChunkResult* out, std::uint8_t* predictions,
               BatchTotals& totals) {
    switch (tile_for(net.hidden).units) {
#if defined(__AVX512F__)
        case 10: return run_chunk<10, 2>(net, pixels, labels, nonzero, begin, end, s, out, predictions, totals);
        case 5: return run_chunk<5, 4>(net, pixels, labels, nonzero, begin, end, s, out, predictions, totals);
        default: return run_chunk<4, 4>(net, pixels, labels, nonzero, begin, end, s, out, predictions, totals);
#else
        case 5: return run_chunk<5, 1>(net, pixels, labels, nonzero, begin, end, s, out, predictions, totals);
        default: return run_chunk<4, 1>(net, pixels, labels, nonzero, begin, end, s, out, predictions, totals);
#endif
    }
}

// Samples [begin, end) of chunk c of `chunks`, cut in proportion to the weights min(8, chunks − c):
// equal chunks, then the last seven shorter (7/8, 6/8, …, 1/8 of the others). Threads claim chunks
// in order, so the short ones come last and the threads finish within a short chunk of each other.
// (With m ≥ 64·chunks, see chunk_count, the shortest chunk still has at least 8 samples.)
std::pair<std::size_t, std::size_t> chunk_range(std::size_t m, std::size_t chunks, std::size_t c) {
    auto weight = [chunks](std::size_t i) { return std::min<std::size_t>(8, chunks - i); };
    std::size_t before = 0, total = 0;
    for (std::size_t i = 0; i < chunks; ++i) {
        if (i < c) before += weight(i);
        total += weight(i);
    }
    return {m * before / total, m * (before + weight(c)) / total};
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Polls done() with a CPU pause between polls for up to `spin`; false if it is still not done.
template <class Done>
bool spin_until(Done&& done, std::chrono::microseconds spin) {
    const auto until = std::chrono::steady_clock::now() + spin;
    for (unsigned i = 1;; ++i) {
        if (done()) return true;
        cpu_relax();
        if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return false;
    }
}

// Persistent worker threads. Starting threads on every call (once per training step) cost tens
// of microseconds and began each step with cold caches and a fresh stack; these workers stay,
// spin for a short while after each call (the next training step comes within microseconds),
// then sleep on a condition variable until the next call or destruction.
//
// A run is finished when all its tasks are, not when every worker has checked in: on a busy
// machine a descheduled worker must not hold up the caller, who then simply runs the tasks
// itself. So a worker may wake late, and the claim must tell a stale run from the current one:
// one atomic word holds the run's generation, task count and next task, and a task is claimed by
// a compare-and-swap on that word. A worker calls the task function of generation g only after
// winning a claim in g, and run() does not return (so g's function stays in place) until every
// claimed task of g has finished. Run g's function lives in slot g mod 2, so writing run g + 1's
// never touches the slot a late reader of g could be looking at.
class WorkerPool {
public:
    // threads − 1 workers; the caller of run() is thread 0.
    explicit WorkerPool(int threads) {
        for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { serve(t); });
    }
    ~WorkerPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_.store(true, std::memory_order_relaxed);               // published by the release below
            cursor_.fetch_add(kOneGeneration, std::memory_order_release);  // wakes every worker
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // Runs fn(task, thread) for every task in [0, count) on the threads that are free and returns
    // when all are done. fn must not throw (it would terminate the program on a worker).
    template <class Fn>
    void run(std::size_t count, Fn& fn) {
        if (count == 0) return;
        if (count > kField) throw UsageError("too many tasks for the worker pool");
        const std::uint64_t generation = (cursor_.load(std::memory_order_relaxed) >> kGenerationShift) + 1;
        Slot& slot = slots_[generation % 2];
        slot.call = [](void* f, std::size_t task, int t) { (*static_cast<Fn*>(f))(task, t); };
        slot.fn = &fn;
        done_.store(0, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);  // a worker between its check and its wait must not miss this
            cursor_.store(generation << kGenerationShift | static_cast<std::uint64_t>(count) << kCountShift,
                          std::memory_order_release);
        }
        if (!workers_.empty()) wake_.notify_all();
        claim_tasks(generation, 0);
        const auto finished = [this, count] { return done_.load(std::memory_order_acquire) == count; };
        if (!spin_until(finished, std::chrono::microseconds(200)))
            while (!finished()) std::this_thread::yield();
    }

private:
    // cursor_ = generation (bits 40–63) | task count (bits 20–39) | next task (bits 0–19).
    static constexpr unsigned kCountShift = 20, kGenerationShift = 40;
    static constexpr std::uint64_t kField = (std::uint64_t{1} << kCountShift) - 1;
    static constexpr std::uint64_t kOneGeneration = std::uint64_t{1} << kGenerationShift;

    struct Slot {
        void (*call)(void*, std::size_t, int) = nullptr;
        void* fn = nullptr;
    };

    // Claims and runs tasks of `generation` until none is left (or a newer run has started).
    void claim_tasks(std::uint64_t generation, int t) {
        std::uint64_t cursor = cursor_.load(std::memory_order_acquire);
        for (;;) {
            const std::uint64_t next = cursor & kField, count = cursor >> kCountShift & kField;
            if (cursor >> kGenerationShift != generation || next >= count) return;
            if (!cursor_.compare_exchange_weak(cursor, cursor + 1, std::memory_order_acq_rel,
                                               std::memory_order_acquire))
                continue;  // cursor now holds the current value
            const Slot& slot = slots_[generation % 2];
            slot.call(slot.fn, static_cast<std::size_t>(next), t);
            done_.fetch_add(1, std::memory_order_release);
            cursor = cursor_.load(std::memory_order_acquire);
        }
    }

    void serve(int t) {
        std::uint64_t seen = 0;  // the last generation this worker looked at
        for (;;) {
            const auto called = [&] { return cursor_.load(std::memory_order_acquire) >> kGenerationShift != seen; };
            if (!spin_until(called, std::chrono::microseconds(500))) {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, called);
            }
            seen = cursor_.load(std::memory_order_acquire) >> kGenerationShift;
            if (stopping_.load(std::memory_order_relaxed)) return;
            claim_tasks(seen, t);
        }
    }

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> cursor_{0};
    Slot slots_[2];
    std::atomic<std::size_t> done_{0};  // tasks of the current run that have finished
};


// ---- the wide path (EnginePath::Wide) --------------------------------------------------------

constexpr std::size_t kWideBlock = 256;       // columns per block
constexpr std::size_t kWideMinHidden = 512;   // Auto picks Wide from here on
constexpr std::size_t kWideBandUnits = 512;   // bands = 2·⌈H/512⌉

using BlockMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

std::uint64_t mix64(std::uint64_t z) {  // SplitMix64's finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Buffers of the wide path, over one block of ≤ kWideBlock columns.
struct Wide {
    std::size_t hidden = 0, bands = 0;
    BlockMatrix X;   // 784×block: pixel values v/255
    BlockMatrix A;   // hidden×block: Z1, then A1 = g(Z1) ⊙ K
    BlockMatrix G;   // hidden×block: K ⊙ g′(Z1) (training only)
    BlockMatrix D;   // hidden×block: dZ1
    BlockMatrix Z2;  // 10×block: Z2, then dZ2
    Eigen::VectorXf db1;  // per band, written by the band's task

    explicit Wide(std::size_t h)
        : hidden(h), bands(2 * ((h + kWideBandUnits - 1) / kWideBandUnits)), X(kPixels, kWideBlock),
          A(static_cast<Eigen::Index>(h), kWideBlock), G(static_cast<Eigen::Index>(h), kWideBlock),
          D(static_cast<Eigen::Index>(h), kWideBlock), Z2(kClasses, kWideBlock), db1(static_cast<Eigen::Index>(h)) {}

    // Rows [first, first + count) of band i (a function of hidden and bands only).
    std::pair<Eigen::Index, Eigen::Index> band(std::size_t i) const {
        const std::size_t first = hidden * i / bands, next = hidden * (i + 1) / bands;
        return {static_cast<Eigen::Index>(first), static_cast<Eigen::Index>(next - first)};
    }

    // X ← the b samples' pixels as v/255 (the same table as pixels_to_input).
    void load(const std::uint8_t* pixels, std::size_t b) {
        const float* table = pixel_scale_table();
        float* out = X.data();
        for (std::size_t i = 0; i < b * kRow; ++i) out[i] = table[pixels[i]];
    }

    // Band i: Z1 = W1·X + b1, A1 = g(Z1) ⊙ K and, when training, G = K ⊙ g′(Z1). K is all ones
    // without dropout. `column0` is the block's first column in the batch (for the masks).
    void forward_band(const Params& p, std::size_t i, std::size_t b, bool train, std::size_t column0,
                      const Regularization& reg) {
        const auto [h0, n] = band(i);
        const auto cols = static_cast<Eigen::Index>(b);
        auto Z = A.block(h0, 0, n, cols);
        Z.noalias() = p.W1.middleRows(h0, n) * X.leftCols(cols);
        const bool relu = p.activation == Activation::ReLU, dropout = train && reg.dropout > 0.0;
        const float* b1 = p.b1.data() + h0;
        for (Eigen::Index j = 0; j < cols; ++j) {
            float* a = &A(h0, j);
            float* g = &G(h0, j);
            for (Eigen::Index r = 0; r < n; ++r) {
                const float z = a[r] + b1[r];
                float act, slope;
                if (relu) {
                    act = z < 0.0f ? 0.0f : z;  // max(z, 0) that keeps NaN
                    slope = z > 0.0f ? 1.0f : 0.0f;
                } else {
                    act = 1.0f / (1.0f + std::exp(-z));
                    slope = act * (1.0f - act);
                }
                if (dropout) {
                    const float keep = dropout_scale(reg.dropout_key, column0 + static_cast<std::size_t>(j),
                                                     static_cast<std::size_t>(h0 + r), reg.dropout);
                    act *= keep;
                    slope *= keep;
                }
                a[r] = act;
                if (train) g[r] = slope;
            }
        }
    }

    // Z2 = W2·A1 + b2 and the loss terms, accuracy and predictions of the block's b columns; when
    // training, Z2 becomes dZ2 = (P − Q)·inv_m (Q the one-hot or smoothed targets).
    void head(const Params& p, const std::uint8_t* labels, std::size_t b, bool train, float inv_m,
              const Regularization& reg, std::uint8_t* predictions, BatchTotals& totals) {
        const auto cols = static_cast<Eigen::Index>(b);
        Z2.leftCols(cols).noalias() = p.W2 * A.leftCols(cols);
        const auto eps = static_cast<float>(train ? reg.label_smoothing : 0.0);
        const float off_target = eps / static_cast<float>(kClasses), on_target = 1.0f - eps + off_target;
        for (Eigen::Index j = 0; j < cols; ++j) {
            float z[kClasses];
            for (int c = 0; c < kClasses; ++c) z[c] = Z2(c, j) + p.b2(c);
            int arg = 0;
            for (int c = 1; c < kClasses; ++c)
                if (z[c] > z[arg]) arg = c;
            float e[kClasses], sum = 0.0f;
            for (int c = 0; c < kClasses; ++c) {
                e[c] = std::exp(z[c] - z[arg]);
                sum += e[c];
            }
            if (predictions != nullptr) predictions[j] = static_cast<std::uint8_t>(arg);
            if (labels == nullptr) continue;
            const int y = labels[j];
            totals.loss_sum += std::log(static_cast<double>(sum)) - static_cast<double>(z[y] - z[arg]);
            totals.correct += arg == y;
            if (!train) continue;
            for (int c = 0; c < kClasses; ++c)
                Z2(c, j) = (e[c] / sum - (c == y ? on_target : off_target)) * inv_m;
        }
        totals.rows += b;
    }

    // Band i of the backward pass: dZ1 = (W2ᵀ·dZ2) ⊙ G, db1 (+)= Σ_j dZ1, dW1 (+)= dZ1·Xᵀ into
    // `part` (= on the part's first block). With `fold_into`, then fold_into += part over the band
    // (element-wise, while the band's rows are still in cache).
    void backward_band(const Params& p, std::size_t i, std::size_t b, bool first, Gradients& part,
                       Gradients* fold_into) {
        const auto [h0, n] = band(i);
        const auto cols = static_cast<Eigen::Index>(b);
        auto dZ1 = D.block(h0, 0, n, cols);
        dZ1.noalias() = p.W2.middleCols(h0, n).transpose() * Z2.leftCols(cols);
        dZ1.array() *= G.block(h0, 0, n, cols).array();
        if (first) {
            part.db1.segment(h0, n) = dZ1.rowwise().sum();
            part.dW1.middleRows(h0, n).noalias() = dZ1 * X.leftCols(cols).transpose();
        } else {
            part.db1.segment(h0, n) += dZ1.rowwise().sum();
            part.dW1.middleRows(h0, n).noalias() += dZ1 * X.leftCols(cols).transpose();
        }
        if (fold_into == nullptr) return;
        fold_into->db1.segment(h0, n) += part.db1.segment(h0, n);
        fold_into->dW1.middleRows(h0, n) += part.dW1.middleRows(h0, n);
    }
};

void resize_gradients(Gradients& g, std::size_t hidden) {
    const auto rows = static_cast<Eigen::Index>(hidden);
    g.dW1.resize(rows, kPixels);
    g.db1.resize(rows);
    g.dW2.resize(kClasses, rows);
    g.db2.resize(kClasses);
}

// Parts [b_r, b_{r+1}) of n that rank r of P owns (see gradient_transport.hpp), for parts whose
// first columns are start(0) = 0 < start(1) < … < start(n) = m: b_r is the part boundary nearest
// to column r·m/P, so each rank gets about m/P columns (the fused path's last chunks are shorter),
// except that b_1 ≥ 1: rank 0 always owns part 0, where the chain starts.
template <class Start>
std::pair<std::size_t, std::size_t> owned_parts(std::size_t n, Start&& start, int rank, int ranks) {
    const std::size_t m = start(n);
    auto boundary = [&](int r) -> std::size_t {
        if (r == 0) return 0;
        if (r == ranks) return n;
        const double target = static_cast<double>(m) * r / ranks;
        std::size_t best = 0;
        for (std::size_t c = 1; c <= n; ++c)
            if (std::abs(static_cast<double>(start(c)) - target) < std::abs(static_cast<double>(start(best)) - target))
                best = c;
        return std::max<std::size_t>(best, std::min<std::size_t>(1, n));
    };
    return {boundary(rank), boundary(rank + 1)};
}

// The fused path's chunks and the wide path's parts as owned_parts wants them.
std::pair<std::size_t, std::size_t> owned_chunks(std::size_t m, int rank, int ranks) {
    const std::size_t count = chunk_count(m);
    return owned_parts(count, [&](std::size_t c) { return c == count ? m : chunk_range(m, count, c).first; }, rank,
                       ranks);
}

// The wide path's parts (see gradient_transport.hpp): ⌈m/256⌉ blocks, grouped into at most
// kMaxChunks runs of whole blocks; part g is blocks [first_block(g), first_block(g + 1)).
struct WideParts {
    std::size_t m, blocks, groups;
    explicit WideParts(std::size_t columns)
        : m(columns), blocks((columns + kWideBlock - 1) / kWideBlock), groups(std::min(blocks, kMaxChunks)) {}
    std::size_t first_block(std::size_t g) const { return blocks * g / groups; }
    std::size_t first_column(std::size_t g) const { return std::min(m, first_block(g) * kWideBlock); }
    std::pair<std::size_t, std::size_t> owned(int rank, int ranks) const {
        return owned_parts(groups, [this](std::size_t g) { return first_column(g); }, rank, ranks);
    }
};

// A part's sums as up to four arrays (the regions), laid end to end in the chain's flat buffer.
struct Regions {
    std::array<std::size_t, 4> size{};
    std::size_t total() const { return size[0] + size[1] + size[2] + size[3]; }
    // fn(region, offset in the region, length, offset in the flat buffer) for each region's
    // piece of the flat range [begin, end).
    template <class Fn>
    void for_range(std::size_t begin, std::size_t end, Fn&& fn) const {
        std::size_t offset = 0;
        for (std::size_t i = 0; i < size.size(); ++i) {
            const std::size_t lo = std::max(begin, offset), hi = std::min(end, offset + size[i]);
            if (lo < hi) fn(i, lo - offset, hi - lo, lo);
            offset += size[i];
        }
    }
};

// Folds this rank's parts, region pointers part(k)[region], onto the flat buffer's range [begin,
// end): sum = part(0) + part(1) + … (left to right), or sum = sum + part(0) + … when `onto_sum`.
template <class PartFn>
void fold_parts(const Regions& regions, std::size_t parts, PartFn&& part, float* sum, std::size_t begin,
                std::size_t end, bool onto_sum) {
    regions.for_range(begin, end, [&](std::size_t region, std::size_t offset, std::size_t length, std::size_t flat) {
        float* s = sum + flat;
        std::size_t k = 0;
        if (!onto_sum) {
            if (parts == 0) return;
            std::copy_n(part(0)[region] + offset, length, s);
            k = 1;
        }
        for (; k < parts; ++k) {
            const float* add = part(k)[region] + offset;
            for (std::size_t i = 0; i < length; ++i) s[i] += add[i];
        }
    });
}

BatchTotals& operator+=(BatchTotals& total, const BatchTotals& add) {
    total.loss_sum += add.loss_sum;
    total.correct += add.correct;
    total.rows += add.rows;
    return total;
}

// The chain of gradient_transport.hpp: leaves in sum[0, n) and `totals`, on every rank, the left
// fold of all ranks' parts. fold_own(begin, end, onto_sum) folds this rank's parts onto
// sum[begin, end) (fold_parts); part_totals are this rank's parts' totals, in order.
template <class FoldOwn>
BatchTotals chain_fold(GradientTransport& transport, float* sum, std::size_t n,
                       const std::vector<BatchTotals>& part_totals, FoldOwn&& fold_own) {
    constexpr std::size_t kSegment = std::size_t{1} << 16;  // floats: 256 KiB a message
    const int rank = transport.rank(), last = transport.size() - 1;
    for (std::size_t begin = 0; begin < n; begin += kSegment) {
        const std::size_t end = std::min(n, begin + kSegment);
        if (rank > 0) transport.recv_prev(sum + begin, (end - begin) * sizeof(float));
        fold_own(begin, end, rank > 0);
        if (rank < last) transport.send_next(sum + begin, (end - begin) * sizeof(float));
    }
    // The totals as three doubles (loss_sum, correct, rows: the counts are exact below 2^53).
    std::array<double, 3> totals{};
    const auto unpack = [&totals] {
        BatchTotals t;
        t.loss_sum = totals[0];
        t.correct = static_cast<std::size_t>(totals[1]);
        t.rows = static_cast<std::size_t>(totals[2]);
        return t;
    };
    if (rank > 0) transport.recv_prev(totals.data(), sizeof totals);
    BatchTotals total = unpack();  // zero on rank 0
    for (const BatchTotals& t : part_totals) total += t;
    totals = {total.loss_sum, static_cast<double>(total.correct), static_cast<double>(total.rows)};
    if (rank < last) transport.send_next(totals.data(), sizeof totals);
    transport.wait_sent();
    transport.broadcast_from_last(sum, n * sizeof(float));
    transport.broadcast_from_last(totals.data(), sizeof totals);
    return unpack();
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

std::vector<std::uint64_t> nonzero_vector_masks(const std::uint8_t* pixels, std::size_t m) {
    std::vector<std::uint64_t> masks(m);
    for (std::size_t j = 0; j < m; ++j) masks[j] = kernels::nonzero_vectors(pixels + j * kRow);
    return masks;
}

std::size_t chunk_count(std::size_t m) {
    return std::clamp<std::size_t>(m / kMinChunkColumns, 1, kMaxChunks);
}

struct BatchEngine::Impl {
    int threads = 1;
    EnginePath path = EnginePath::Auto;
    WorkerPool pool;
    std::unique_ptr<Wide> wide;  // the wide path's buffers, made by its first call
    Packed net;
    std::vector<Scratch> scratch;       // one per thread
    std::vector<ChunkResult> chunks;    // one per chunk, allocated by the first gradients() call
    std::vector<BatchTotals> chunk_totals;
    GradientTransport* transport = nullptr;   // null or one rank: a single process
    std::unique_ptr<Gradients> w_part;        // one process, wide path: part g > 0's sums
    std::vector<Gradients> part_grads;        // distributed, wide path: each owned part's sums
    std::vector<BatchTotals> part_totals_;    // distributed: each owned part's totals
    std::vector<float> flat;                  // distributed: the chain's buffer

    Impl(int hidden, int thread_count)
        : threads(thread_count),
          // More workers than chunks would have nothing to do in the passes (only the dW1
          // reduction of a large H has more tasks), so at most kMaxChunks threads run.
          pool(std::min(thread_count, static_cast<int>(kMaxChunks))),
          net(static_cast<std::size_t>(hidden)),
          chunk_totals(kMaxChunks) {
        for (int t = 0; t < pool.size(); ++t) scratch.emplace_back(net);
    }

    void check(const Params& params) const {
        if (static_cast<std::size_t>(params.hidden()) != net.hidden)
            throw UsageError("BatchEngine built for " + std::to_string(net.hidden) + " hidden units got parameters with " +
                             std::to_string(params.hidden()));
    }

    // Runs fn(task, thread) for tasks 0..count−1 (the chunks, or row bands of the reduction) on
    // the pool; tasks are claimed dynamically but each writes only its own slot, so the order of
    // claiming does not matter.
    template <class Fn>
    void for_each_task(std::size_t count, Fn&& fn) {
        pool.run(count, fn);
    }

    bool use_wide(const Regularization& reg) const {
        if (path == EnginePath::Auto) return net.hidden >= kWideMinHidden || reg.active();
        if (reg.active() && path == EnginePath::Fused)
            throw UsageError("dropout and label smoothing need the wide engine path");
        return path == EnginePath::Wide;
    }

    int rank() const { return transport != nullptr ? transport->rank() : 0; }
    int ranks() const { return transport != nullptr ? transport->size() : 1; }
    bool distributed() const { return ranks() > 1; }

    // The wide path over m columns, part by part and block by block: with `grads`, the gradients
    // of the mean loss (1/m folded into dZ2); always the totals, and predictions when asked.
    // Training in one process folds part g > 0 (accumulated in w_part) into grads as it ends;
    // distributed, each owned part keeps its own sums for the chain.
    BatchTotals wide_pass(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels, std::size_t m,
                          Gradients* grads, const Regularization& reg, std::uint8_t* predictions) {
        if (!wide) wide = std::make_unique<Wide>(net.hidden);
        Wide& w = *wide;
        const bool train = grads != nullptr, chained = train && distributed();
        const float inv_m = 1.0f / static_cast<float>(m);
        const WideParts parts(m);
        // (Plain variables, not a structured binding: lambdas below use them, which C++17 forbids.)
        const std::pair<std::size_t, std::size_t> owned =
            chained ? parts.owned(rank(), ranks()) : std::pair<std::size_t, std::size_t>{0, parts.groups};
        const std::size_t g0 = owned.first, g1 = owned.second;
        if (train) resize_gradients(*grads, net.hidden);
        if (chained) prepare_parts(g1 - g0);
        if (train && !chained && parts.groups > 1) {
            if (!w_part) w_part = std::make_unique<Gradients>();
            resize_gradients(*w_part, net.hidden);
        }
        BatchTotals totals;
        for (std::size_t g = g0; g < g1; ++g) {
            Gradients* part = !train ? nullptr : chained ? &part_grads[g - g0] : g == 0 ? grads : w_part.get();
            Gradients* fold_into = train && !chained && g > 0 ? grads : nullptr;
            BatchTotals part_totals;
            const std::size_t k1 = parts.first_block(g + 1);
            for (std::size_t k = parts.first_block(g); k < k1; ++k) {
                const std::size_t j = k * kWideBlock, b = std::min(kWideBlock, m - j);
                const bool first = k == parts.first_block(g), last = k + 1 == k1;
                w.load(pixels + j * kRow, b);
                for_each_task(w.bands, [&](std::size_t i, int) { w.forward_band(params, i, b, train, j, reg); });
                w.head(params, labels != nullptr ? labels + j : nullptr, b, train, inv_m, reg,
                       predictions != nullptr ? predictions + j : nullptr, part_totals);
                if (!train) continue;
                const auto cols = static_cast<Eigen::Index>(b);
                if (first) {
                    part->dW2.noalias() = w.Z2.leftCols(cols) * w.A.leftCols(cols).transpose();
                    part->db2 = w.Z2.leftCols(cols).rowwise().sum();
                } else {
                    part->dW2.noalias() += w.Z2.leftCols(cols) * w.A.leftCols(cols).transpose();
                    part->db2 += w.Z2.leftCols(cols).rowwise().sum();
                }
                Gradients* band_fold = last ? fold_into : nullptr;
                for_each_task(w.bands, [&](std::size_t i, int) { w.backward_band(params, i, b, first, *part, band_fold); });
            }
            if (fold_into != nullptr) {
                fold_into->dW2 += part->dW2;
                fold_into->db2 += part->db2;
            }
            if (chained)
                part_totals_[g - g0] = part_totals;
            else
                totals += part_totals;
        }
        if (!chained) return totals;
        // The chain over the parts' sums, laid out dW1 | db1 | dW2 | db2 (Eigen's layouts).
        const std::size_t H = net.hidden;
        const Regions regions{{H * kRow, H, kClassCount * H, kClassCount}};
        auto part_regions = [&](std::size_t k) {
            const Gradients& q = part_grads[k];
            return std::array<const float*, 4>{q.dW1.data(), q.db1.data(), q.dW2.data(), q.db2.data()};
        };
        flat.resize(regions.total());
        totals = chain_fold(*transport, flat.data(), flat.size(), part_totals_, [&](std::size_t b, std::size_t e, bool onto) {
            fold_parts(regions, g1 - g0, part_regions, flat.data(), b, e, onto);
        });
        float* out[4] = {grads->dW1.data(), grads->db1.data(), grads->dW2.data(), grads->db2.data()};
        regions.for_range(0, flat.size(), [&](std::size_t region, std::size_t offset, std::size_t length, std::size_t at) {
            std::copy_n(flat.data() + at, length, out[region] + offset);
        });
        return totals;
    }

    // part_grads and part_totals_ for `count` owned wide parts.
    void prepare_parts(std::size_t count) {
        if (part_grads.size() < count) part_grads.resize(count);
        for (std::size_t k = 0; k < count; ++k) resize_gradients(part_grads[k], net.hidden);
        part_totals_.assign(count, BatchTotals{});
    }

    // The fused path, distributed: this rank's run of chunks, the chain over their sums (laid out
    // dW1 rows | dW2 | db1 | db2, as in ChunkResult), then the one-process scaling.
    BatchTotals fused_chained(const std::uint8_t* pixels, const std::uint8_t* labels, const std::uint64_t* nonzero,
                              std::size_t m, Gradients& grads) {
        const std::size_t count = chunk_count(m);
        const std::pair<std::size_t, std::size_t> owned = owned_chunks(m, rank(), ranks());
        const std::size_t c0 = owned.first, c1 = owned.second;  // captured below: no structured binding
        for_each_task(c1 - c0, [&](std::size_t i, int t) {
            const std::size_t c = c0 + i;
            const auto [begin, end] = chunk_range(m, count, c);
            run_chunk(net, pixels, labels, nonzero, begin, end, scratch[static_cast<std::size_t>(t)], &chunks[c], nullptr,
                      chunk_totals[c]);
        });
        const std::size_t H = net.hidden;
        const Regions regions{{H * kRow, H * kClassCount, H, kClassCount}};
        auto part_regions = [&](std::size_t k) {
            const ChunkResult& q = chunks[c0 + k];
            return std::array<const float*, 4>{q.dW1.data(), q.dW2.data(), q.db1.data(), q.db2.data()};
        };
        part_totals_.assign(chunk_totals.begin() + static_cast<std::ptrdiff_t>(c0),
                            chunk_totals.begin() + static_cast<std::ptrdiff_t>(c1));
        flat.resize(regions.total());
        const BatchTotals totals =
            chain_fold(*transport, flat.data(), flat.size(), part_totals_, [&](std::size_t b, std::size_t e, bool onto) {
                fold_parts(regions, c1 - c0, part_regions, flat.data(), b, e, onto);
            });
        resize_gradients(grads, H);
        const float inv_m = 1.0f / static_cast<float>(m), scale = inv_m * kPixelScale;
        float* dW1 = grads.dW1.data();  // column-major: (h, k) at k·H + h
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t k = 0; k < kRow; ++k) dW1[k * H + h] = flat[h * kRow + k] * scale;
        const float* rest = flat.data() + H * kRow;
        for (std::size_t i = 0; i < H * kClassCount; ++i) grads.dW2.data()[i] = rest[i] * inv_m;
        rest += H * kClassCount;
        for (std::size_t h = 0; h < H; ++h) grads.db1.data()[h] = rest[h] * inv_m;
        rest += H;
        for (std::size_t k = 0; k < kClassCount; ++k) grads.db2.data()[k] = rest[k] * inv_m;
        return totals;
    }

    BatchTotals sum_totals(std::size_t count) const {
        BatchTotals total;
        for (std::size_t c = 0; c < count; ++c) {
            total.loss_sum += chunk_totals[c].loss_sum;
            total.correct += chunk_totals[c].correct;
            total.rows += chunk_totals[c].rows;
        }
        return total;
    }
};

BatchEngine::BatchEngine(int hidden, int threads, EnginePath path) {
    if (hidden < 1) throw UsageError("hidden size must be at least 1, got " + std::to_string(hidden));
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    impl_ = std::make_unique<Impl>(hidden, threads);
    impl_->path = path;
}

void BatchEngine::parallel_for(std::size_t count, const std::function<void(std::size_t)>& fn) {
    impl_->for_each_task(count, [&fn](std::size_t i, int) { fn(i); });
}

void Regularization::validate() const {
    if (!(dropout >= 0.0 && dropout < 1.0))
        throw UsageError("dropout must be in [0, 1), got " + std::to_string(dropout));
    if (!(label_smoothing >= 0.0 && label_smoothing < 1.0))
        throw UsageError("label smoothing must be in [0, 1), got " + std::to_string(label_smoothing));
}

std::uint64_t dropout_step_key(std::uint64_t seed, std::int64_t step) {
    constexpr std::uint64_t kKey = 0x64726f706f757421ULL;  // "dropout!"
    return mix64(mix64(seed ^ kKey) + static_cast<std::uint64_t>(step));
}

float dropout_scale(std::uint64_t key, std::size_t column, std::size_t unit, double p) {
    const std::uint64_t h = mix64(key + static_cast<std::uint64_t>(column) * 0x9E3779B97F4A7C15ULL +
                                  static_cast<std::uint64_t>(unit) * 0xD1B54A32D192ED03ULL);
    const float u = static_cast<float>(h >> 40) * 0x1.0p-24f;
    return u < static_cast<float>(p) ? 0.0f : static_cast<float>(1.0 / (1.0 - p));
}

BatchEngine::~BatchEngine() = default;

int BatchEngine::threads() const { return impl_->threads; }

void BatchEngine::set_transport(GradientTransport* transport) { impl_->transport = transport; }

std::pair<std::size_t, std::size_t> BatchEngine::local_columns(std::size_t m, const Regularization& reg) const {
    const Impl& impl = *impl_;
    if (!impl.distributed() || m == 0) return {0, m};
    if (impl.use_wide(reg)) {
        const WideParts parts(m);
        const auto [g0, g1] = parts.owned(impl.rank(), impl.ranks());
        return {parts.first_column(g0), parts.first_column(g1)};
    }
    const std::size_t count = chunk_count(m);
    const auto [c0, c1] = owned_chunks(m, impl.rank(), impl.ranks());
    if (c0 == c1) return {m, m};
    return {chunk_range(m, count, c0).first, chunk_range(m, count, c1 - 1).second};
}

BatchTotals BatchEngine::gradients(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                                   std::size_t m, Gradients& grads, const std::uint64_t* nonzero,
                                   const Regularization& reg) {
    if (m == 0) throw UsageError("cannot compute gradients over zero samples");
    Impl& impl = *impl_;
    impl.check(params);
    reg.validate();
    if (impl.use_wide(reg)) return impl.wide_pass(params, pixels, labels, m, &grads, reg, nullptr);
    impl.net.pack(params);
    while (impl.chunks.size() < kMaxChunks) impl.chunks.emplace_back(impl.net);
    if (impl.distributed()) return impl.fused_chained(pixels, labels, nonzero, m, grads);
    const std::size_t count = chunk_count(m);
    impl.for_each_task(count, [&](std::size_t c, int t) {
        const auto [begin, end] = chunk_range(m, count, c);
        run_chunk(impl.net, pixels, labels, nonzero, begin, end, impl.scratch[static_cast<std::size_t>(t)], &impl.chunks[c],
                  nullptr, impl.chunk_totals[c]);
    });

    // Fixed-order reduction over the chunks, then one scale by 1/m (and the 1/255 for dW1).
    const std::size_t H = impl.net.hidden;
    const float inv_m = 1.0f / static_cast<float>(m);
    const auto rows = static_cast<Eigen::Index>(H);
    grads.dW1.resize(rows, kPixels);
    grads.db1.resize(rows);
    grads.dW2.resize(kClasses, rows);
    grads.db2.resize(kClasses);
    // dW1 in groups of 16 rows: each task reads 16·784·count floats and writes a 16-row band of the
    // column-major result. Large sums are split over the threads (every element is still summed in
    // chunk order); for small H spawning threads would cost more than the sums.
    constexpr std::size_t band_rows = kLanes;
    const std::size_t groups = (H + band_rows - 1) / band_rows;
    auto reduce_group = [&](std::size_t g) {
        const std::size_t h0 = g * band_rows, n = std::min(band_rows, H - h0);
        float band[band_rows * kRow];
        for (std::size_t r = 0; r < n; ++r) {
            float* row = band + r * kRow;
            std::copy_n(impl.chunks[0].dW1.data() + (h0 + r) * kRow, kRow, row);
            for (std::size_t c = 1; c < count; ++c) {
                const float* add = impl.chunks[c].dW1.data() + (h0 + r) * kRow;
                for (std::size_t k = 0; k < kRow; ++k) row[k] += add[k];
            }
        }
        const float scale = inv_m * kPixelScale;
        float* out = grads.dW1.data();  // column-major: (h, k) at k·H + h
        for (std::size_t k = 0; k < kRow; ++k)
            for (std::size_t r = 0; r < n; ++r) out[k * H + h0 + r] = band[r * kRow + k] * scale;
    };
    if (H * count >= 64 * kMaxChunks)
        impl.for_each_task(groups, [&](std::size_t g, int) { reduce_group(g); });
    else
        for (std::size_t g = 0; g < groups; ++g) reduce_group(g);
    for (std::size_t i = 0; i < H * kClassCount; ++i) {
        float sum = impl.chunks[0].dW2[i];
        for (std::size_t c = 1; c < count; ++c) sum += impl.chunks[c].dW2[i];
        grads.dW2.data()[i] = sum * inv_m;
    }
    for (std::size_t h = 0; h < H; ++h) {
        float sum = impl.chunks[0].db1[h];
        for (std::size_t c = 1; c < count; ++c) sum += impl.chunks[c].db1[h];
        grads.db1.data()[h] = sum * inv_m;
    }
    for (std::size_t k = 0; k < kClassCount; ++k) {
        float sum = impl.chunks[0].db2[k];
        for (std::size_t c = 1; c < count; ++c) sum += impl.chunks[c].db2[k];
        grads.db2.data()[k] = sum * inv_m;
    }
    return impl.sum_totals(count);
}

BatchTotals BatchEngine::evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels,
                                  std::size_t m, std::uint8_t* predictions, const std::uint64_t* nonzero) {
    if (m == 0) return BatchTotals{};
    Impl& impl = *impl_;
    impl.check(params);
    if (impl.use_wide(Regularization{})) return impl.wide_pass(params, pixels, labels, m, nullptr, Regularization{}, predictions);
    impl.net.pack(params);
    const std::size_t count = chunk_count(m);
    impl.for_each_task(count, [&](std::size_t c, int t) {
        const auto [begin, end] = chunk_range(m, count, c);
        run_chunk(impl.net, pixels, labels, nonzero, begin, end, impl.scratch[static_cast<std::size_t>(t)], nullptr,
                  predictions, impl.chunk_totals[c]);
    });
    return impl.sum_totals(count);
}

BatchTotals evaluate(const Params& params, const std::uint8_t* pixels, const std::uint8_t* labels, std::size_t m,
                     int threads) {
    BatchEngine engine(params.hidden(), threads);
    return engine.evaluate(params, pixels, labels, m);
}

namespace {

// Z1 = W1·x for one sample (H×1), visiting only its nonzero pixels, with the roundings of the
// product forward() computes for one column: Eigen 3.4's column-major matrix-vector product
// (general_matrix_vector_product in GeneralMatrixVector.h). That takes the 784 columns in blocks of
// 16 (H·4 bytes < 32000); per block and row it forms c ← w·x + c from c = 0, one rounding (FMA)
// for the rows in vector packets (all but the last H mod 4) on a CPU with FMA, a product and a sum
// otherwise; then z ← z + c. A zero pixel leaves c as it is (w·0 + c = c, and c is never −0 since it
// starts at +0), and a block without ink leaves z as it is, so skipping them changes no bit.
// test_network checks this against forward() for many H.
void sparse_first_layer(const Params& params, const std::uint8_t* pixels, Eigen::MatrixXf& Z1) {
    const auto H = static_cast<std::size_t>(params.hidden());
    constexpr std::size_t kBlockColumns = 16;
    static_assert(kRow >= 128, "Eigen blocks the columns only from 128 on");
    const std::size_t packed = H / 4 * 4;  // rows Eigen handles in vector packets
    Z1.setZero(static_cast<Eigen::Index>(H), 1);
    float* z = Z1.data();
    thread_local std::vector<float> chain;
    chain.resize(H);
    const float* table = pixel_scale_table();
    const float* w1 = params.W1.data();  // column-major: pixel k's weights at k·H
    for (std::size_t j2 = 0; j2 < kRow; j2 += kBlockColumns) {
        bool ink = false;
        for (std::size_t j = j2; j < j2 + kBlockColumns; ++j) {
            if (pixels[j] == 0) continue;
            if (!ink) std::fill(chain.begin(), chain.end(), 0.0f);
            ink = true;
            const float x = table[pixels[j]];
            const float* w = w1 + j * H;
            float* c = chain.data();
#ifdef __FMA__
            for (std::size_t h = 0; h < packed; ++h) c[h] = std::fma(w[h], x, c[h]);
#else
            for (std::size_t h = 0; h < packed; ++h) c[h] = w[h] * x + c[h];
#endif
            for (std::size_t h = packed; h < H; ++h) c[h] += w[h] * x;
        }
        if (!ink) continue;
        for (std::size_t h = 0; h < H; ++h) z[h] += chain[h];
    }
}

}  // namespace

Eigen::VectorXf predict_one(const Params& params, const std::uint8_t* pixels) {
    if (params.hidden() == 1) {  // a 1×1 result: Eigen takes a dot product instead (another order)
        Eigen::MatrixXf X, P;
        pixels_to_input(pixels, 1, X);
        forward(params, X, P);
        return P.col(0);
    }
    // forward() for one column, with its first product done by sparse_first_layer.
    Eigen::MatrixXf Z1;
    sparse_first_layer(params, pixels, Z1);
    Z1.colwise() += params.b1;
    Eigen::MatrixXf A1(Z1.rows(), 1);
    activate(params.activation, Z1, A1);
    Eigen::MatrixXf P(kClasses, 1);
    P.noalias() = params.W2 * A1;
    P.colwise() += params.b2;
    softmax_columns(P);
    return P.col(0);
}

void predict_classes(const Params& params, const std::uint8_t* pixels, std::size_t m, int threads,
                     std::uint8_t* out) {
    BatchEngine engine(params.hidden(), threads);
    engine.evaluate(params, pixels, nullptr, m, out);
}

}  // namespace mnistnn
