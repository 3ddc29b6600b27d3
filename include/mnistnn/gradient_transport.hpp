#pragma once
// Data-parallel training: how several processes (ranks) share each step's gradient sums so that
// every rank ends the step with exactly the bits one process would have computed.
//
// The single-process sums
//   A step's gradient is a sum over its batch's columns. BatchEngine cuts the batch into parts
//   whose number and bounds depend only on the batch size m (never on threads or ranks):
//     - the fused path: chunk_count(m) chunks (see chunk_range in network.cpp);
//     - the wide path: blocks of 256 columns, grouped into at most 16 runs of whole blocks.
//   Each part's partial sum q_k is computed on its own, starting from zero, by code whose order of
//   operations depends only on the part's columns (so any rank that computes part k gets the same
//   bits for q_k). The step's sum is the left fold over the parts, element by element:
//       S = ((q_0 + q_1) + q_2) + … + q_{n−1}                                          (1)
//   Float addition is not associative, so (1) is the *only* order that reproduces these bits;
//   a plain MPI_Allreduce, which adds in an order of its own choosing, is not enough.
//
// The chain
//   Rank r owns the contiguous parts [b_r, b_{r+1}), 0 = b_0 ≤ b_1 ≤ … ≤ b_P = n, the boundaries
//   chosen to give each rank about m/P columns, with b_1 ≥ 1 (rank 0 always owns q_0; another rank
//   may own none when P > n). Which boundaries does not matter to the result, only that the runs
//   are contiguous and in rank order. Rank r computes its parts' q_k, then
//     - rank 0 sets S_0 = q_0 + q_1 + … + q_{b_1 − 1}, folded left from q_0;
//     - rank r > 0 receives S_{r−1} from rank r − 1 and folds its own parts onto it, left to right:
//       S_r = ((S_{r−1} + q_{b_r}) + q_{b_r + 1}) + … + q_{b_{r+1} − 1};
//     - rank r < P − 1 sends S_r to rank r + 1; rank P − 1 broadcasts S_{P−1} to all.
//   Claim: S_{P−1} equals (1) bit for bit. By induction on r, S_r is the left fold (1) truncated
//   after part b_{r+1} − 1: true for r = 0 by definition; if true for r − 1, then S_r continues that
//   same left fold with the next parts in order, performing the same float additions on the same
//   operands. At r = P − 1, b_P = n, so S_{P−1} is the whole fold (1). The additions are
//   element-wise and independent across elements, so the gradient vector is cut into segments that
//   travel down the chain one after another (a pipeline: rank r + 1 folds segment i while rank r
//   folds segment i + 1); this changes when an element is added, never which operands are added
//   in which order. The step's loss and accuracy totals travel the same chain. The broadcast copies
//   bits. Scaling (by 1/m) happens after the fold on every rank, as in one process.
//
// Every rank then applies the same optimizer update to the same parameters, so the parameters stay
// identical on all ranks, step after step, and equal to one process's.
//
// A transport only moves bytes; the fold itself is BatchEngine's (network.cpp). Implementations:
// MpiTransport (mpi_transport.hpp, built with MNISTNN_MPI) and the tests' in-process one.

#include <cstddef>

namespace mnistnn {

class GradientTransport {
public:
    virtual ~GradientTransport() = default;

    virtual int rank() const = 0;  // 0 … size() − 1
    virtual int size() const = 0;

    // Point-to-point along the chain. send_next may return before the data has left (the buffer
    // must then stay untouched until wait_sent()); recv_prev returns once the bytes are there.
    // Messages between two ranks arrive in the order they were sent.
    virtual void send_next(const void* data, std::size_t bytes) = 0;  // to rank() + 1
    virtual void recv_prev(void* data, std::size_t bytes) = 0;        // from rank() − 1
    virtual void wait_sent() = 0;

    // Copies size() − 1's bytes to every rank.
    virtual void broadcast_from_last(void* data, std::size_t bytes) = 0;

    // True on every rank iff `vote` is true on any rank (to stop training on the same step).
    virtual bool any(bool vote) = 0;

    // Throws (on every rank) unless `value` is the same on every rank; `what` names the value.
    virtual void require_same(unsigned long long value, const char* what) = 0;
};

}  // namespace mnistnn
