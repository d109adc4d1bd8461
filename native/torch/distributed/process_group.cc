// The rendezvous, the bucketed collectives and the diagnosis of a failed one. ProcessGroupGloo.hpp needs Gloo's
// headers (Debian's libgloo-dev; PyTorch's wheels ship none): this file only names gloo::transport::Device through
// a shared_ptr that libtorch creates and destroys, so no Gloo code or layout is compiled in here, and the headers of
// another Gloo commit than the wheel's serve (lib/torch/libtorch/shippable.ts checks that the addon imports no gloo::
// symbol).
#include "process_group.h"

#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

namespace lvm::distributed {

namespace {

using std::chrono::milliseconds;

// c10::Error's what() carries a C++ backtrace in libtorch 1.13; the message is what a user can act on.
std::string messageOf(const std::exception& e) {
  if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::string worldName(const WorldOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize);
}

// The address of this machine's interface that routes to host (a UDP socket's connect() sends nothing), or "".
std::string localAddressTowards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return "";
  std::string out;
  for (addrinfo* a = found; a && out.empty(); a = a->ai_next) {
    int fd = socket(a->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* address = local.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                                                       : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (inet_ntop(local.ss_family, address, text, sizeof text)) out = text;
    }
    ::close(fd);
  }
  freeaddrinfo(found);
  return out;
}

// Where this rank's Gloo device listens: the interface GLOO_SOCKET_IFNAME names (as PyTorch reads it), else the
// address this machine reaches the master from (loopback on one machine; on several, the interface that routes to
// rank 0, which the other ranks can reach too), else what this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> makeDevice(const WorldOptions& o) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  std::string local = localAddressTowards(o.masterAddr, o.port);
  if (!local.empty()) return c10d::ProcessGroupGloo::createDeviceForHostname(local);
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// `join`: this connection is the rank's own, counted among the world's (rank 0's constructor waits for them all);
// the heartbeat's and the diagnosis's are extra. `timeout` (default: the world's) bounds connecting and each call.
c10::intrusive_ptr<c10d::TCPStore> connectStore(const WorldOptions& o, bool join, std::optional<milliseconds> timeout = {}) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(o.port);
  so.isServer = join && o.rank == 0;
  so.numWorkers = static_cast<size_t>(o.worldSize);
  so.waitWorkers = join;
  so.timeout = timeout.value_or(o.timeout);
  return c10::make_intrusive<c10d::TCPStore>(o.masterAddr, so);
}

constexpr milliseconds kHeartbeat{500};
constexpr milliseconds kDiagnosisTimeout{5000};  // a store that does not answer in this is taken for gone

std::vector<uint8_t> bytesOf(const std::string& s) { return {s.begin(), s.end()}; }

// What a Gloo collective returns: c10d::Work in libtorch 2.x, c10d::ProcessGroup::Work in 1.13.
using WorkPtr = decltype(std::declval<c10d::ProcessGroupGloo&>().allreduce(std::declval<std::vector<at::Tensor>&>()));

}  // namespace

// Besides the group, each rank ticks a counter in the store every kHeartbeat from a thread of its own (on a
// connection of its own): when a collective fails, the counters that stopped name the ranks that died. The diagnosis
// reads them on a third connection, made at the rendezvous while rank 0 is surely up: one made after a failure can
// reach a dying rank 0 whose listening socket still takes it and is then reset, and libtorch 1.13's TCPStore reads a
// connection of its own on a thread that ends the process (std::terminate) when that connection is reset.
struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  c10::intrusive_ptr<c10d::TCPStore> beatStore;
  c10::intrusive_ptr<c10d::TCPStore> diagnosisStore;
  std::mutex diagnosisMutex;  // a TCPStore of 1.13 takes no lock: one request and its answer at a time
  std::thread beat;
  std::mutex mutex;
  std::condition_variable stopped;
  bool stopping = false;
  std::mutex buffersMutex;
  std::vector<at::Tensor> buffers;  // bucketBuffer()'s

  void startHeartbeat(int rank) {
    beat = std::thread([this, key = "lvmtorch/heartbeat/" + std::to_string(rank)] {
      for (;;) {
        try {
          beatStore->add(key, 1);  // not under the lock: closing must not wait for a slow store
        } catch (...) {
          return;  // the store's host is gone; the next collective reports it
        }
        std::unique_lock<std::mutex> lock(mutex);
        if (stopped.wait_for(lock, kHeartbeat, [this] { return stopping; })) return;
      }
    });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    stopped.notify_all();
    if (beat.joinable()) beat.join();
  }
};

