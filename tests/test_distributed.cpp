// Data-parallel training (gradient_transport.hpp) without MPI: P ranks are threads of this
// process, each with its own BatchEngine, linked by an in-process transport. The parameters after
// training must equal one process's bit for bit, for every path of the engine, any P (including
// more ranks than parts) and any threads per rank. tests/mpi_equivalence.sh checks the same
// through mpirun and the real binary.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/gradient_transport.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/trainer.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

// The shared state of P in-process ranks: one inbox per rank (messages from rank − 1, in order)
// and a rendezvous where every rank contributes bytes and all see everyone's.
class ThreadWorld {
public:
    explicit ThreadWorld(int ranks) : ranks_(ranks), inbox_(static_cast<std::size_t>(ranks)),
                                      slots_(static_cast<std::size_t>(ranks)) {}
    int ranks() const { return ranks_; }

    void send(int to, const void* data, std::size_t bytes) {
        const auto* p = static_cast<const char*>(data);
        std::lock_guard<std::mutex> lock(mutex_);
        inbox_[static_cast<std::size_t>(to)].emplace_back(p, p + bytes);
        changed_.notify_all();
    }
    void receive(int at, void* data, std::size_t bytes) {
        std::unique_lock<std::mutex> lock(mutex_);
        auto& box = inbox_[static_cast<std::size_t>(at)];
        changed_.wait(lock, [&] { return !box.empty(); });
        if (box.front().size() != bytes) throw std::logic_error("message of an unexpected size");
        std::memcpy(data, box.front().data(), bytes);
        box.pop_front();
    }
    // Every rank calls this with its bytes; returns all ranks' bytes, by rank.
    std::vector<std::vector<char>> gather(int rank, const void* data, std::size_t bytes) {
        const auto* p = static_cast<const char*>(data);
        std::unique_lock<std::mutex> lock(mutex_);
        slots_[static_cast<std::size_t>(rank)].assign(p, p + bytes);
        const std::uint64_t round = round_;
        if (++arrived_ == ranks_) {
            result_ = slots_;
            arrived_ = 0;
            ++round_;
            changed_.notify_all();
        } else {
            changed_.wait(lock, [&] { return round_ != round; });
        }
        return result_;
    }

private:
    int ranks_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::deque<std::vector<char>>> inbox_;
    std::vector<std::vector<char>> slots_, result_;
    int arrived_ = 0;
    std::uint64_t round_ = 0;
};

class ThreadTransport final : public GradientTransport {
public:
    ThreadTransport(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return world_.ranks(); }
    void send_next(const void* data, std::size_t bytes) override {
        ++sends;
        world_.send(rank_ + 1, data, bytes);
    }
    void recv_prev(void* data, std::size_t bytes) override { world_.receive(rank_, data, bytes); }
    void wait_sent() override {}
    void broadcast_from_last(void* data, std::size_t bytes) override {
        const auto all = world_.gather(rank_, data, bytes);
        std::memcpy(data, all.back().data(), bytes);
    }
    bool any(bool vote) override {
        const char mine = vote ? 1 : 0;
        for (const auto& v : world_.gather(rank_, &mine, 1))
            if (v[0] != 0) return true;
        return false;
    }
    void require_same(unsigned long long value, const char* what) override {
        const auto all = world_.gather(rank_, &value, sizeof value);
        for (std::size_t r = 1; r < all.size(); ++r)
            if (all[r] != all[0]) throw MismatchError(std::string("rank ") + std::to_string(r) + "'s " + what + " differ");
    }
    int sends = 0;

private:
    ThreadWorld& world_;
    int rank_;
};

Images digits(int n, std::uint32_t seed) {
    const test::Rows rows = test::noisy_rows(n, seed);
    Images images;
    images.rows = static_cast<std::size_t>(n);
    for (std::size_t r = 0; r < rows.pixels.size(); ++r) {
        images.labels.push_back(static_cast<std::uint8_t>(rows.labels[r]));
        for (int v : rows.pixels[r]) images.pixels.push_back(static_cast<std::uint8_t>(v));
    }
    return images;
}

bool same_bytes(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}
bool same_bytes(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
}

struct TrainedRun {
    Params params;
    TrainResult result;
    std::vector<TrainLogEntry> log;
};

struct LogRecorder : TrainObserver {
    std::vector<TrainLogEntry> entries;
    int stop_after = -1;  // steps
    int steps = 0;
    void on_log(const TrainLogEntry& e) override { entries.push_back(e); }
    void on_step(const TrainProgress&) override { ++steps; }
    bool stop_requested() override { return stop_after >= 0 && steps >= stop_after; }
};

