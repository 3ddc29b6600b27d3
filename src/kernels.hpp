#pragma once
// SIMD building blocks for BatchEngine (internal to network.cpp; not installed, not public API).
//
// vf16 holds 16 floats: one zmm register with AVX-512, two ymm registers with AVX2. The helpers
// are GCC/Clang vector-extension code, which the compiler lowers to whatever the target has (SSE2
// on the portable build), plus AVX-512 or AVX2/FMA intrinsics where the generic form is slow or
// unavailable (fused multiply-add, the byte→int widening).
//
// Rounding: with AVX-512 or with FMA (x86-64-v3: Haswell, Zen and later) a·b + c is rounded once,
// so these two builds compute the same bits; the portable build (no FMA) multiplies then adds and
// differs from them in the last bits. The build passes -ffp-contract=off, so the compiler never
// fuses a multiply and an add on its own: the optimisation level (Release, the sanitizer build)
// does not change a result. Within one build every helper is a fixed sequence of operations, so
// results never depend on the thread count. No helper reassociates sums: every reduction order is
// written out.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__FMA__)
#include <immintrin.h>
#endif

// Without AVX-512, GCC and Clang note that passing 64-byte vectors by value would change the ABI;
// these helpers are all inline and internal, so no ABI is involved.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace mnistnn::kernels {

constexpr int kLanes = 16;
typedef std::uint8_t vu8x16 __attribute__((vector_size(16)));

#if defined(__AVX2__) && !defined(__AVX512F__)
// AVX2: GCC keeps a 64-byte vector-extension value in memory when the target has no 64-byte
// registers, and lowers every operation on it piecewise through the stack (about 60× slower than
// the arithmetic). So here vf16 is a pair of native 8-lane halves, each one ymm register, with the
// vector-extension operators applied half by half: lane i < 8 is lo[i], lane i ≥ 8 is hi[i − 8].
// Each lane sees exactly the operation it would in a 64-byte vector.
#define MNISTNN_PAIRED_LANES 1
typedef float vf8 __attribute__((vector_size(32)));
typedef std::int32_t vi8 __attribute__((vector_size(32)));
typedef std::uint32_t vu8 __attribute__((vector_size(32)));

template <class V>
struct Halves {
    V lo, hi;
    auto operator[](std::size_t i) const { return i < 8 ? lo[i] : hi[i - 8]; }
};
typedef Halves<vf8> vf16;
typedef Halves<vi8> vi16;
typedef Halves<vu8> vu16;

template <class T>
constexpr bool kScalar = std::is_arithmetic_v<T>;
#define MNISTNN_HALVES_BINARY(op)                                                                       \
    template <class A, class B>                                                                         \
    inline auto operator op(const Halves<A>& a, const Halves<B>& b)->Halves<decltype(a.lo op b.lo)> { \
        return {a.lo op b.lo, a.hi op b.hi};                                                            \
    }                                                                                                   \
    template <class A, class S, std::enable_if_t<kScalar<S>, int> = 0>                                  \
    inline auto operator op(const Halves<A>& a, S s)->Halves<decltype(a.lo op s)> {                    \
        return {a.lo op s, a.hi op s};                                                                  \
    }                                                                                                   \
    template <class A, class S, std::enable_if_t<kScalar<S>, int> = 0>                                  \
    inline auto operator op(S s, const Halves<A>& a)->Halves<decltype(s op a.lo)> {                    \
        return {s op a.lo, s op a.hi};                                                                  \
    }
MNISTNN_HALVES_BINARY(+)
MNISTNN_HALVES_BINARY(-)
MNISTNN_HALVES_BINARY(*)
MNISTNN_HALVES_BINARY(/)
MNISTNN_HALVES_BINARY(&)
MNISTNN_HALVES_BINARY(|)
MNISTNN_HALVES_BINARY(<<)
MNISTNN_HALVES_BINARY(<)
MNISTNN_HALVES_BINARY(>)
MNISTNN_HALVES_BINARY(==)
#undef MNISTNN_HALVES_BINARY
template <class V>
inline Halves<V> operator-(const Halves<V>& a) { return {-a.lo, -a.hi}; }
template <class V>
inline Halves<V> operator~(const Halves<V>& a) { return {~a.lo, ~a.hi}; }
template <class V>
inline Halves<V>& operator+=(Halves<V>& a, const Halves<V>& b) { return a = a + b; }

