// rnnkit's CPU scan kernels: the loop over time in C++, the recurrent product through
// ATen (MKL/oneDNN), and each step's gate math fused into vectorized passes over the rows.
//
// Layout (time-major, batch sorted longest first): xproj (T, B, G*H); hs and cs hold the
// state of every step, (T + 1, B, H), row 0 the initial state; acts (T, B, G*H) the
// activated gates. batch_sizes[t] is the number of active rows at step t (empty: all).
// The Python kernels in rnnkit/engine/{lstm,gru,rnn}.py are the same algorithms in torch
// operators; tests hold the two to 1e-10 in float64.

#include "kernels.h"
#include "scan_common.h"

namespace rnnkit {

// ---------------------------------------------------------------- LSTM ----------------
std::vector<Tensor> lstm_forward(const Tensor& xproj, const Tensor& h0, const Tensor& c0,
                                 const Tensor& weight_hh, const OptTensor& peephole,
                                 const OptTensor& mask, std::vector<int64_t> batch_sizes) {
  const int64_t time = xproj.size(0), batch = xproj.size(1), H = xproj.size(2) / 4;
  const bool ragged = !batch_sizes.empty();
  Tensor hs = buffer(xproj, {time + 1, batch, H}, false);
  Tensor cs = buffer(xproj, {time + 1, batch, H}, false);
  Tensor acts = buffer(xproj, {time, batch, 4 * H}, ragged);
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  const RecurrentProduct recurrent(weight_hh, batch);
  for (int64_t t = 0; t < time; ++t) {
    const int64_t n = active(batch_sizes, t, batch);
    carry_inactive(hs, t, n);
    carry_inactive(cs, t, n);
    Tensor a = acts[t].narrow(0, 0, n);
    recurrent.into(a, xproj[t].narrow(0, 0, n), recurrent_input(hs[t].narrow(0, 0, n), mask, n));
    AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "lstm_forward", [&] {
      scalar_t* A = a.data_ptr<scalar_t>();
      const scalar_t* CP = cs[t].data_ptr<scalar_t>();
      scalar_t* C = cs[t + 1].data_ptr<scalar_t>();
      scalar_t* Hn = hs[t + 1].data_ptr<scalar_t>();
      const scalar_t* P = peephole.has_value() ? peephole->data_ptr<scalar_t>() : nullptr;
      for_rows(n, 4 * H, [&](int64_t r) {
        lstm_gate_row(A + r * 4 * H, CP + r * H, C + r * H, Hn + r * H, P, H);
      });
    });
  }
  return {hs, cs, acts};
}

// How many of torch's intra-op threads a for_rows over `rows` rows of `width` elements ran
// on. A build without OpenMP compiles at::parallel_for to a plain loop, so every kernel's
// row passes would run on one thread whatever torch.get_num_threads() says; the tests ask
// this to see that they do not.
int64_t for_rows_threads(int64_t rows, int64_t width) {
  std::vector<char> ran(std::max(at::get_num_threads(), 1), 0);
  for_rows(rows, width, [&](int64_t) { ran[at::get_thread_num()] = 1; });
  return std::count(ran.begin(), ran.end(), 1);
}

// One row of the LSTM backward: pre-activation gradients into d (4H) and dL/dc_(t-1) into
// dc (which holds dL/dc_t on entry). p is the peephole vector (3H) or null.
template <typename T, bool Peephole>
void lstm_gate_grads(T* __restrict__ d, T* __restrict__ dc, const T* __restrict__ dh,
                     const T* __restrict__ grad_out, const T* __restrict__ tanh_c,
                     const T* __restrict__ a, const T* __restrict__ c_prev,
                     const T* __restrict__ p, int64_t H) {
  const T* ai = a; const T* af = a + H; const T* ag = a + 2 * H; const T* ao = a + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T grad_h = dh[j] + grad_out[j];
    const T tc = tanh_c[j], o = ao[j], i = ai[j], f = af[j], g = ag[j];
    const T d_o = grad_h * tc * o * (1 - o);
    T d_c = dc[j] + grad_h * o * (1 - tc * tc);
    if constexpr (Peephole) d_c += d_o * p[2 * H + j];
    const T d_i = d_c * g * i * (1 - i);
    const T d_f = d_c * c_prev[j] * f * (1 - f);
    d[j] = d_i;
    d[H + j] = d_f;
    d[2 * H + j] = d_c * i * (1 - g * g);
    d[3 * H + j] = d_o;
    if constexpr (Peephole) {
      dc[j] = d_c * f + d_i * p[j] + d_f * p[H + j];
    } else {
      dc[j] = d_c * f;
    }
  }
}

