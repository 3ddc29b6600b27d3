#pragma once
// The MPI world of a process that mpirun started, for data-parallel training
// (gradient_transport.hpp). Built with MNISTNN_MPI=ON it links Open MPI; without it, and in a
// process not started by mpirun, the world is a single rank and no transport is needed.
//
// Data: every rank reads the data file itself (the same path on every machine, or a shared
// file system). The ranks then check that they agree on the data's fingerprint, the settings and
// the starting parameters before the first step (train_network does), which is cheaper than
// broadcasting 47 MB and catches a different file on one machine.
#include <memory>

#include "mnistnn/gradient_transport.hpp"

namespace mnistnn {

class MpiWorld {
public:
    // Initialises MPI if this process was started by mpirun (Open MPI's or PMIx's environment says
    // so) and MPI support was built in; otherwise a world of one rank. Registers itself as active().
    MpiWorld();
    ~MpiWorld();  // MPI_Finalize
    MpiWorld(const MpiWorld&) = delete;
    MpiWorld& operator=(const MpiWorld&) = delete;

    int rank() const;
    int size() const;
    bool root() const { return rank() == 0; }
    // The transport between the ranks; null for a world of one rank.
    GradientTransport* transport();

    // Ends every rank of the job with `code` (MPI_Abort): for a failure on one rank while the
    // others wait for it. A world of one rank does nothing.
    void abort(int code);

    // The world made by main, or null.
    static MpiWorld* active();

    // True when this binary was built with MPI support.
    static bool built_with_mpi();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mnistnn
