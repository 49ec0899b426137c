// What every rnnkit scan kernel shares: active rows, buffers, the per-step recurrent
// product, and the element loops the compiler vectorizes.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <string>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace rnnkit {


using at::Tensor;
using OptTensor = c10::optional<Tensor>;

inline int64_t active(const std::vector<int64_t>& batch_sizes, int64_t t, int64_t batch) {
  return batch_sizes.empty() ? batch : batch_sizes[t];
}

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }

// Element loops over one row, each simple enough, with restrict-qualified pointers, for
// the compiler to vectorize (glibc's libmvec supplies vector exp and tanh under -ffast-math).
template <typename T> void sigmoid_inplace(T* __restrict__ x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] = sigmoid(x[j]);
}
template <typename T> void tanh_inplace(T* __restrict__ x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] = std::tanh(x[j]);
}
template <typename T> void tanh_of(T* __restrict__ out, const T* __restrict__ x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = std::tanh(x[j]);
}
// x += w * v (the peephole terms).
template <typename T>
void add_product(T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ v,
                 int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] += w[j] * v[j];
}
// c = f * c_prev + i * g
template <typename T>
void lstm_cell(T* __restrict__ c, const T* __restrict__ f, const T* __restrict__ c_prev,
               const T* __restrict__ i, const T* __restrict__ g, int64_t n) {
  for (int64_t j = 0; j < n; ++j) c[j] = f[j] * c_prev[j] + i[j] * g[j];
}
// h = o * tanh(c)
template <typename T>
void lstm_hidden(T* __restrict__ h, const T* __restrict__ o, const T* __restrict__ c,
                 int64_t n) {
  for (int64_t j = 0; j < n; ++j) h[j] = o[j] * std::tanh(c[j]);
}
// One row of an LSTM step: the pre-activations a (4H, i f g o) activated in place, the
// new cell state into c and hidden state into h, from c_prev. p is the peephole vector
// (3H: ci, cf, co) or null.
template <typename T>
void lstm_gate_row(T* a, const T* c_prev, T* c, T* h, const T* p, int64_t H) {
  T* ai = a; T* af = ai + H; T* ag = af + H; T* ao = ag + H;
  if (p) {
    add_product(ai, p, c_prev, H);
    add_product(af, p + H, c_prev, H);
  }
  sigmoid_inplace(ai, 2 * H);  // i and f, adjacent
  tanh_inplace(ag, H);
  lstm_cell(c, af, c_prev, ai, ag, H);
  if (p) add_product(ao, p + 2 * H, c, H);
  sigmoid_inplace(ao, H);
  lstm_hidden(h, ao, c, H);
}

// y = x @ W^T for many x with the same W (one per step). In float32 on a build with oneDNN
// a large weight is reordered once into oneDNN's blocked layout (the operators torch's own
// CPU compiler uses), which streams a W_hh too big for the cache from memory far better
// than a plain GEMM does at a batch of a few dozen rows.
// A small weight stays in cache and the plain GEMM, with less overhead, wins.
constexpr int64_t kPackedWeightMinElements = int64_t(1) << 20;

class RecurrentProduct {
 public:
  RecurrentProduct(const Tensor& weight, int64_t batch) : weight_t_(weight.t()) {
    if (weight.scalar_type() != at::kFloat || !weight.device().is_cpu() ||
        weight.numel() < kPackedWeightMinElements) {
      return;
    }
    auto& dispatcher = c10::Dispatcher::singleton();
    auto reorder = dispatcher.findSchema({"mkldnn::_reorder_linear_weight", ""});
    auto linear = dispatcher.findSchema({"mkldnn::_linear_pointwise", ""});
    if (!reorder || !linear) return;
    torch::jit::Stack stack{weight.contiguous(), batch};
    reorder->callBoxed(&stack);
    packed_ = stack[0].toTensor();
    linear_ = linear;
  }

  // out = base + x @ W^T, or out = x @ W^T when base is undefined.
  void into(Tensor out, const Tensor& base, const Tensor& x) const {
    if (!linear_) {
      if (base.defined()) {
        at::addmm_out(out, base, x, weight_t_);
      } else {
        at::mm_out(out, x, weight_t_);
      }
      return;
    }
    c10::impl::GenericList scalars(c10::OptionalType::create(c10::NumberType::get()));
    torch::jit::Stack stack{x.contiguous(), packed_, c10::IValue(), std::string("none"),
                            std::move(scalars), c10::IValue()};
    linear_->callBoxed(&stack);
    const Tensor y = stack[0].toTensor();
    if (base.defined()) {
      at::add_out(out, base, y);
    } else {
      out.copy_(y);
    }
  }

  Tensor operator()(const Tensor& x) const {
    Tensor out = at::empty({x.size(0), weight_t_.size(1)}, x.options());
    into(out, Tensor(), x);
    return out;
  }

 private:
  Tensor weight_t_;
  Tensor packed_;
  c10::optional<c10::OperatorHandle> linear_;
};

