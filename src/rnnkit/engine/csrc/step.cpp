// Generation's one-step kernels: one token at a time, for many streams at once. The scan
// kernels (scan.cpp) own whole sequences; these own one step of a layer, the state held by
// the caller in buffers allocated once (rnnkit/step_decoder.py's BufferedStep).

#include "kernels.h"
#include "scan_common.h"

namespace rnnkit {

// x += y
template <typename T>
void add_in_place(T* __restrict__ x, const T* __restrict__ y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] += y[j];
}

// c = f * c + i * g and h = o * tanh(c), the cell state overwritten where it lies: c is
// read and written through the one pointer, each element read before it is written.
template <typename T>
void lstm_state_in_place(T* __restrict__ c, T* __restrict__ h, const T* __restrict__ a,
                         int64_t H) {
  const T* ai = a; const T* af = a + H; const T* ag = a + 2 * H; const T* ao = a + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T cell = af[j] * c[j] + ai[j] * ag[j];
    c[j] = cell;
    h[j] = ao[j] * std::tanh(cell);
  }
}

// One row of an LSTM step in place: the pre-activations a (4H, i f g o) activated where
// they lie, then the next c and h written over the row's c and h.
template <typename T>
void lstm_row_in_place(T* a, T* c, T* h, int64_t H) {
  sigmoid_inplace(a, 2 * H);  // i and f, adjacent
  tanh_inplace(a + 2 * H, H);
  sigmoid_inplace(a + 3 * H, H);
  lstm_state_in_place(c, h, a, H);
}

static void check_step_buffers(const Tensor& gates, const Tensor& h, const Tensor& c,
                               const char* kernel) {
  TORCH_CHECK(gates.dim() == 2 && h.dim() == 2 && gates.is_contiguous() && h.is_contiguous() &&
                  c.is_contiguous() && c.sizes() == h.sizes() &&
                  gates.sizes() == at::IntArrayRef({h.size(0), 4 * h.size(1)}) &&
                  gates.scalar_type() == h.scalar_type() && c.scalar_type() == h.scalar_type(),
              kernel, " expects contiguous gates (B, 4H), h and c (B, H) of one dtype");
}

// The in-place twin of lstm_gates_step: h and c (B, H) overwritten with the step after
// gates (B, 4H, activated in place). The int8 generation step's LSTM activations.
void lstm_gates_step_(Tensor gates, Tensor h, Tensor c) {
  check_step_buffers(gates, h, c, "lstm_gates_step_");
  const int64_t batch = h.size(0), H = h.size(1);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_gates_step_", [&] {
    scalar_t* A = gates.data_ptr<scalar_t>();
    scalar_t* C = c.data_ptr<scalar_t>();
    scalar_t* Hn = h.data_ptr<scalar_t>();
    for_rows(batch, 4 * H, [&](int64_t r) {
      lstm_row_in_place(A + r * 4 * H, C + r * H, Hn + r * H, H);
    });
  });
}

// One LSTM step from its summed gate pre-activations, gates (B, 4H) in the order i, f, g,
// o, and the previous cell state (B, H): returns the new h and c, in new tensors (the
// in-place step on a copy of c_prev). The gates are activated in place. The int8 cell's
// forward runs it after one int8 product of [x, h] (rnnkit/quantized_step.py).
std::vector<Tensor> lstm_gates_step(Tensor gates, const Tensor& c_prev) {
  Tensor h = at::empty_like(c_prev, at::MemoryFormat::Contiguous);
  Tensor c = c_prev.clone(at::MemoryFormat::Contiguous);
  lstm_gates_step_(gates, h, c);
  return {h, c};
}

// One LSTM layer step with its state in place: the gates x W_ih^T + b_ih + h W_hh^T + b_hh
// (torch's LSTMCell, gate order i, f, g, o) into the caller's buffers input_gates and gates
// (B, 4H), then h (B, H) and c (B, H) overwritten with the next state. weight_ih_t and
// weight_hh_t are the transposed weights (in, 4H), as views. Allocates nothing.
void lstm_cell_step_(const Tensor& x, const Tensor& weight_ih_t, const Tensor& weight_hh_t,
                     const Tensor& bias_ih, const Tensor& bias_hh, Tensor h, Tensor c,
                     Tensor input_gates, Tensor gates) {
  check_step_buffers(gates, h, c, "lstm_cell_step_");
  TORCH_CHECK(input_gates.is_contiguous() && input_gates.sizes() == gates.sizes(),
              "lstm_cell_step_ expects contiguous input_gates shaped as gates");
  at::addmm_out(input_gates, bias_ih, x, weight_ih_t);
  at::addmm_out(gates, bias_hh, h, weight_hh_t);  // h is read here, before it is overwritten
  const int64_t batch = h.size(0), H = h.size(1);
  AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "lstm_cell_step_", [&] {
    scalar_t* A = gates.data_ptr<scalar_t>();
    const scalar_t* I = input_gates.data_ptr<scalar_t>();
    scalar_t* C = c.data_ptr<scalar_t>();
    scalar_t* Hn = h.data_ptr<scalar_t>();
    for_rows(batch, 4 * H, [&](int64_t r) {
      add_in_place(A + r * 4 * H, I + r * 4 * H, 4 * H);
      lstm_row_in_place(A + r * 4 * H, C + r * H, Hn + r * H, H);
    });
  });
}

}  // namespace rnnkit