ProcessGroup::ProcessGroup(WorldOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::rendezvous(const WorldOptions& o) {
  if (o.worldSize < 1) throw std::invalid_argument("WORLD_SIZE must be >= 1, got " + std::to_string(o.worldSize));
  if (o.rank < 0 || o.rank >= o.worldSize) {
    throw std::invalid_argument("RANK must be in [0, WORLD_SIZE - 1] = [0, " + std::to_string(o.worldSize - 1) +
                                "], got " + std::to_string(o.rank));
  }
  if (o.port < 1 || o.port > 65535) throw std::invalid_argument("MASTER_PORT must be in [1, 65535], got " + std::to_string(o.port));
  const std::string where = o.masterAddr + ":" + std::to_string(o.port);
  auto impl = std::make_unique<Impl>();
  try {
    impl->store = connectStore(o, /*join=*/true);
  } catch (const std::exception& e) {
    throw DistributedError(worldName(o) + (o.rank == 0 ? ": could not host the store at " + where + " or not every rank joined it"
                                                       : ": could not reach the master at " + where) +
                           " within " + std::to_string(o.timeout.count()) + " ms: " + messageOf(e));
  }
  try {
    // Every rank must have been started with rank 0's world size: one that was not would wait for ranks that never
    // come, or be one too many.
    if (o.rank == 0) impl->store->set("lvmtorch/world_size", bytesOf(std::to_string(o.worldSize)));
    std::vector<uint8_t> theirs = impl->store->get("lvmtorch/world_size");
    if (std::string(theirs.begin(), theirs.end()) != std::to_string(o.worldSize)) {
      throw DistributedError(worldName(o) + ": rank 0 at " + where + " was started with WORLD_SIZE " +
                             std::string(theirs.begin(), theirs.end()) + ", this rank with " +
                             std::to_string(o.worldSize) + ": every rank needs the same WORLD_SIZE");
    }
    auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
    options->devices.push_back(makeDevice(o));
    impl->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, o.rank, o.worldSize, options);
    impl->beatStore = connectStore(o, /*join=*/false);
    impl->diagnosisStore = connectStore(o, /*join=*/false, std::min(o.timeout, kDiagnosisTimeout));
    impl->startHeartbeat(o.rank);
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(worldName(o) + ": the rendezvous at " + where + " failed: " + messageOf(e) +
                           " (was every rank started with the same WORLD_SIZE, and each with its own RANK?)");
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(o, std::move(impl)));
}

// Runs (or waits for) a collective; on failure, names the ranks whose heartbeat stopped.
void ProcessGroup::run(const char* name, const std::function<void()>& issue) {
  try {
    issue();
  } catch (const std::exception& e) {
    throw DistributedError(worldName(options_) + ": " + name + " failed: " + messageOf(e) + ". " + diagnose());
  }
}

std::string ProcessGroup::diagnose() {
  // Reads every rank's counter twice, a few heartbeats apart, on a connection of its own (the group's may be
  // the one that broke).
  std::lock_guard<std::mutex> lock(impl_->diagnosisMutex);
  try {
    c10d::TCPStore* store = impl_->diagnosisStore.get();
    auto read = [&] {
      std::vector<int64_t> counts;
      for (int r = 0; r < size(); ++r) counts.push_back(store->add("lvmtorch/heartbeat/" + std::to_string(r), 0));
      return counts;
    };
    std::vector<int64_t> before = read();
    std::this_thread::sleep_for(4 * kHeartbeat);
    std::vector<int64_t> after = read();
    std::string dead;
    for (int r = 0; r < size(); ++r) {
      if (r != rank() && after[r] == before[r]) dead += (dead.empty() ? "" : ", ") + std::to_string(r);
    }
    if (dead.empty()) return "Every rank is still alive: one of them raised an error (see its output) or timed out";
    return "Rank " + dead + (dead.find(',') == std::string::npos ? " has" : " have") + " stopped (no heartbeat)";
  } catch (const std::exception&) {
    return "Rank 0, which hosts the store at " + options_.masterAddr + ":" + std::to_string(options_.port) +
           ", is unreachable: it has stopped";
  }
}