inline vf8 low_half(const vf16& v) { return v.lo; }
inline vf8 high_half(const vf16& v) { return v.hi; }
inline vf16 join(const vf8& lo, const vf8& hi) { return {lo, hi}; }
inline vi16 as_int(const vf16& v) { return {reinterpret_cast<vi8>(v.lo), reinterpret_cast<vi8>(v.hi)}; }
inline vu16 as_uint(const vi16& v) { return {reinterpret_cast<vu8>(v.lo), reinterpret_cast<vu8>(v.hi)}; }
inline vf16 as_float(const vi16& v) { return {reinterpret_cast<vf8>(v.lo), reinterpret_cast<vf8>(v.hi)}; }
inline vf16 as_float(const vu16& v) { return {reinterpret_cast<vf8>(v.lo), reinterpret_cast<vf8>(v.hi)}; }
inline vf16 to_float(const vi16& v) {
    return {__builtin_convertvector(v.lo, vf8), __builtin_convertvector(v.hi, vf8)};
}
inline vf16 splat(float s) { return {vf8{s, s, s, s, s, s, s, s}, vf8{s, s, s, s, s, s, s, s}}; }
inline vi16 splat_int(std::int32_t s) { return {vi8{s, s, s, s, s, s, s, s}, vi8{s, s, s, s, s, s, s, s}}; }
inline vi16 lane_indices() { return {vi8{0, 1, 2, 3, 4, 5, 6, 7}, vi8{8, 9, 10, 11, 12, 13, 14, 15}}; }
// Sixteen bytes → sixteen int32 lanes.
inline vi16 widen_bytes(const std::uint8_t* p) {
    return {reinterpret_cast<vi8>(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))),
            reinterpret_cast<vi8>(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8))))};
}
#else
typedef float vf16 __attribute__((vector_size(64)));
typedef std::int32_t vi16 __attribute__((vector_size(64)));
typedef std::uint32_t vu16 __attribute__((vector_size(64)));