// Returns {d_pre (T, B, 4H), dh0, dc0}; dh and dc arrive holding the final-state gradients.
std::vector<Tensor> lstm_backward(const Tensor& grad_output, Tensor dh, Tensor dc,
                                  const Tensor& cs, const Tensor& acts, const Tensor& weight_hh,
                                  const OptTensor& peephole, const OptTensor& mask,
                                  std::vector<int64_t> batch_sizes) {
  const int64_t time = acts.size(0), batch = acts.size(1), H = acts.size(2) / 4;
  Tensor d_pre = buffer(acts, acts.sizes(), !batch_sizes.empty());
  dh = dh.contiguous().clone();
  dc = dc.contiguous().clone();
  const Tensor go = grad_output.contiguous();
  const RecurrentProduct into_h(weight_hh.t(), batch);  // d @ W_hh
  for (int64_t t = time - 1; t >= 0; --t) {
    const int64_t n = active(batch_sizes, t, batch);
    Tensor d = d_pre[t].narrow(0, 0, n);
    AT_DISPATCH_FLOATING_TYPES(acts.scalar_type(), "lstm_backward", [&] {
      const scalar_t* A = acts[t].data_ptr<scalar_t>();
      const scalar_t* CP = cs[t].data_ptr<scalar_t>();
      const scalar_t* C = cs[t + 1].data_ptr<scalar_t>();
      const scalar_t* G = go[t].data_ptr<scalar_t>();
      scalar_t* DH = dh.data_ptr<scalar_t>();
      scalar_t* DC = dc.data_ptr<scalar_t>();
      scalar_t* D = d.data_ptr<scalar_t>();
      const scalar_t* P = peephole.has_value() ? peephole->data_ptr<scalar_t>() : nullptr;
      at::parallel_for(0, n, std::max<int64_t>(1, 16384 / (4 * H)), [&](int64_t begin,
                                                                         int64_t end) {
        std::vector<scalar_t> tanh_c(H);
        for (int64_t r = begin; r < end; ++r) {
          tanh_of(tanh_c.data(), C + r * H, H);
          auto grads = P ? lstm_gate_grads<scalar_t, true> : lstm_gate_grads<scalar_t, false>;
          grads(D + r * 4 * H, DC + r * H, DH + r * H, G + r * H, tanh_c.data(),
                A + r * 4 * H, CP + r * H, P, H);
        }
      });
    });
    Tensor dh_n = dh.narrow(0, 0, n);
    into_h.into(dh_n, Tensor(), d);
    if (mask.has_value()) dh_n.mul_(mask->narrow(0, 0, n));
  }
  return {d_pre, dh, dc};
}

// ---------------------------------------------------------------- RNN -----------------
std::vector<Tensor> rnn_forward(const Tensor& xproj, const Tensor& h0, const Tensor& weight_hh,
                                bool relu, const OptTensor& mask,
                                std::vector<int64_t> batch_sizes) {
  const int64_t time = xproj.size(0), batch = xproj.size(1), H = xproj.size(2);
  Tensor hs = buffer(xproj, {time + 1, batch, H}, false);
  hs[0].copy_(h0);
  const RecurrentProduct recurrent(weight_hh, batch);
  for (int64_t t = 0; t < time; ++t) {
    const int64_t n = active(batch_sizes, t, batch);
    carry_inactive(hs, t, n);
    Tensor h = hs[t + 1].narrow(0, 0, n);
    recurrent.into(h, xproj[t].narrow(0, 0, n), recurrent_input(hs[t].narrow(0, 0, n), mask, n));
    relu ? h.relu_() : h.tanh_();
  }
  return {hs};
}

