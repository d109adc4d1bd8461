#include "lane.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <chrono>
#include <thread>

namespace lvm {

namespace {

// How long the compute lane keeps its OpenMP team after its last job: long enough that a stream of jobs (a
// training loop, a server under load) keeps it, short enough that sync work on the JS thread soon runs alone.
constexpr auto kKeepTeam = std::chrono::milliseconds(20);

template <typename F>
F openMp(const char* name) {
  // Looked up, not linked: libtorch brings its OpenMP (pip's wheel: a libgomp of its own), loaded RTLD_GLOBAL.
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

// The I/O lane's OpenMP setting: one thread, so that a parallel region there (a libtorch op on a large tensor) runs
// inline instead of growing a second team. at::get_num_threads() first: a thread's first call applies the
// process-wide count to it, which would undo the setting.
void oneOpenMpThread() {
  at::get_num_threads();
  using SetNumThreads = void (*)(int);
  static const SetNumThreads set = openMp<SetNumThreads>("omp_set_num_threads");
  if (set) set(1);
}

}  // namespace

Lane& Lane::compute() {
  static Lane* lane = new Lane(true);  // never deleted: its thread must outlive every static destructor
  return *lane;
}

Lane& Lane::io() {
  static Lane* lane = new Lane(false);
  return *lane;
}

void Lane::post(Job* job) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!started_) {
    std::thread([this] { loop(); }).detach();  // detached and never joined, as the lane is never deleted
    started_ = true;
  }
  queue_.push_back(job);
  wake_.notify_one();
}

void Lane::loop() {
  if (!compute_) oneOpenMpThread();
  bool team = false;  // whether this thread may hold an OpenMP team from an earlier job
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (compute_ && queue_.empty() && team && !wake_.wait_for(lock, kKeepTeam, [&] { return !queue_.empty(); })) {
      lock.unlock();
      releaseOpenMpTeam();
      lock.lock();
      team = false;
    }
    wake_.wait(lock, [&] { return !queue_.empty(); });
    Job* job = queue_.front();
    queue_.pop_front();
    lock.unlock();
    job->run();  // owns the job from here
    team = true;
    lock.lock();
  }
}

void releaseOpenMpTeam() {
  constexpr int kOmpPauseSoft = 1;  // omp_pause_soft
  using PauseAll = int (*)(int);
  static const PauseAll pauseAll = openMp<PauseAll>("omp_pause_resource_all");
  if (pauseAll) pauseAll(kOmpPauseSoft);
}

}  // namespace lvm
