// Tensor storages to and from files, straight between the file and the tensor's own memory: file readers
// (lib/torch/io/torch-file.ts, lib/torch/io/storage-io.ts) hand over every storage of a file in one call, so no JS buffer
// ever views tensor memory (an ArrayBuffer over a storage keeps it alive until the GC runs), the bytes are
// copied once (pread/pwrite), CRC-32s are computed here at PCLMUL speed, and the work can run off the JS thread:
// on the I/O lane (native/core/lane.h), so that a large read or write never holds up a forward on the compute lane.
//
//   readStorages(source, tensors, places, threads) -> null | [index, kind, value]
//   readStoragesAsync(fd, tensors, places, threads) -> Promise of the same
//     source: a file descriptor or a Uint8Array; places: Float64Array of [position, nbytes, crc] per tensor
//     (crc -1: not checked). Each storage's first nbytes bytes are filled from the source at position. The
//     first failure (lowest index) is returned, not thrown, for the caller to word: kind 'eof' (value: the
//     offset where the data ended), 'crc' (value: the CRC-32 computed). A failing system call throws.
//   writeStorages(fd, tensors, places, threads) -> Promise<number[]> of each record's CRC-32
//     places: Float64Array of [position, nbytes]: each storage's first nbytes bytes are written at position;
//     the CRCs are computed on a second thread meanwhile (on one thread, each just before its record's write),
//     and writeback to the disk is started as the records are written (sync_file_range), so that the caller's
//     fsync has less left to wait for.
//   storageCrc32(t, nbytes) -> the CRC-32 of the first nbytes bytes of t's storage (a mapped one, say).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../core/args.h"
#include "crc32.h"
#include "../core/handle.h"
#include "../core/promise_worker.h"
#include "../core/protect.h"