// ---------------------------------------------------------------- GRU -----------------
// r, z, n of one row resetting after the product: a = [r | z | n] is written,
// term = (W_hn h)_n + b_hn is saved for the backward.
template <typename T>
void gru_gates_after(T* __restrict__ a, T* __restrict__ term, const T* __restrict__ x,
                     const T* __restrict__ rec, const T* __restrict__ bias_n, int64_t H) {
  for (int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid(x[j] + rec[j]);
  for (int64_t j = 0; j < H; ++j) term[j] = rec[2 * H + j] + bias_n[j];
  for (int64_t j = 0; j < H; ++j) a[2 * H + j] = std::tanh(x[2 * H + j] + a[j] * term[j]);
}

// acts rows are [r | z | n]; terms hold what the reset gate multiplied: W_hn h + b_hn
// (reset after) or r * h_in (reset before).
std::vector<Tensor> gru_forward(const Tensor& xproj, const Tensor& h0, const Tensor& weight_hh,
                                const OptTensor& bias_n, const OptTensor& mask,
                                std::vector<int64_t> batch_sizes) {
  const int64_t time = xproj.size(0), batch = xproj.size(1), H = xproj.size(2) / 3;
  const bool ragged = !batch_sizes.empty(), reset_after = bias_n.has_value();
  Tensor hs = buffer(xproj, {time + 1, batch, H}, false);
  Tensor acts = buffer(xproj, {time, batch, 3 * H}, ragged);
  Tensor terms = buffer(xproj, {time, batch, H}, ragged);
  Tensor rec = at::empty({batch, 3 * H}, xproj.options());
  hs[0].copy_(h0);
  const RecurrentProduct full(weight_hh, batch);
  const RecurrentProduct rz(weight_hh.narrow(0, 0, 2 * H), batch);
  const RecurrentProduct candidate(weight_hh.narrow(0, 2 * H, H), batch);
  for (int64_t t = 0; t < time; ++t) {
    const int64_t n = active(batch_sizes, t, batch);
    carry_inactive(hs, t, n);
    const Tensor h_in = recurrent_input(hs[t].narrow(0, 0, n), mask, n);
    Tensor a = acts[t].narrow(0, 0, n);
    Tensor term = terms[t].narrow(0, 0, n);
    const Tensor x = xproj[t].narrow(0, 0, n);
    if (reset_after) {
      full.into(rec.narrow(0, 0, n), Tensor(), h_in);
    } else {
      Tensor a_rz = a.narrow(1, 0, 2 * H);
      rz.into(a_rz, x.narrow(1, 0, 2 * H), h_in);
      a_rz.sigmoid_();
      at::mul_out(term, a.narrow(1, 0, H), h_in);
      Tensor a_n = a.narrow(1, 2 * H, H);
      candidate.into(a_n, x.narrow(1, 2 * H, H), term);
    }
    AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "gru_forward", [&] {
      scalar_t* A = a.data_ptr<scalar_t>();
      scalar_t* TM = term.data_ptr<scalar_t>();
      const scalar_t* X = x.data_ptr<scalar_t>();
      const scalar_t* R = rec.data_ptr<scalar_t>();
      const scalar_t* B = reset_after ? bias_n->data_ptr<scalar_t>() : nullptr;
      const scalar_t* HP = hs[t].data_ptr<scalar_t>();
      scalar_t* HN = hs[t + 1].data_ptr<scalar_t>();
      for_rows(n, 3 * H, [&](int64_t row) {
        scalar_t* ar = A + row * 3 * H; scalar_t* az = ar + H; scalar_t* an = az + H;
        const scalar_t* hp = HP + row * H; scalar_t* hn = HN + row * H;
        if (B) {
          gru_gates_after(ar, TM + row * H, X + row * 3 * H, R + row * 3 * H, B, H);
        } else {
          tanh_inplace(an, H);
        }
        gru_hidden(hn, an, az, hp, H);
      });
    });
  }
  return {hs, acts, terms};
}

