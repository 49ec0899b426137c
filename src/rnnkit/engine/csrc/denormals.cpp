// Denormal floats on x86: flush-to-zero (results) and denormals-are-zero (inputs), set in
// every thread that runs torch's CPU work. torch.set_flush_denormal sets the calling
// thread's MXCSR only, and each of torch's OpenMP intra-op threads keeps its own, so with
// two threads one of them still computes on denormals (benchmarks/denormals.py).

#include "kernels.h"
#include "scan_common.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define RNNKIT_HAS_MXCSR 1
#endif

namespace rnnkit {

#ifdef RNNKIT_HAS_MXCSR
constexpr unsigned kFlushBits = 0x8040;  // MXCSR bit 15 (FTZ) and bit 6 (DAZ)

static bool set_flush_bits(bool enabled) {
  const unsigned csr = _mm_getcsr();
  _mm_setcsr(enabled ? (csr | kFlushBits) : (csr & ~kFlushBits));
  return (_mm_getcsr() & kFlushBits) == kFlushBits;
}
#endif

// Sets (enabled) or clears flushing of denormals in the calling thread and in each of
// torch's intra-op threads; returns how many of those threads flush afterwards (-1 where
// the CPU has no MXCSR). An at::parallel_for over one index per thread with grain 1 gives
// each OpenMP thread exactly one index.
int64_t flush_denormals(bool enabled) {
#ifdef RNNKIT_HAS_MXCSR
  set_flush_bits(enabled);
  const int64_t threads = std::max(at::get_num_threads(), 1);
  std::vector<char> flushing(threads, 0);
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    flushing[at::get_thread_num()] = set_flush_bits(enabled);
  });
  return std::count(flushing.begin(), flushing.end(), 1);
#else
  (void)enabled;
  return -1;
#endif
}

// How many of torch's intra-op threads flush denormals now (a test's spy; -1 without MXCSR).
int64_t denormal_flushing_threads() {
#ifdef RNNKIT_HAS_MXCSR
  const int64_t threads = std::max(at::get_num_threads(), 1);
  std::vector<char> flushing(threads, 0);
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    flushing[at::get_thread_num()] = (_mm_getcsr() & kFlushBits) == kFlushBits;
  });
  return std::count(flushing.begin(), flushing.end(), 1);
#else
  return -1;
#endif
}

}  // namespace rnnkit
