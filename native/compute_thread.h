// The one thread that runs every computation PromiseWorker takes off the JS thread.
//
// Why one: libgomp (the OpenMP of PyTorch's wheels, which MKL's GEMMs use too) gives each thread that starts a
// parallel region a team of its own, kept until that thread exits. Once a process holds more OpenMP threads than it
// has cores, every team spins at most 100 times (gomp_throttled_spin_count_var) instead of 300,000 before it
// sleeps, and each of the hundreds of parallel regions of a forward then pays a futex wake-up. libuv's four worker
// threads and the JS thread each grew a team; on 2 cores that slowed a GRU forward by a third against Python, which
// has one. With one compute thread, the process has its team and, for sync work on the JS thread, the JS thread's;
// whichever thread is not computing gives its team back (releaseOpenMpTeam) so the other is not throttled.
#pragma once
#include <functional>

namespace lvm {

// Runs job on the compute thread, after the jobs queued before it, and returns once it has finished; what it
// throws is rethrown here. Call it from a libuv worker, never from the compute thread itself.
void runOnComputeThread(const std::function<void()>& job);

// Frees the calling thread's OpenMP team if it has one (libgomp's omp_pause_resource_all, OpenMP 5.0): the next
// parallel region of this thread starts a new one. A no-op where the OpenMP in use has no such call.
void releaseOpenMpTeam();

}  // namespace lvm
