#include "compute_thread.h"

#include <dlfcn.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace lvm {

namespace {

// How long the compute thread keeps its OpenMP team after its last job: long enough that a stream of jobs (a
// training loop, a server under load) keeps it, short enough that sync work on the JS thread soon runs alone.
constexpr auto kKeepTeam = std::chrono::milliseconds(20);

struct Job {
  const std::function<void()>* run;
  std::exception_ptr error;
  bool done = false;
};

class ComputeThread {
 public:
  void run(const std::function<void()>& fn) {
    Job job{&fn};
    std::unique_lock<std::mutex> lock(mutex_);
    if (!started_) {
      // Detached and never destroyed: it must outlive every static destructor that might still queue work.
      std::thread([this] { loop(); }).detach();
      started_ = true;
    }
    queue_.push_back(&job);
    wake_.notify_one();
    finished_.wait(lock, [&] { return job.done; });
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  void loop() {
    bool team = false;  // whether this thread may hold an OpenMP team from an earlier job
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (queue_.empty() && team && !wake_.wait_for(lock, kKeepTeam, [&] { return !queue_.empty(); })) {
        lock.unlock();
        releaseOpenMpTeam();
        lock.lock();
        team = false;
      }
      wake_.wait(lock, [&] { return !queue_.empty(); });
      Job* job = queue_.front();
      queue_.pop_front();
      lock.unlock();
      try {
        (*job->run)();
      } catch (...) {
        job->error = std::current_exception();
      }
      team = true;
      lock.lock();
      job->done = true;
      finished_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  std::deque<Job*> queue_;
  bool started_ = false;
};

using PauseAll = int (*)(int);

PauseAll pauseAll() {
  // Looked up, not linked: libtorch brings its OpenMP (pip's wheel: a libgomp of its own), loaded RTLD_GLOBAL.
  static const PauseAll fn = reinterpret_cast<PauseAll>(dlsym(RTLD_DEFAULT, "omp_pause_resource_all"));
  return fn;
}

}  // namespace

void runOnComputeThread(const std::function<void()>& job) {
  static ComputeThread* thread = new ComputeThread();  // never deleted: see ComputeThread::run
  thread->run(job);
}

void releaseOpenMpTeam() {
  constexpr int kOmpPauseSoft = 1;  // omp_pause_soft
  if (PauseAll fn = pauseAll()) fn(kOmpPauseSoft);
}

}  // namespace lvm