// Trains `start` on P in-process ranks with `threads` each (P = 0: one process, no transport);
// returns rank 0's result and checks that every rank ended with the same parameters. `stop_rank`'s
// observer asks to stop after `stop_after` steps.
TrainedRun train_ranks(int P, int threads, const Params& start, const Images& train, const Images& holdout,
                TrainOptions options, int stop_rank = -1, int stop_after = -1) {
    options.threads = threads;
    if (P == 0) {
        TrainedRun run{start, {}, {}};
        TrainState state;
        LogRecorder log;
        run.result = train_network(run.params, train, holdout, options, state, &log);
        run.log = log.entries;
        return run;
    }
    ThreadWorld world(P);
    std::vector<TrainedRun> runs(static_cast<std::size_t>(P), TrainedRun{start, {}, {}});
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(P));
    std::vector<std::thread> ranks;
    for (int r = 0; r < P; ++r) {
        ranks.emplace_back([&, r] {
            auto& run = runs[static_cast<std::size_t>(r)];
            ThreadTransport transport(world, r);
            LogRecorder log;
            if (r == stop_rank) log.stop_after = stop_after;
            TrainState state;
            try {
                run.result = train_network(run.params, train, holdout, options, state, &log, &transport);
            } catch (...) {
                errors[static_cast<std::size_t>(r)] = std::current_exception();
            }
            run.log = log.entries;
        });
    }
    for (auto& t : ranks) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
    for (int r = 1; r < P; ++r) {
        const Params& p = runs[static_cast<std::size_t>(r)].params;
        EXPECT_TRUE(same_bytes(p.W1, runs[0].params.W1) && same_bytes(p.b2, runs[0].params.b2)) << "rank " << r;
    }
    return runs[0];
}

void expect_same_training(const TrainedRun& a, const TrainedRun& b) {
    EXPECT_TRUE(same_bytes(a.params.W1, b.params.W1)) << "W1 differs";
    EXPECT_TRUE(same_bytes(a.params.b1, b.params.b1)) << "b1 differs";
    EXPECT_TRUE(same_bytes(a.params.W2, b.params.W2)) << "W2 differs";
    EXPECT_TRUE(same_bytes(a.params.b2, b.params.b2)) << "b2 differs";
    EXPECT_EQ(a.result.iterations, b.result.iterations);
    EXPECT_EQ(a.result.loss, b.result.loss);
    ASSERT_EQ(a.log.size(), b.log.size());
    for (std::size_t i = 0; i < a.log.size(); ++i) {
        EXPECT_EQ(a.log[i].loss, b.log[i].loss) << "log entry " << i;  // the step's totals went down the chain too
        EXPECT_EQ(a.log[i].train_accuracy, b.log[i].train_accuracy) << "log entry " << i;
    }
}

TEST(Distributed, FullBatchFusedPathIsBitIdenticalForAnyRanksAndThreads) {
    const Images train = digits(1500, 3), holdout = digits(100, 4);  // 1500 rows: 16 chunks
    const Params start = init_params(10, Activation::ReLU, Init::Uniform, 0);
    TrainOptions o;
    o.iters = 12;
    o.log_every = 5;
    const TrainedRun one = train_ranks(0, 2, start, train, holdout, o);
    for (int P : {2, 3, 5})
        for (int threads : {1, 2}) {
            SCOPED_TRACE("P = " + std::to_string(P) + ", threads = " + std::to_string(threads));
            expect_same_training(one, train_ranks(P, threads, start, train, holdout, o));
        }
}

TEST(Distributed, MoreRanksThanChunksLeavesSomeIdleAndStillMatches) {
    const Images train = digits(200, 5);  // 3 chunks
    ASSERT_EQ(chunk_count(200), 3u);
    const Params start = init_params(16, Activation::Sigmoid, Init::He, 1);
    TrainOptions o;
    o.iters = 6;
    o.log_every = 2;
    const TrainedRun one = train_ranks(0, 1, start, train, Images{}, o);
    expect_same_training(one, train_ranks(4, 1, start, train, Images{}, o));
}

TEST(Distributed, MiniBatchAdamIsBitIdentical) {
    const Images train = digits(700, 6), holdout = digits(60, 7);
    const Params start = init_params(32, Activation::ReLU, Init::He, 2);
    TrainOptions o;
    o.batch_size = 300;  // 3 steps an epoch, the last one short
    o.optimizer.kind = OptimizerKind::Adam;
    o.alpha = 0.002;
    o.iters = 7;
    o.log_every = 3;
    const TrainedRun one = train_ranks(0, 2, start, train, holdout, o);
    for (int P : {2, 3}) {
        SCOPED_TRACE("P = " + std::to_string(P));
        expect_same_training(one, train_ranks(P, 1, start, train, holdout, o));
    }
}