// dW = sum_t d_t^T @ h_in_t accumulated during a backward loop a chunk of steps at a time:
// the loop writes each step's d into a slot of a small ring of buffers, and every `chunk`
// steps one matrix product of chunk * batch rows folds them into dW. The products stay
// large enough to run at full speed while the per-step gradients never need a buffer for
// the whole sequence.
class ChunkedWeightGrad {
 public:
  // hs: (T + 1, B, H), the states whose first T steps fed the recurrent product.
  ChunkedWeightGrad(const Tensor& hs, const OptTensor& mask, int64_t out_features)
      : hs_(hs), mask_(mask), time_(hs.size(0) - 1), batch_(hs.size(1)),
        chunk_(std::max<int64_t>(1, std::min<int64_t>(time_, (256 + batch_ - 1) / batch_))),
        ring_(at::empty({chunk_, batch_, out_features}, hs.options())),
        grad_(at::zeros({out_features, hs.size(2)}, hs.options())) {}

  // The (batch, out) slot for step t; rows past the n active ones are zeroed.
  Tensor slot(int64_t t, int64_t n) {
    Tensor slot = ring_[t % chunk_];
    if (n < batch_) slot.narrow(0, n, batch_ - n).zero_();
    return slot;
  }

  // Call after step t's slot is written (t counting down); folds a finished chunk into dW.
  void done(int64_t t) {
    if (t % chunk_ != 0) return;
    const int64_t end = std::min(t + chunk_, time_), steps = end - t;
    Tensor h_in = hs_.narrow(0, t, steps);
    if (mask_.has_value()) h_in = h_in * *mask_;
    const int64_t out = ring_.size(2);
    grad_.addmm_(ring_.narrow(0, 0, steps).reshape({steps * batch_, out}).t(),
                 h_in.reshape({steps * batch_, hs_.size(2)}));
  }

  const Tensor& result() const { return grad_; }

 private:
  Tensor hs_;
  OptTensor mask_;
  int64_t time_, batch_, chunk_;
  Tensor ring_, grad_;
};

// Rows [0, n) of a per-row kernel, split across torch's intra-op threads.
template <typename F>
void for_rows(int64_t n, int64_t width, const F& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1));
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) body(r);
  });
}

// Rows of finished sequences keep their state from step t to t + 1.
inline void carry_inactive(Tensor& states, int64_t t, int64_t n) {
  if (n < states.size(1)) states[t + 1].narrow(0, n, states.size(1) - n).copy_(
      states[t].narrow(0, n, states.size(1) - n));
}

inline Tensor recurrent_input(const Tensor& h, const OptTensor& mask, int64_t n) {
  return mask.has_value() ? h * mask->narrow(0, 0, n) : h;
}

// A per-step buffer of the whole sequence. Large ones ask the kernel for transparent huge
// pages before first touch: a training step fills several buffers of tens of MiB row by
// row, and faulting them in 4 KiB pages was a large part of a step (docs/performance.md).
// Where the advice is not taken, nothing changes.
inline Tensor buffer(const Tensor& like, at::IntArrayRef shape, bool ragged) {
  Tensor result = at::empty(shape, like.options());
#ifdef __linux__
  constexpr uintptr_t kHugePage = uintptr_t(1) << 21;
  const uintptr_t start = reinterpret_cast<uintptr_t>(result.data_ptr());
  const uintptr_t end = start + result.nbytes();
  const uintptr_t aligned_start = (start + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t aligned_end = end & ~(kHugePage - 1);
  if (like.device().is_cpu() && aligned_end > aligned_start) {
    madvise(reinterpret_cast<void*>(aligned_start), aligned_end - aligned_start,
            MADV_HUGEPAGE);
  }
#endif
  return ragged ? result.zero_() : result;
}

// h' = n + z * (h - n)
template <typename T>
void gru_hidden(T* __restrict__ h_next, const T* __restrict__ n, const T* __restrict__ z,
                const T* __restrict__ h, int64_t H) {
  for (int64_t j = 0; j < H; ++j) h_next[j] = n[j] + z[j] * (h[j] - n[j]);
}

// One row of the GRU backward: d = [dr | dz | dn] (dr only when resetting after), dh
// becomes the update gate's direct path z * dL/dh_t, and d_rec (or null) gets [dr | dz | dn*r].
template <typename T, bool ResetAfter>
void gru_gate_grads(T* __restrict__ d, T* __restrict__ d_rec, T* __restrict__ dh,
                    const T* __restrict__ grad_out, const T* __restrict__ a,
                    const T* __restrict__ term, const T* __restrict__ h, int64_t H) {
  const T* ar = a; const T* az = a + H; const T* an = a + 2 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T grad_h = dh[j] + grad_out[j];
    const T z = az[j], c = an[j];
    const T d_n = grad_h * (1 - z) * (1 - c * c);
    d[H + j] = grad_h * (h[j] - c) * z * (1 - z);
    d[2 * H + j] = d_n;
    dh[j] = grad_h * z;
    if constexpr (ResetAfter) {
      const T r = ar[j];
      const T d_r = d_n * term[j] * r * (1 - r);
      d[j] = d_r;
      d_rec[j] = d_r;
      d_rec[H + j] = d[H + j];
      d_rec[2 * H + j] = d_n * r;
    }
  }
}
}  // namespace rnnkit