// Returns {d_pre (T, B, 3H), d_rec (T, B, 3H) or empty, dh0}. d_rec, the gradient of the
// recurrent product W_hh h_in + b_hh (reset after), differs from d_pre in the n block.
std::vector<Tensor> gru_backward(const Tensor& grad_output, Tensor dh, const Tensor& hs,
                                 const Tensor& acts, const Tensor& terms,
                                 const Tensor& weight_hh, bool reset_after,
                                 const OptTensor& mask, std::vector<int64_t> batch_sizes) {
  const int64_t time = acts.size(0), batch = acts.size(1), H = acts.size(2) / 3;
  const bool ragged = !batch_sizes.empty();
  Tensor d_pre = buffer(acts, acts.sizes(), ragged);
  Tensor d_rec = reset_after ? buffer(acts, acts.sizes(), ragged) : Tensor();
  Tensor d_term = at::empty({batch, H}, acts.options());
  dh = dh.contiguous().clone();
  const Tensor go = grad_output.contiguous();
  // Products with W_hh (not its transpose) carry gradients back into h.
  const RecurrentProduct into_h(weight_hh.t(), batch);
  const RecurrentProduct rz_into_h(weight_hh.narrow(0, 0, 2 * H).t(), batch);
  const RecurrentProduct candidate_into_h(weight_hh.narrow(0, 2 * H, H).t(), batch);
  for (int64_t t = time - 1; t >= 0; --t) {
    const int64_t n = active(batch_sizes, t, batch);
    Tensor d = d_pre[t].narrow(0, 0, n);
    Tensor dh_n = dh.narrow(0, 0, n);
    AT_DISPATCH_FLOATING_TYPES(acts.scalar_type(), "gru_backward", [&] {
      const scalar_t* A = acts[t].data_ptr<scalar_t>();
      const scalar_t* TM = terms[t].data_ptr<scalar_t>();
      const scalar_t* HP = hs[t].data_ptr<scalar_t>();
      const scalar_t* G = go[t].data_ptr<scalar_t>();
      scalar_t* DH = dh.data_ptr<scalar_t>();
      scalar_t* D = d.data_ptr<scalar_t>();
      scalar_t* DR = reset_after ? d_rec[t].data_ptr<scalar_t>() : nullptr;
      for_rows(n, 3 * H, [&](int64_t row) {
        auto grads = DR ? gru_gate_grads<scalar_t, true> : gru_gate_grads<scalar_t, false>;
        grads(D + row * 3 * H, DR ? DR + row * 3 * H : nullptr, DH + row * H, G + row * H,
              A + row * 3 * H, TM + row * H, HP + row * H, H);
      });
    });
    Tensor through_products;
    if (reset_after) {
      through_products = into_h(d_rec[t].narrow(0, 0, n));
    } else {
      Tensor dt = d_term.narrow(0, 0, n);
      candidate_into_h.into(dt, Tensor(), d.narrow(1, 2 * H, H));  // dL/d(r * h_in)
      const Tensor h_in = recurrent_input(hs[t].narrow(0, 0, n), mask, n);
      const Tensor r = acts[t].narrow(0, 0, n).narrow(1, 0, H);
      Tensor d_r = d.narrow(1, 0, H);
      d_r.copy_(at::sigmoid_backward(dt * h_in, r));
      through_products = rz_into_h(d.narrow(1, 0, 2 * H)).add_(dt * r);
    }
    if (mask.has_value()) through_products.mul_(mask->narrow(0, 0, n));
    dh_n.add_(through_products);
  }
  return {d_pre, reset_after ? d_rec : at::empty({0}, acts.options()), dh};
}

}  // namespace rnnkit