std::vector<std::vector<size_t>> assignBuckets(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& order,
                                               int64_t firstCapBytes, int64_t capBytes) {
  std::vector<std::vector<size_t>> out;
  int64_t bytes = 0;
  for (size_t i : order) {
    const at::Tensor& t = tensors[i];
    int64_t n = t.numel() * static_cast<int64_t>(t.element_size());
    int64_t cap = out.size() <= 1 ? firstCapBytes : capBytes;  // the bucket being filled: the first or a later one
    const at::Tensor* first = out.empty() ? nullptr : &tensors[out.back().front()];
    bool fits = first && bytes + n <= cap && first->scalar_type() == t.scalar_type() && first->device() == t.device();
    if (!fits) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(i);
    bytes += n;
  }
  return out;
}

at::Tensor ProcessGroup::bucketBuffer(size_t slot, int64_t numel, const at::TensorOptions& options) {
  std::lock_guard<std::mutex> lock(impl_->buffersMutex);
  std::vector<at::Tensor>& buffers = impl_->buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  at::Tensor& b = buffers[slot];
  if (!b.defined() || b.numel() != numel || b.scalar_type() != options.dtype().toScalarType() || b.device() != options.device())
    b = at::empty({numel}, options);
  return b;
}

namespace {

// Consecutive tensors, in buckets of at most kBucketBytes.
std::vector<std::vector<at::Tensor>> buckets(const std::vector<at::Tensor>& tensors) {
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<std::vector<at::Tensor>> out;
  for (const std::vector<size_t>& bucket : assignBuckets(tensors, order, ProcessGroup::kBucketBytes, ProcessGroup::kBucketBytes)) {
    out.emplace_back();
    for (size_t i : bucket) out.back().push_back(tensors[i]);
  }
  return out;
}

// One flat tensor of the group's values: the tensor itself (a view: in place) when it is one contiguous tensor.
at::Tensor flatten(const std::vector<at::Tensor>& ts) {
  if (ts.size() == 1 && ts[0].is_contiguous()) return ts[0].view({-1});
  std::vector<at::Tensor> flat;
  for (const at::Tensor& t : ts) flat.push_back(t.reshape({-1}));
  return at::cat(flat);
}

void unflatten(const at::Tensor& flat, const std::vector<at::Tensor>& ts) {
  if (ts.size() == 1 && flat.is_alias_of(ts[0])) return;
  int64_t offset = 0;
  for (const at::Tensor& t : ts) {
    t.copy_(flat.slice(0, offset, offset + t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

}  // namespace

ProcessGroup::Pending ProcessGroup::allReduceAsync(at::Tensor flat) {
  auto tensors = std::make_shared<std::vector<at::Tensor>>(1, std::move(flat));
  WorkPtr work;
  run("all_reduce", [&] {
    c10d::AllreduceOptions ao;
    ao.timeout = options_.timeout;
    work = impl_->gloo->allreduce(*tensors, ao);
  });
  return Pending([this, tensors, work] { run("all_reduce", [&] { work->wait(options_.timeout); }); });
}

void ProcessGroup::allReduce(const std::vector<at::Tensor>& tensors, bool mean) {
  at::NoGradGuard noGrad;
  std::vector<std::vector<at::Tensor>> groups = buckets(tensors);
  std::vector<at::Tensor> flats;
  std::vector<Pending> pending;
  for (const auto& group : groups) {
    flats.push_back(flatten(group));
    pending.push_back(allReduceAsync(flats.back()));
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    pending[i].wait();
    if (mean) flats[i].div_(size());
    unflatten(flats[i], groups[i]);
  }
}

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  if (root < 0 || root >= size()) throw std::invalid_argument("broadcast: root must be a rank in [0, " + std::to_string(size() - 1) + "], got " + std::to_string(root));
  at::NoGradGuard noGrad;
  std::vector<std::vector<at::Tensor>> groups = buckets(tensors);
  run("broadcast", [&] {
    for (const auto& group : groups) {
      std::vector<at::Tensor> flat{flatten(group)};
      c10d::BroadcastOptions bo;
      bo.rootRank = root;
      bo.timeout = options_.timeout;
      impl_->gloo->broadcast(flat, bo)->wait(options_.timeout);
      unflatten(flat[0], group);
    }
  });
}

void ProcessGroup::barrier() {
  run("barrier", [&] {
    c10d::BarrierOptions bo;
    bo.timeout = options_.timeout;
    impl_->gloo->barrier(bo)->wait(options_.timeout);
  });
}

}  // namespace lvm::distributed