namespace lvm {

namespace {

// At most this much per system call (Linux moves at most 2 GiB - 4 KiB in one), and per CRC piece while the
// bytes are still in the cache.
constexpr size_t kPiece = size_t(1) << 20;
// Below this, one thread does all the work: a second one would cost more than it saves.
constexpr int64_t kParallelBytes = int64_t(8) << 20;
// Writeback is started once this much has been written since the last start.
constexpr int64_t kWritebackEvery = int64_t(2) << 20;

struct Place {
  at::Tensor tensor;
  uint8_t* data = nullptr;
  int64_t position = 0;
  int64_t nbytes = 0;
  int64_t crc = -1;  // the CRC-32 the bytes must have, or -1
};

struct Failure {
  int64_t index = -1;  // -1: none
  const char* kind = "";
  double value = 0;
};

struct Source {
  int fd = -1;
  const uint8_t* bytes = nullptr;  // a buffer instead of a file
  size_t size = 0;
};

// The first byte of t's storage (by a route that compiles on libtorch 1.13 and 2.x alike), checked to hold nbytes.
uint8_t* storageBytes(const at::Tensor& t, int64_t nbytes, const char* what) {
  if (!t.device().is_cpu()) throw TypeError(std::string(what) + ": needs CPU tensors");
  if (!t.has_storage() || static_cast<int64_t>(t.storage().nbytes()) < nbytes) {
    throw RangeError(std::string(what) + ": a storage of " + std::to_string(t.has_storage() ? t.storage().nbytes() : 0) +
                     " bytes cannot hold " + std::to_string(nbytes));
  }
  if (nbytes == 0) return nullptr;
  return static_cast<uint8_t*>(t.data_ptr()) - t.storage_offset() * static_cast<int64_t>(t.element_size());
}

std::vector<Place> readPlaces(Napi::Value tensors, Napi::Value places, int width, const char* what) {
  if (!places.IsTypedArray() || places.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw TypeError(std::string(what) + ": places must be a Float64Array");
  }
  auto list = unwrapList(tensors, "tensors");
  auto values = places.As<Napi::Float64Array>();
  if (values.ElementLength() != list.size() * width) {
    throw RangeError(std::string(what) + ": " + std::to_string(width) + " numbers per tensor expected");
  }
  std::vector<Place> out(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Place& p = out[i];
    double position = values[i * width], nbytes = values[i * width + 1];
    if (!(position >= 0 && position <= 9007199254740991.0 && nbytes >= 0 && nbytes <= 9007199254740991.0) ||
        position != static_cast<double>(static_cast<int64_t>(position)) || nbytes != static_cast<double>(static_cast<int64_t>(nbytes))) {
      throw RangeError(std::string(what) + ": a position or size is not an integer >= 0");
    }
    p.position = static_cast<int64_t>(position);
    p.nbytes = static_cast<int64_t>(nbytes);
    if (width > 2) p.crc = static_cast<int64_t>(values[i * width + 2]);
    p.tensor = std::move(list[i]);
    p.data = storageBytes(p.tensor, p.nbytes, what);
  }
  return out;
}

[[noreturn]] void throwErrno(const char* call, int64_t position) {
  int e = errno;
  throw std::system_error(e, std::generic_category(), std::string(call) + " at offset " + std::to_string(position));
}

// Fills places[from, to) from the source; the first failure among them, if any.
Failure readRange(const Source& src, std::vector<Place>& places, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    Place& p = places[i];
    uint32_t crc = 0;
    for (int64_t done = 0; done < p.nbytes;) {
      size_t want = static_cast<size_t>(std::min<int64_t>(p.nbytes - done, kPiece));
      int64_t at = p.position + done;
      size_t got;
      if (src.bytes != nullptr) {
        if (static_cast<uint64_t>(at) >= src.size) return {static_cast<int64_t>(i), "eof", static_cast<double>(src.size)};
        got = std::min(want, src.size - static_cast<size_t>(at));
        std::memcpy(p.data + done, src.bytes + at, got);
      } else {
        ssize_t n = ::pread(src.fd, p.data + done, want, at);
        if (n < 0) {
          if (errno == EINTR) continue;
          throwErrno("read", at);
        }
        if (n == 0) return {static_cast<int64_t>(i), "eof", static_cast<double>(at)};  // the file is shorter
        got = static_cast<size_t>(n);
      }
      if (p.crc >= 0) crc = crc32(crc, p.data + done, got);
      done += static_cast<int64_t>(got);
    }
    if (p.crc >= 0 && crc != static_cast<uint32_t>(p.crc)) return {static_cast<int64_t>(i), "crc", static_cast<double>(crc)};
  }
  return {};
}

// Where to split places so that both halves hold about the same number of bytes.
size_t middle(const std::vector<Place>& places) {
  int64_t total = 0;
  for (const Place& p : places) total += p.nbytes;
  int64_t half = 0;
  for (size_t i = 0; i < places.size(); ++i) {
    if (2 * (half + places[i].nbytes) > total) return std::max<size_t>(i, 1);
    half += places[i].nbytes;
  }
  return places.size();
}

int64_t totalBytes(const std::vector<Place>& places) {
  int64_t total = 0;
  for (const Place& p : places) total += p.nbytes;
  return total;
}

Failure readAll(const Source& src, std::vector<Place>& places, int threads) {
  if (threads < 2 || places.size() < 2 || totalBytes(places) < kParallelBytes) return readRange(src, places, 0, places.size());
  size_t mid = middle(places);
  Failure second;
  std::exception_ptr secondError;
  std::thread helper([&] {
    try {
      second = readRange(src, places, mid, places.size());
    } catch (...) {
      secondError = std::current_exception();
    }
  });
  Failure first;
  std::exception_ptr firstError;
  try {
    first = readRange(src, places, 0, mid);
  } catch (...) {
    firstError = std::current_exception();
  }
  helper.join();
  if (firstError) std::rethrow_exception(firstError);
  if (first.index >= 0) return first;
  if (secondError) std::rethrow_exception(secondError);
  return second;
}

Napi::Value failureValue(Napi::Env env, const Failure& f) {
  if (f.index < 0) return env.Null();
  auto out = Napi::Array::New(env, 3);
  out.Set(0u, static_cast<double>(f.index));
  out.Set(1u, f.kind);
  out.Set(2u, f.value);
  return out;
}

int toThreads(Napi::Value v) {
  int64_t n = toInt(v, "threads");
  return static_cast<int>(std::clamp<int64_t>(n, 1, 2));
}

int toFd(Napi::Value v) {
  int64_t fd = toInt(v, "fd");
  if (fd < 0 || fd > INT32_MAX) throw RangeError("fd must be an open file descriptor");
  return static_cast<int>(fd);
}

Napi::Value readStorages(const Napi::CallbackInfo& info) {
  Source src;
  if (info[0].IsTypedArray()) {
    auto view = info[0].As<Napi::TypedArray>();
    src.bytes = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    src.size = view.ByteLength();
  } else {
    src.fd = toFd(info[0]);
  }
  auto places = readPlaces(info[1], info[2], 3, "readStorages");
  return failureValue(info.Env(), readAll(src, places, toThreads(info[3])));
}

class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, int fd, std::vector<Place> places, int threads)
      : PromiseWorker(env, Lane::io()), places_(std::move(places)), threads_(threads) {
    src_.fd = fd;
  }

 protected:
  void compute() override { failure_ = readAll(src_, places_, threads_); }
  Napi::Value resolve(Napi::Env env) override {
    places_.clear();  // the tensors' references go on the JS thread
    return failureValue(env, failure_);
  }

 private:
  Source src_;
  std::vector<Place> places_;
  int threads_;
  Failure failure_;
};