TEST(Distributed, WidePathWithAugmentationAndDropoutIsBitIdentical) {
    // H = 512 takes the wide path; batches of 700 are 3 blocks (three parts), the last batch 2.
    const Images train = digits(1300, 8), holdout = digits(50, 9);
    const Params start = init_params(512, Activation::ReLU, Init::He, 3);
    TrainOptions o;
    o.batch_size = 700;
    o.optimizer.kind = OptimizerKind::Adam;
    o.alpha = 0.001;
    o.augment.kind = AugmentKind::Elastic;
    o.dropout = 0.2;
    o.label_smoothing = 0.1;
    o.iters = 3;
    o.log_every = 1;
    const TrainedRun one = train_ranks(0, 2, start, train, holdout, o);
    for (int P : {2, 3, 4}) {
        SCOPED_TRACE("P = " + std::to_string(P));
        expect_same_training(one, train_ranks(P, P == 2 ? 2 : 1, start, train, holdout, o));
    }
}

TEST(Distributed, EveryRankStopsOnTheStepAnyRankAskedTo) {
    const Images train = digits(400, 10);
    const Params start = init_params(10, Activation::ReLU, Init::Uniform, 4);
    TrainOptions o;
    o.iters = 20;
    o.log_every = 0;
    const TrainedRun stopped = train_ranks(3, 1, start, train, Images{}, o, /*stop_rank=*/2, /*stop_after=*/4);
    EXPECT_TRUE(stopped.result.interrupted);
    EXPECT_EQ(stopped.result.iterations, 4);
    o.iters = 4;
    EXPECT_TRUE(same_bytes(train_ranks(0, 1, start, train, Images{}, o).params.W1, stopped.params.W1));
}

// Trains on two in-process ranks, rank r from start(r) on data(r); returns each rank's
// MismatchError message ("" if none was thrown).
std::vector<std::string> mismatch_errors(const std::function<Params(int)>& start, const std::function<Images(int)>& data) {
    TrainOptions o;
    o.iters = 2;
    ThreadWorld world(2);
    std::vector<std::string> errors(2);
    std::vector<std::thread> ranks;
    for (int r = 0; r < 2; ++r)
        ranks.emplace_back([&, r] {
            Params p = start(r);
            const Images train = data(r);
            ThreadTransport transport(world, r);
            TrainState state;
            try {
                train_network(p, train, Images{}, o, state, nullptr, &transport);
            } catch (const MismatchError& e) {
                errors[static_cast<std::size_t>(r)] = e.what();
            }
        });
    for (auto& t : ranks) t.join();
    return errors;
}

TEST(Distributed, RanksThatDisagreeOnTheirStartAreRefused) {
    const auto seed = [](int r) { return init_params(10, Activation::ReLU, Init::Uniform, static_cast<std::uint64_t>(r)); };
    const auto same_data = [](int) { return digits(300, 11); };
    for (const std::string& e : mismatch_errors(seed, same_data))
        EXPECT_NE(e.find("rank 1's starting parameters, settings or data differ"), std::string::npos) << e;

    // One pixel of one row differs on rank 1.
    const auto same_start = [](int) { return init_params(10, Activation::ReLU, Init::Uniform, 0); };
    const auto one_pixel = [](int r) {
        Images images = digits(300, 11);
        if (r == 1) images.pixels[299 * 784 + 400] ^= 1;
        return images;
    };
    for (const std::string& e : mismatch_errors(same_start, one_pixel))
        EXPECT_NE(e.find("rank 1's"), std::string::npos) << e;
    for (const std::string& e : mismatch_errors(same_start, same_data)) EXPECT_EQ(e, "");
}

TEST(Distributed, GradientsOfOneCallMatchAcrossRanksAndLocalColumnsCoverTheBatch) {
    // The engine alone: local_columns of the ranks tile [0, m) in rank order.
    for (std::size_t m : {100u, 1000u, 5000u}) {
        for (int P : {1, 2, 3, 7}) {
            std::size_t next = 0;
            for (int r = 0; r < P; ++r) {
                ThreadWorld world(P);
                ThreadTransport transport(world, r);
                BatchEngine engine(10, 1);
                engine.set_transport(&transport);
                const auto [lo, hi] = engine.local_columns(m);
                EXPECT_EQ(lo, next) << "m " << m << " P " << P << " rank " << r;
                EXPECT_LE(lo, hi);
                next = hi;
            }
            EXPECT_EQ(next, m) << "m " << m << " P " << P;
        }
    }
}

}  // namespace
}  // namespace mnistnn
