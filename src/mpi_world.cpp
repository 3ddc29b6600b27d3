#include "mnistnn/mpi_world.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"

#ifdef MNISTNN_HAVE_MPI
#include <mpi.h>
#endif

namespace mnistnn {
namespace {

MpiWorld* g_active = nullptr;

// mpirun (Open MPI 4: OMPI_COMM_WORLD_SIZE; PMIx launchers: PMIX_RANK) sets these for its ranks.
bool started_by_mpirun() {
    return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

#ifdef MNISTNN_HAVE_MPI
constexpr int kChainTag = 41;
constexpr std::size_t kMaxMessage = std::size_t{1} << 30;  // MPI counts are ints: send in ≤ 1 GiB pieces

class MpiTransport final : public GradientTransport {
public:
    MpiTransport(int rank, int size) : rank_(rank), size_(size) {}

    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void send_next(const void* data, std::size_t bytes) override {
        const auto* p = static_cast<const char*>(data);
        for (std::size_t done = 0; done < bytes; done += kMaxMessage) {
            pending_.emplace_back();
            MPI_Isend(p + done, piece(bytes - done), MPI_BYTE, rank_ + 1, kChainTag, MPI_COMM_WORLD, &pending_.back());
        }
    }
    void recv_prev(void* data, std::size_t bytes) override {
        auto* p = static_cast<char*>(data);
        for (std::size_t done = 0; done < bytes; done += kMaxMessage)
            MPI_Recv(p + done, piece(bytes - done), MPI_BYTE, rank_ - 1, kChainTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    void wait_sent() override {
        MPI_Waitall(static_cast<int>(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE);
        pending_.clear();
    }
    void broadcast_from_last(void* data, std::size_t bytes) override {
        auto* p = static_cast<char*>(data);
        for (std::size_t done = 0; done < bytes; done += kMaxMessage)
            MPI_Bcast(p + done, piece(bytes - done), MPI_BYTE, size_ - 1, MPI_COMM_WORLD);
    }
    bool any(bool vote) override {
        int mine = vote ? 1 : 0, result = 0;
        MPI_Allreduce(&mine, &result, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
        return result != 0;
    }
    void require_same(unsigned long long value, const char* what) override {
        std::vector<unsigned long long> all(static_cast<std::size_t>(size_));
        MPI_Allgather(&value, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
        for (int r = 1; r < size_; ++r)
            if (all[static_cast<std::size_t>(r)] != all[0])
                throw MismatchError("rank " + std::to_string(r) + "'s " + what + " differ from rank 0's (every rank " +
                                    "must read the same data with the same settings and starting model)");
    }

private:
    static int piece(std::size_t left) { return static_cast<int>(left < kMaxMessage ? left : kMaxMessage); }

    int rank_, size_;
    std::vector<MPI_Request> pending_;
};
#endif

}  // namespace

struct MpiWorld::Impl {
    int rank = 0, size = 1;
    bool initialised = false;
#ifdef MNISTNN_HAVE_MPI
    std::unique_ptr<MpiTransport> transport;
#endif
};

MpiWorld::MpiWorld() : impl_(std::make_unique<Impl>()) {
#ifdef MNISTNN_HAVE_MPI
    if (started_by_mpirun()) {
        MPI_Init(nullptr, nullptr);
        impl_->initialised = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &impl_->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &impl_->size);
        if (impl_->size > 1) impl_->transport = std::make_unique<MpiTransport>(impl_->rank, impl_->size);
    }
#else
    // Started by mpirun but built without MPI: know the job's shape, to refuse it (train does).
    if (started_by_mpirun()) {
        const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
        const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
        if (size != nullptr) impl_->size = std::max(1, std::atoi(size));
        if (rank != nullptr) impl_->rank = std::max(0, std::atoi(rank));
    }
#endif
    g_active = this;
}

MpiWorld::~MpiWorld() {
    if (g_active == this) g_active = nullptr;
#ifdef MNISTNN_HAVE_MPI
    impl_->transport.reset();
    if (impl_->initialised) MPI_Finalize();
#endif
}

int MpiWorld::rank() const { return impl_->rank; }
int MpiWorld::size() const { return impl_->size; }

GradientTransport* MpiWorld::transport() {
#ifdef MNISTNN_HAVE_MPI
    return impl_->transport.get();
#else
    return nullptr;
#endif
}

void MpiWorld::abort(int code) {
#ifdef MNISTNN_HAVE_MPI
    if (impl_->initialised && impl_->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
}

MpiWorld* MpiWorld::active() { return g_active; }

bool MpiWorld::built_with_mpi() {
#ifdef MNISTNN_HAVE_MPI
    return true;
#else
    return false;
#endif
}

}  // namespace mnistnn
