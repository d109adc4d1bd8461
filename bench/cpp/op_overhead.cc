// The floor for bench/op-overhead.js: the same small ops as a plain C++ libtorch loop, each result created and
// destroyed per call (grad mode on). `op_overhead --threads=N` sets N intra-op threads; without it libtorch keeps its
// default, as the lvmtorch worker beside it does. Built by bench/lib/harness.js (buildCpp) once per libtorch variant.
//
// Protocol (shared with the other workers): one greeting line of JSON, then per request line
// {"op":"add","seconds":0.3,"warmup":0.02,"batch":1000} one answer line {"iters":N,"seconds":S,"us":U}.
// The requests are written by our own harness, so the "parser" only picks out the few fields it needs.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

at::Tensor a16, b16, m8a, m8b;

void op_add(long n) {
  for (long i = 0; i < n; i++) {
    at::Tensor r = a16 + b16;
  }
}
void op_matmul(long n) {
  for (long i = 0; i < n; i++) {
    at::Tensor r = at::matmul(m8a, m8b);
  }
}
void op_sum(long n) {
  for (long i = 0; i < n; i++) {
    at::Tensor r = a16.sum();
  }
}

std::string field(const std::string& line, const std::string& key) {
  auto k = line.find("\"" + key + "\"");
  if (k == std::string::npos) return "";
  auto c = line.find(':', k);
  auto s = line.find_first_not_of(" \"", c + 1);
  auto e = line.find_first_of(",}\"", s);
  return line.substr(s, e - s);
}

std::string mapped_library(const char* name) {
  std::ifstream maps("/proc/self/maps");
  for (std::string l; std::getline(maps, l);) {
    auto p = l.find('/');
    if (p != std::string::npos && l.find(name, p) != std::string::npos) return l.substr(p);
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a.rfind("--threads=", 0) == 0) at::set_num_threads(std::stoi(a.substr(10)));
  }
  a16 = at::randn({16});
  b16 = at::randn({16});
  m8a = at::randn({8, 8});
  m8b = at::randn({8, 8});
  std::printf("{\"impl\":\"c++\",\"threads\":%d,\"libtorch\":\"%s\",\"compiler\":\"%s\",\"cplusplus\":%ld}\n",
              at::get_num_threads(), mapped_library("libtorch_cpu").c_str(), __VERSION__, static_cast<long>(__cplusplus));
  std::fflush(stdout);

  for (std::string line; std::getline(std::cin, line);) {
    std::string op = field(line, "op");
    void (*fn)(long) = op == "add" ? op_add : op == "matmul" ? op_matmul : op == "sum" ? op_sum : nullptr;
    if (!fn) {
      std::printf("{\"error\":\"unknown op '%s'\"}\n", op.c_str());
      std::fflush(stdout);
      continue;
    }
    double seconds = std::stod(field(line, "seconds"));
    double warmup = std::stod(field(line, "warmup"));
    long batch = std::stol(field(line, "batch"));
    auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };

    auto w0 = Clock::now();
    while (secs(w0, Clock::now()) < warmup) fn(batch);
    long iters = 0;
    auto t0 = Clock::now();
    double elapsed;
    do {
      fn(batch);
      iters += batch;
      elapsed = secs(t0, Clock::now());
    } while (elapsed < seconds);
    std::printf("{\"iters\":%ld,\"seconds\":%.6f,\"us\":%.6f}\n", iters, elapsed, elapsed / iters * 1e6);
    std::fflush(stdout);
  }
  return 0;
}