Napi::Value readStoragesAsync(const Napi::CallbackInfo& info) {
  int fd = toFd(info[0]);
  auto places = readPlaces(info[1], info[2], 3, "readStoragesAsync");
  return (new ReadWorker(info.Env(), fd, std::move(places), toThreads(info[3])))->queue();
}

void writeRecord(int fd, const Place& p, int64_t& unsynced, int64_t& syncFrom) {
  for (int64_t done = 0; done < p.nbytes;) {
    size_t want = static_cast<size_t>(std::min<int64_t>(p.nbytes - done, int64_t(1) << 30));
    ssize_t n = ::pwrite(fd, p.data + done, want, p.position + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("write", p.position + done);
    }
    if (n == 0) throw std::runtime_error("a write at offset " + std::to_string(p.position + done) + " wrote nothing");
    done += n;
  }
#ifdef __linux__
  // Start writing these pages to the disk now, while the next records are copied; fsync then waits for less.
  // Only a hint: its failure (a file system without it) changes nothing.
  unsynced += p.nbytes;
  if (unsynced >= kWritebackEvery) {
    ::sync_file_range(fd, syncFrom, p.position + p.nbytes - syncFrom, SYNC_FILE_RANGE_WRITE);
    syncFrom = p.position + p.nbytes;
    unsynced = 0;
  }
#endif
}

class WriteWorker : public PromiseWorker {
 public:
  WriteWorker(Napi::Env env, int fd, std::vector<Place> places, int threads)
      : PromiseWorker(env, Lane::io()), fd_(fd), places_(std::move(places)), threads_(threads),
        crcs_(places_.size()) {}

 protected:
  void compute() override {
    auto checksum = [this] {
      for (size_t i = 0; i < places_.size(); ++i) crcs_[i] = crc32(0, places_[i].data, static_cast<size_t>(places_[i].nbytes));
    };
    bool parallel = threads_ >= 2 && totalBytes(places_) >= kParallelBytes;
    std::thread helper;
    if (parallel) helper = std::thread(checksum);
    try {
      // Records in file order, so that writeback proceeds front to back.
      std::vector<size_t> order(places_.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [this](size_t a, size_t b) { return places_[a].position < places_[b].position; });
      int64_t unsynced = 0, syncFrom = order.empty() ? 0 : places_[order.front()].position;
      for (size_t i : order) {
        const Place& p = places_[i];
        // On one thread each record's CRC comes just before its write, which then copies from the cache.
        if (!parallel) crcs_[i] = crc32(0, p.data, static_cast<size_t>(p.nbytes));
        writeRecord(fd_, p, unsynced, syncFrom);
      }
    } catch (...) {
      if (helper.joinable()) helper.join();
      throw;
    }
    if (parallel) helper.join();
  }

  Napi::Value resolve(Napi::Env env) override {
    places_.clear();
    auto out = Napi::Array::New(env, crcs_.size());
    for (size_t i = 0; i < crcs_.size(); ++i) out.Set(static_cast<uint32_t>(i), static_cast<double>(crcs_[i]));
    return out;
  }

 private:
  int fd_;
  std::vector<Place> places_;
  int threads_;
  std::vector<uint32_t> crcs_;
};

Napi::Value writeStorages(const Napi::CallbackInfo& info) {
  int fd = toFd(info[0]);
  auto places = readPlaces(info[1], info[2], 2, "writeStorages");
  return (new WriteWorker(info.Env(), fd, std::move(places), toThreads(info[3])))->queue();
}

Napi::Value storageCrc32(const Napi::CallbackInfo& info) {
  const at::Tensor& t = unwrap(info[0]);
  int64_t nbytes = toInt(info[1], "nbytes");
  if (nbytes < 0) throw RangeError("nbytes must be >= 0");
  const uint8_t* data = storageBytes(t, nbytes, "storageCrc32");
  return Napi::Number::New(info.Env(), nbytes == 0 ? 0 : crc32(0, data, static_cast<size_t>(nbytes)));
}

}  // namespace

void initStorageIo(Napi::Env env, Napi::Object exports) {
  exportFunction<readStorages>(env, exports, "readStorages");
  exportFunction<readStoragesAsync>(env, exports, "readStoragesAsync");
  exportFunction<writeStorages>(env, exports, "writeStorages");
  exportFunction<storageCrc32>(env, exports, "storageCrc32");
}

}  // namespace lvm
