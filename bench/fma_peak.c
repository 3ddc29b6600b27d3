// One core's fp32 FMA peak, measured: twelve independent chains of the widest FMA this CPU has
// (AVX-512 when built with it, else AVX2+FMA), held in registers and timed by the thread's CPU
// time; the best of three tries. Prints GFLOP/s. bench/compare.sh builds it with -march=native
// and multiplies by the threads it uses, so its "% of floor" is against this machine's peak.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define FIRST(v) _mm512_cvtss_f32(v)
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define FIRST(v) _mm256_cvtss_f32(v)
#else
#error "needs AVX2 and FMA (build with -march=native on x86-64)"
#endif

enum { CHAINS = 12 };
static const long kRounds = 20000000;

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// FLOPs per CPU-second of one try. Twelve named accumulators (not an array) keep the chains in
// registers at any optimisation level.
static double one_try(void) {
#define ACC(i) vec a##i = SET1(1.0f + (float)(i) * 1e-7f);
    ACC(0) ACC(1) ACC(2) ACC(3) ACC(4) ACC(5) ACC(6) ACC(7) ACC(8) ACC(9) ACC(10) ACC(11)
    const vec b = SET1(0.9999999f), c = SET1(1e-8f);
    const double start = cpu_seconds();
    for (long r = 0; r < kRounds; ++r) {
#define STEP(i) a##i = FMA(a##i, b, c);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
        __asm__("" : "+v"(a0), "+v"(a6));
    }
    const double seconds = cpu_seconds() - start;
    volatile float keep = FIRST(a0) + FIRST(a1) + FIRST(a2) + FIRST(a3) + FIRST(a4) + FIRST(a5) + FIRST(a6) +
                          FIRST(a7) + FIRST(a8) + FIRST(a9) + FIRST(a10) + FIRST(a11);
    (void)keep;
    return (double)kRounds * CHAINS * LANES * 2 / seconds;
#undef ACC
#undef STEP
}

int main(void) {
    double best = 0.0;
    for (int i = 0; i < 3; ++i) {
        const double f = one_try();
        if (f > best) best = f;
    }
    printf("%.1f\n", best / 1e9);
    return 0;
}
