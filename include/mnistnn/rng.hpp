#pragma once
// A small, fully specified random generator so shuffles and initial weights are identical on
// every compiler and platform (std:: distributions are implementation-defined).
#include <cstdint>

namespace mnistnn {

// xoshiro256** seeded through SplitMix64 (Blackman & Vigna).
class Rng {
public:
    explicit Rng(std::uint64_t seed);

    std::uint64_t next_u64();
    // Uniform in [0, 1) with 24 random bits, exactly representable as float.
    float next_float01();
    // Uniform integer in [0, bound) without modulo bias (rejection sampling); bound > 0.
    std::uint64_t next_below(std::uint64_t bound);
    // Standard normal (Box–Muller), used by He/Xavier initialisation.
    double next_normal();

private:
    std::uint64_t state_[4];
};

}  // namespace mnistnn