inline vi16 as_int(const vf16& v) { return reinterpret_cast<vi16>(v); }
inline vu16 as_uint(const vi16& v) { return reinterpret_cast<vu16>(v); }
inline vf16 as_float(const vi16& v) { return reinterpret_cast<vf16>(v); }
inline vf16 as_float(const vu16& v) { return reinterpret_cast<vf16>(v); }
inline vf16 to_float(const vi16& v) { return __builtin_convertvector(v, vf16); }
inline vf16 splat(float s) { return vf16{s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }
inline vi16 splat_int(std::int32_t s) { return vi16{s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }
inline vi16 lane_indices() { return vi16{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }
// Sixteen bytes → sixteen int32 lanes.
inline vi16 widen_bytes(const std::uint8_t* p) {
#if defined(__AVX512F__)
    // (GCC 12 widens the generic convert byte by byte; the maskz form also avoids its bogus
    // -Wuninitialized on _mm512_cvtepu8_epi32, bug 105593.)
    return reinterpret_cast<vi16>(_mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#else
    vu8x16 bytes;
    std::memcpy(&bytes, p, sizeof bytes);
    return __builtin_convertvector(bytes, vi16);
#endif
}
#endif

inline vf16 load(const float* p) {
    vf16 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store(float* p, const vf16& v) { std::memcpy(p, &v, sizeof v); }

// load() for a vector that several FMAs reuse. Left to itself GCC, short of registers, folds the
// load into every FMA that uses the value, re-reading it each time, and the register tiles below
// become load-bound; an opaque load makes it keep the value in a register.
inline vf16 load_once(const float* p) {
#if defined(__AVX512F__)
    vf16 v = load(p);
    __asm__("" : "+v"(v));  // an empty asm the value must pass through: nothing to re-read
    return v;
#else
    return load(p);
#endif
}

// a·b + c (rounded once with AVX-512 or FMA; multiply then add on the portable build).
inline vf16 fmadd(const vf16& a, const vf16& b, const vf16& c) {
#if defined(__AVX512F__)
    return _mm512_fmadd_ps(a, b, c);
#elif defined(MNISTNN_PAIRED_LANES) && defined(__FMA__)
    return join(_mm256_fmadd_ps(low_half(a), low_half(b), low_half(c)),
                _mm256_fmadd_ps(high_half(a), high_half(b), high_half(c)));
#else
    return a * b + c;
#endif
}

// c − a·b (rounded once where fmadd is).
inline vf16 fnmadd(const vf16& a, const vf16& b, const vf16& c) {
#if defined(__AVX512F__)
    return _mm512_fnmadd_ps(a, b, c);
#elif defined(MNISTNN_PAIRED_LANES) && defined(__FMA__)
    return join(_mm256_fnmadd_ps(low_half(a), low_half(b), low_half(c)),
                _mm256_fnmadd_ps(high_half(a), high_half(b), high_half(c)));
#else
    return c - a * b;
#endif
}

// Lanes of `a` where mask is all-ones, lanes of `b` where it is zero (mask from a comparison).
inline vf16 select(const vi16& mask, const vf16& a, const vf16& b) {
    return as_float((as_int(a) & mask) | (as_int(b) & ~mask));
}
inline vi16 select(const vi16& mask, const vi16& a, const vi16& b) { return (a & mask) | (b & ~mask); }

// Σ of the 16 lanes in a fixed tree order: + the other half, quarter, pair, lane.
inline float hsum(const vf16& v) {
#if defined(MNISTNN_PAIRED_LANES)
    // The same tree on ymm/xmm halves (the generic 64-byte shuffles are scalar code on AVX2).
    const __m256 t1 = low_half(v) + high_half(v);                                  // v[i] + v[i + 8]
    const __m128 t2 = _mm256_castps256_ps128(t1) + _mm256_extractf128_ps(t1, 1);   // t1[i] + t1[i + 4]
    const __m128 t3 = t2 + _mm_movehl_ps(t2, t2);                                  // t2[i] + t2[i + 2]
    return t3[0] + t3[1];
#else
    vf16 t = v + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    t += __builtin_shufflevector(t, t, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    t += __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    t += __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return t[0];
#endif
}

// hsum of 16 vectors at once: r[i] = hsum(a[i]). A transposing tree of 15 shuffle-shuffle-add
// steps instead of 16 separate four-level trees; each lane is summed in exactly hsum's order, so
// the results are the same bit for bit. (On AVX2, sixteen hsums: the 64-byte shuffles would be
// scalar code.)
inline vf16 hsum16(const vf16* a) {
#if defined(MNISTNN_PAIRED_LANES)
    float r[kLanes];
    for (int i = 0; i < kLanes; ++i) r[i] = hsum(a[i]);
    return load(r);
#else
    vf16 c[8], d[4], e[2];
    for (int i = 0; i < 8; ++i)  // c[i] = [a[i] halves summed | a[i+8] halves summed]
        c[i] = __builtin_shufflevector(a[i], a[i + 8], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(a[i], a[i + 8], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int i = 0; i < 4; ++i)  // d[i] = four lanes each of a[i], a[i+4], a[i+8], a[i+12]
        d[i] = __builtin_shufflevector(c[i], c[i + 4], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
               __builtin_shufflevector(c[i], c[i + 4], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int i = 0; i < 2; ++i)  // e[i] = two lanes each of a[i], a[i+2], a[i+4], …, a[i+14]
        e[i] = __builtin_shufflevector(d[i], d[i + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
               __builtin_shufflevector(d[i], d[i + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    return __builtin_shufflevector(e[0], e[1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
           __builtin_shufflevector(e[0], e[1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
#endif
}

// Sixteen pixel bytes → their values 0..255 as floats (exact).
inline vf16 load_pixel_values(const std::uint8_t* p) { return to_float(widen_bytes(p)); }

// e^x per lane (Cephes expf: Cody–Waite reduction x = n·ln2 + r, degree-7 polynomial for e^r,
// about 1 ulp). Results below FLT_MIN (x < −87.3) flush to 0, x > 88.37 gives +inf, NaN stays NaN.
inline vf16 exp(const vf16& x) {
    const vf16 hi = splat(88.3762626647949f), lo = splat(-87.3365447504f);
    const vi16 too_big = x > hi, too_small = x < lo;
    const vf16 xc = select(too_small, lo, select(too_big, hi, x));  // comparisons are false for NaN
    // n = round(x·log2 e): adding 1.5·2^23 leaves n in the low mantissa bits.
    const vf16 magic = splat(12582912.0f);
    const vf16 t = fmadd(xc, splat(1.44269504088896341f), magic);
    const vf16 n = t - magic;
    const vi16 n_int = as_int(t) - as_int(magic);
    vf16 r = fnmadd(n, splat(0.693359375f), xc);  // ln 2 = 0.693359375 − 2.12194440e-4 (Cody–Waite)
    r = fnmadd(n, splat(-2.12194440e-4f), r);
    vf16 p = splat(1.9875691500e-4f);
    p = fmadd(p, r, splat(1.3981999507e-3f));
    p = fmadd(p, r, splat(8.3334519073e-3f));
    p = fmadd(p, r, splat(4.1665795894e-2f));
    p = fmadd(p, r, splat(1.6666665459e-1f));
    p = fmadd(p, r, splat(5.0000001201e-1f));
    const vf16 er = fmadd(p, r * r, r) + 1.0f;                             // e^r
    const vf16 two_n = as_float(as_uint(n_int + 127) << 23);  // 2^n, n ∈ [−126, 127]
    vf16 y = er * two_n;
    y = select(too_big, splat(__builtin_inff()), y);
    return select(too_small, vf16{}, y);
}

// ---------------------------------------------------------------------------------------------
// Register-sized parts of a vf16, for the tile kernels below: the whole vector with AVX-512, each
// 8-lane half with AVX2 (arrays of Halves would live on the stack; arrays of vf8 stay in ymm
// registers). Part q of a vector holds its lanes q·kPartLanes … (q + 1)·kPartLanes − 1.
#if defined(MNISTNN_PAIRED_LANES)
typedef vf8 vpart;
constexpr int kParts = 2;
inline vpart splat_part(float s) { return vf8{s, s, s, s, s, s, s, s}; }
inline vpart fmadd_part(const vpart& a, const vpart& b, const vpart& c) {
#if defined(__FMA__)
    return _mm256_fmadd_ps(a, b, c);
#else
    return a * b + c;
#endif
}
inline vpart load_pixel_part(const std::uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline vf16 from_parts(const vpart* p) { return {p[0], p[1]}; }
#else
typedef vf16 vpart;
constexpr int kParts = 1;
inline vpart splat_part(float s) { return splat(s); }
inline vpart fmadd_part(const vpart& a, const vpart& b, const vpart& c) { return fmadd(a, b, c); }
inline vpart load_pixel_part(const std::uint8_t* p) { return load_pixel_values(p); }
inline vf16 from_parts(const vpart* p) { return p[0]; }
#endif
constexpr int kPartLanes = kLanes / kParts;
inline vpart load_part(const float* p) {
    vpart v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store_part(float* p, const vpart& v) { std::memcpy(p, &v, sizeof v); }
#if defined(MNISTNN_PAIRED_LANES)
inline vpart load_part_once(const float* p) { return load_part(p); }
#else
inline vpart load_part_once(const float* p) { return load_once(p); }
#endif

// ---------------------------------------------------------------------------------------------
// Layer-1 micro-kernels. A sample's row of pixels (and a row of W1) has 784 = 49·16 entries, so
// every row is whole vectors.

constexpr std::size_t kRow = 784;
constexpr std::size_t kRowVectors = kRow / kLanes;

// Skipping zero pixels. Handwritten digits leave most of the frame blank: in MNIST 42% of a
// sample's 16-pixel vectors are all zero (the margins, and the gaps around thin strokes). Their
// terms in both layer-1 products are exact zeros, so the kernels skip them. For finite weights
// the result is bit for bit the dense one: an accumulator that starts at +0 never becomes −0, and
// adding ±0 to anything else changes nothing. (With non-finite weights the dense product would
// turn 0·inf into NaN; training has diverged by then, and the loss is NaN either way.)

// Bit v (0 ≤ v < 49) set iff the sample's pixels 16v … 16v + 15 are not all zero.
inline std::uint64_t nonzero_vectors(const std::uint8_t* row) {
    std::uint64_t mask = 0;
    std::size_t v = 0;
#if defined(__AVX512F__) && defined(__BMI2__)
    // 64 bytes at a time: which of the 8 qwords are nonzero, then qword pairs → vectors.
    for (; v + 4 <= kRowVectors; v += 4) {
        const __m512i bytes = _mm512_loadu_si512(row + v * kLanes);
        const unsigned qwords = _mm512_test_epi64_mask(bytes, bytes);
        mask |= static_cast<std::uint64_t>(_pext_u32(qwords | (qwords >> 1), 0x55u)) << v;
    }
#endif
    for (; v < kRowVectors; ++v) {
        std::uint64_t half[2];
        std::memcpy(half, row + v * kLanes, sizeof half);
        mask |= static_cast<std::uint64_t>((half[0] | half[1]) != 0) << v;
    }
    return mask;
}

// Writes to out, in order, the j < b with nonzero[j] & bits ≠ 0, and returns their count. out
// must have room for b rounded up to 16 (whole vectors are stored past the count).
inline std::size_t select_samples(const std::uint64_t* nonzero, std::size_t b, std::uint64_t bits, std::uint32_t* out) {
    std::size_t count = 0, j = 0;
#if defined(__AVX512F__)
    // Sixteen samples at a time: test the masks, compress the indices in a register (the memory
    // form of vpcompressd is microcoded and slow on Zen 4) and store them all.
    const __m512i want = _mm512_set1_epi64(static_cast<long long>(bits));
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j + 16 <= b; j += 16) {
        const __mmask8 lo = _mm512_test_epi64_mask(_mm512_loadu_si512(nonzero + j), want);
        const __mmask8 hi = _mm512_test_epi64_mask(_mm512_loadu_si512(nonzero + j + 8), want);
        const auto keep = static_cast<__mmask16>(lo | (static_cast<unsigned>(hi) << 8));
        const __m512i index = _mm512_add_epi32(lanes, _mm512_set1_epi32(static_cast<int>(j)));
        _mm512_storeu_si512(out + count, _mm512_maskz_compress_epi32(keep, index));
        count += static_cast<std::size_t>(__builtin_popcount(keep));
    }
#endif
    for (; j < b; ++j) {  // branch-free append
        out[count] = static_cast<std::uint32_t>(j);
        count += (nonzero[j] & bits) != 0;
    }
    return count;
}

// sums[i] = hsum(v[i]) for i < n, sixteen at a time while there are sixteen left.
template <int n>
inline void hsum_all(const vf16* v, float* sums) {
    int i = 0;
    for (; i + kLanes <= n; i += kLanes) store(sums + i, hsum16(v + i));
    for (; i < n; ++i) sums[i] = hsum(v[i]);
}

// Z[h·zs + j] = Σ_k Wt[h·784 + k]·x_j[k] for an HT×JT tile (h < HT, j < JT): the layer-1 forward
// product W1·X for HT hidden units and JT samples, x_j being row x + j·784, over the pixel vectors
// in `vectors` (the others must be zero in all JT rows). Each of the HT·JT dot products keeps a
// 16-lane accumulator and is summed horizontally once at the end. With `next`, also prefetches
// rows next + j·784 for j < ahead into L2, one line per vector step (spread out: a burst of
// prefetches stalls on the full miss queue).
template <int HT, int JT>
inline void dot_tile(const float* Wt, const std::uint8_t* x, std::uint64_t vectors, float* Z, std::size_t zs,
                     const std::uint8_t* next = nullptr, std::size_t ahead = 0) {
    constexpr int n = HT * JT;
    constexpr std::size_t kLines = (kRow + 63) / 64 + 1;  // lines a row can touch
    vpart acc[n * kParts] = {};                            // acc[(h·JT + j)·kParts + q]
    std::size_t line = 0;
    for (; vectors != 0; vectors &= vectors - 1) {
        const std::size_t k = static_cast<std::size_t>(__builtin_ctzll(vectors)) * kLanes;
        vpart xv[JT * kParts];
        for (int j = 0; j < JT; ++j)
            for (int q = 0; q < kParts; ++q)
                xv[j * kParts + q] = load_pixel_part(x + static_cast<std::size_t>(j) * kRow + k + q * kPartLanes);
        if (next != nullptr && line < kLines) {
            for (std::size_t j = 0; j < ahead; ++j) __builtin_prefetch(next + j * kRow + std::min(line * 64, kRow - 1), 0, 2);
            ++line;
        }
        for (int h = 0; h < HT; ++h)
            for (int q = 0; q < kParts; ++q) {
                const vpart w = load_part_once(Wt + static_cast<std::size_t>(h) * kRow + k + q * kPartLanes);
                for (int j = 0; j < JT; ++j)
                    acc[(h * JT + j) * kParts + q] = fmadd_part(w, xv[j * kParts + q], acc[(h * JT + j) * kParts + q]);
            }
    }
    if (next != nullptr)  // a tile with few nonzero vectors still prefetches every line
        for (; line < kLines; ++line)
            for (std::size_t j = 0; j < ahead; ++j) __builtin_prefetch(next + j * kRow + std::min(line * 64, kRow - 1), 0, 2);
    // Horizontal sums. With one part per vector the accumulators are whole vectors already; a copy
    // into a second array would cost GCC a memmove per tile (5% of a full-batch step at H = 10).
    float sums[n];
    if constexpr (kParts == 1) {
        hsum_all<n>(acc, sums);
    } else {
        vf16 whole[n];
        for (int i = 0; i < n; ++i) whole[i] = from_parts(acc + i * kParts);
        hsum_all<n>(whole, sums);
    }
    for (int h = 0; h < HT; ++h)
        for (int j = 0; j < JT; ++j) Z[static_cast<std::size_t>(h) * zs + static_cast<std::size_t>(j)] = sums[h * JT + j];
}

// dW[h·784 + k] += Σ_j dZ[h·dzs + j]·v_j[k] over the samples j in samples[0..count) for h < HT
// and k in the W pixel vectors starting at dW / P (v_j[k] = P[j·784 + k], converted in
// registers; the other samples must have zeros there): the layer-1 weight gradient
// dW1 += dZ1·Vᵀ as a sum of outer products, one per sample, with the HT×16·W tile of dW1 held in
// registers for the whole block of samples. With first, dW is overwritten instead (the sum
// starts from 0), which saves zeroing it.
template <int HT, int W>
inline void outer_tile(float* dW, const float* dZ, std::size_t dzs, const std::uint8_t* P,
                       const std::uint32_t* samples, std::size_t count, bool first) {
    constexpr int parts = W * kParts;  // register parts per row of the tile
    vpart acc[HT][parts];
    for (int h = 0; h < HT; ++h)
        for (int v = 0; v < parts; ++v)
            acc[h][v] = first ? vpart{} : load_part(dW + static_cast<std::size_t>(h) * kRow + static_cast<std::size_t>(v * kPartLanes));
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t j = samples[i];
        vpart x[parts];
        for (int v = 0; v < parts; ++v) x[v] = load_pixel_part(P + j * kRow + static_cast<std::size_t>(v * kPartLanes));
        for (int h = 0; h < HT; ++h) {
            const vpart d = splat_part(dZ[static_cast<std::size_t>(h) * dzs + j]);
            for (int v = 0; v < parts; ++v) acc[h][v] = fmadd_part(d, x[v], acc[h][v]);
        }
    }
    for (int h = 0; h < HT; ++h)
        for (int v = 0; v < parts; ++v)
            store_part(dW + static_cast<std::size_t>(h) * kRow + static_cast<std::size_t>(v * kPartLanes), acc[h][v]);
}

}  // namespace mnistnn::kernels

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
