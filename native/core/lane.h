// The two threads that run every job PromiseWorker takes off the JS thread, each a Lane that runs its jobs one after
// another: the compute lane (libtorch's work: forwards, train steps, evaluation, bank search, collectives) and the
// I/O lane (waiting: checkpoint reads and writes, the distributed rendezvous). Two, so that a predictAsync never
// queues behind a rendezvous that may wait 300 s or behind a large checkpoint read; no more than one of each, for
// the reasons below. A lane takes a job and returns at once: nothing parks a libuv worker while a job runs (that
// stalled fs and DNS once four jobs were in flight), and the JS thread hears of the end from the job
// (promise_worker.h).
//
// Why one compute lane: libgomp (the OpenMP of PyTorch's wheels, which MKL's GEMMs use too) gives each thread that
// starts a parallel region a team of its own, kept until that thread exits. Once a process holds more OpenMP threads
// than it has cores, every team spins at most 100 times (gomp_throttled_spin_count_var) instead of 300,000 before it
// sleeps, and each of the hundreds of parallel regions of a forward then pays a futex wake-up. libuv's four worker
// threads and the JS thread each grew a team; on 2 cores that slowed a GRU forward by a third against Python, which
// has one. With one compute lane, the process has its team and, for sync work on the JS thread, the JS thread's;
// whichever thread is not computing gives its team back (releaseOpenMpTeam) so the other is not throttled. The I/O
// lane must never grow a team: it runs with one OpenMP thread, so a libtorch op that happens there runs inline.
//
// What the I/O lane does may overlap a compute job: a checkpoint written while a train step updates the same
// parameters would be torn. Await the step before saving (the Trainer does), as in Python.
#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>

namespace lvm {

class Lane {
 public:
  // A job is run once on the lane's thread, then no longer touched by the lane: run() must catch what it throws and
  // see that the job is freed (a PromiseWorker hands itself back to its JS thread).
  class Job {
   public:
    virtual ~Job() = default;
    virtual void run() noexcept = 0;
  };

  static Lane& compute();
  static Lane& io();

  // Queues job to run after the jobs queued before it on this lane; returns at once. Any thread may post.
  void post(Job* job);

  bool isCompute() const { return compute_; }

 private:
  explicit Lane(bool compute) : compute_(compute) {}
  void loop();

  const bool compute_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job*> queue_;
  bool started_ = false;  // the thread starts with the first job
};

// Frees the calling thread's OpenMP team if it has one (libgomp's omp_pause_resource_all, OpenMP 5.0): the next
// parallel region of this thread starts a new one. A no-op where the OpenMP in use has no such call.
void releaseOpenMpTeam();

}  // namespace lvm
