// The linear recurrence h_t = a_t * h_{t-1} + b_t of minGRU and minLSTM, forward and back,
// on the CPU: the loop over time in C++, each step one fused pass over the batch x hidden
// lanes, the lanes shared out over threads (each thread keeps its lanes' state in cache).
//
// Layout (time-major, contiguous): a, b, states, grad_states (T, B, H); h0 (B, H).
// rnnkit/engine/linear_scan.py holds the same recurrence as a log-space scan in torch
// operators; tests hold the two to 1e-10 in float64.

#include <ATen/Parallel.h>

#include "kernels.h"

namespace rnnkit {

namespace {
// Lanes per task: enough work to pay for a thread, few enough to share out a batch.
constexpr int64_t kGrain = 2048;
}  // namespace

at::Tensor linear_scan_forward(const at::Tensor& a_in, const at::Tensor& b_in,
                               const at::Tensor& h0_in) {
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous(), h0 = h0_in.contiguous();
  const int64_t time = a.size(0), lanes = h0.numel();
  at::Tensor states = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_forward", [&] {
    const scalar_t* A = a.data_ptr<scalar_t>();
    const scalar_t* B = b.data_ptr<scalar_t>();
    const scalar_t* H0 = h0.data_ptr<scalar_t>();
    scalar_t* S = states.data_ptr<scalar_t>();
    at::parallel_for(0, lanes, kGrain, [&](int64_t begin, int64_t end) {
      const scalar_t* previous = H0;
      for (int64_t t = 0; t < time; ++t) {
        const int64_t offset = t * lanes;
        for (int64_t i = begin; i < end; ++i) {
          S[offset + i] = A[offset + i] * previous[i] + B[offset + i];
        }
        previous = S + offset;
      }
    });
  });
  return states;
}

// With lambda_t the gradient of the loss at h_t through every later step,
// lambda_t = g_t + a_{t+1} * lambda_{t+1}; then dL/db_t = lambda_t,
// dL/da_t = lambda_t * h_{t-1} and dL/dh_0 = a_1 * lambda_1.
std::vector<at::Tensor> linear_scan_backward(const at::Tensor& a_in, const at::Tensor& states_in,
                                             const at::Tensor& h0_in,
                                             const at::Tensor& grad_in) {
  const at::Tensor a = a_in.contiguous(), states = states_in.contiguous();
  const at::Tensor h0 = h0_in.contiguous(), grad = grad_in.contiguous();
  const int64_t time = a.size(0), lanes = h0.numel();
  at::Tensor grad_a = at::empty_like(a), grad_b = at::empty_like(a);
  at::Tensor grad_h0 = at::empty_like(h0);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "linear_scan_backward", [&] {
    const scalar_t* A = a.data_ptr<scalar_t>();
    const scalar_t* S = states.data_ptr<scalar_t>();
    const scalar_t* H0 = h0.data_ptr<scalar_t>();
    const scalar_t* G = grad.data_ptr<scalar_t>();
    scalar_t* GA = grad_a.data_ptr<scalar_t>();
    scalar_t* GB = grad_b.data_ptr<scalar_t>();
    scalar_t* GH0 = grad_h0.data_ptr<scalar_t>();
    at::parallel_for(0, lanes, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t t = time - 1; t >= 0; --t) {
        const int64_t offset = t * lanes;
        const scalar_t* previous = t > 0 ? S + offset - lanes : H0;
        for (int64_t i = begin; i < end; ++i) {
          const scalar_t later = t + 1 < time ? A[offset + lanes + i] * GB[offset + lanes + i]
                                              : scalar_t(0);
          const scalar_t lambda = G[offset + i] + later;
          GB[offset + i] = lambda;
          GA[offset + i] = lambda * previous[i];
        }
      }
      for (int64_t i = begin; i < end; ++i) GH0[i] = A[i] * GB[i];
    });
  });
  return {grad_a, grad_b, grad_h0};
}

}  // namespace rnnkit
