// The layer-normalized LSTM and GRU scans (equations in rnnkit/cells/layernorm.py).
//
// Each step normalizes the recurrent product over all gates of a row (and, for the LSTM,
// the new cell state) inside the fused row pass, saving the normalized values and 1/std:
// that is all the backward of a normalization needs, and it replaces the raw product in
// memory rather than adding to it. The gains' and shifts' gradients are summed row by row
// inside the backward pass (per-thread accumulators) instead of from stored per-step values.

#include "kernels.h"
#include "scan_common.h"

namespace rnnkit {

namespace {

constexpr double kLayerNormEps = 1e-5;

// Normalize one row in place: x <- (x - mean) / sqrt(var + eps); returns 1 / sqrt(var + eps).
template <typename T>
T normalize_row(T* __restrict__ x, int64_t n) {
  double sum = 0, square_sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += x[j];
  const double mean = sum / n;
  for (int64_t j = 0; j < n; ++j) square_sum += (x[j] - mean) * (x[j] - mean);
  const T rstd = T(1.0 / std::sqrt(square_sum / n + kLayerNormEps));
  const T m = T(mean);
  for (int64_t j = 0; j < n; ++j) x[j] = (x[j] - m) * rstd;
  return rstd;
}

// dx of y = gain * x_hat + shift given dy * gain (scaled), x_hat and 1/std:
// dx = rstd * (scaled - mean(scaled) - x_hat * mean(scaled * x_hat)).
template <typename T>
void normalize_row_backward(T* __restrict__ dx, const T* __restrict__ scaled,
                            const T* __restrict__ x_hat, T rstd, int64_t n) {
  double sum = 0, dot = 0;
  for (int64_t j = 0; j < n; ++j) {
    sum += scaled[j];
    dot += scaled[j] * x_hat[j];
  }
  const T mean = T(sum / n), mean_dot = T(dot / n);
  for (int64_t j = 0; j < n; ++j) dx[j] = rstd * (scaled[j] - mean - x_hat[j] * mean_dot);
}

template <typename T>
void scale(T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ gain,
           int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = x[j] * gain[j];
}

// a = x + gain * x_hat + shift
template <typename T>
void add_normalized(T* __restrict__ a, const T* __restrict__ x, const T* __restrict__ x_hat,
                    const T* __restrict__ gain, const T* __restrict__ shift, int64_t n) {
  for (int64_t j = 0; j < n; ++j) a[j] = x[j] + gain[j] * x_hat[j] + shift[j];
}

// out = tanh(gain * x_hat + shift)
template <typename T>
void normalized_tanh(T* __restrict__ out, const T* __restrict__ x_hat,
                     const T* __restrict__ gain, const T* __restrict__ shift, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = std::tanh(gain[j] * x_hat[j] + shift[j]);
}

// h = o * tanh(gain * c_hat + shift)
template <typename T>
void ln_lstm_hidden(T* __restrict__ h, const T* __restrict__ o, const T* __restrict__ c_hat,
                    const T* __restrict__ gain, const T* __restrict__ shift, int64_t n) {
  for (int64_t j = 0; j < n; ++j) h[j] = o[j] * std::tanh(gain[j] * c_hat[j] + shift[j]);
}

// One row of the layer-normalized LSTM's gate gradients, up to the normalizations:
// d = [di | df | dg | do]; d_cnorm = dL/d(LN(c)); dc holds dL/dc_t from t+1 plus the cell
// normalization's part (added by the caller) and leaves as dL/dc_(t-1).
template <typename T>
void ln_lstm_output_grads(T* __restrict__ d_o, T* __restrict__ d_cnorm,
                          const T* __restrict__ grad_h, const T* __restrict__ tanh_cn,
                          const T* __restrict__ o, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    d_o[j] = grad_h[j] * tanh_cn[j] * o[j] * (1 - o[j]);
    d_cnorm[j] = grad_h[j] * o[j] * (1 - tanh_cn[j] * tanh_cn[j]);
  }
}

template <typename T>
void ln_lstm_cell_grads(T* __restrict__ d, T* __restrict__ dc, const T* __restrict__ dc_norm,
                        const T* __restrict__ a, const T* __restrict__ c_prev, int64_t H) {
  const T* ai = a; const T* af = a + H; const T* ag = a + 2 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T d_c = dc[j] + dc_norm[j];
    const T i = ai[j], f = af[j], g = ag[j];
    d[j] = d_c * g * i * (1 - i);
    d[H + j] = d_c * c_prev[j] * f * (1 - f);
    d[2 * H + j] = d_c * i * (1 - g * g);
    dc[j] = d_c * f;
  }
}

// acc_gain += dy * x_hat, acc_shift += dy: one row's share of a normalization's
// gain and shift gradients.
template <typename T>
void accumulate_norm_grads(T* __restrict__ acc_gain, T* __restrict__ acc_shift,
                           const T* __restrict__ dy, const T* __restrict__ x_hat, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    acc_gain[j] += dy[j] * x_hat[j];
    acc_shift[j] += dy[j];
  }
}

// Per-thread accumulators (threads, width), summed over threads at the end, so the
// normalizations' parameter gradients need no (time, batch, width) buffer.
inline Tensor per_thread_accumulators(const Tensor& like, int64_t width) {
  return at::zeros({at::get_num_threads(), width}, like.options());
}

template <typename T>
void sum_rows(T* __restrict__ out, const T* __restrict__ a, const T* __restrict__ b,
              int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = a[j] + b[j];
}

}  // namespace

// Returns {hs, cs, acts, rec_hat (T, B, 4H), cell_hat (T, B, H), rstd (T, B, 2)}.
// norm_hh is [gain; shift] (2, 4H), norm_cell (2, H).
std::vector<Tensor> layer_norm_lstm_forward(const Tensor& xproj, const Tensor& h0,
                                            const Tensor& c0, const Tensor& weight_hh,
                                            const Tensor& norm_hh, const Tensor& norm_cell,
                                            const OptTensor& mask,
                                            std::vector<int64_t> batch_sizes) {
  const int64_t time = xproj.size(0), batch = xproj.size(1), H = xproj.size(2) / 4;
  const bool ragged = !batch_sizes.empty();
  Tensor hs = buffer(xproj, {time + 1, batch, H}, false);
  Tensor cs = buffer(xproj, {time + 1, batch, H}, false);
  Tensor acts = buffer(xproj, {time, batch, 4 * H}, ragged);
  Tensor rec_hat = buffer(xproj, {time, batch, 4 * H}, ragged);
  Tensor cell_hat = buffer(xproj, {time, batch, H}, ragged);
  Tensor rstd = buffer(xproj, {time, batch, 2}, ragged);
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  const RecurrentProduct recurrent(weight_hh, batch);
  for (int64_t t = 0; t < time; ++t) {
    const int64_t n = active(batch_sizes, t, batch);
    carry_inactive(hs, t, n);
    carry_inactive(cs, t, n);
    recurrent.into(rec_hat[t].narrow(0, 0, n), Tensor(),
                   recurrent_input(hs[t].narrow(0, 0, n), mask, n));
    AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "layer_norm_lstm_forward", [&] {
      const scalar_t* X = xproj[t].data_ptr<scalar_t>();
      scalar_t* RH = rec_hat[t].data_ptr<scalar_t>();
      scalar_t* A = acts[t].data_ptr<scalar_t>();
      scalar_t* CH = cell_hat[t].data_ptr<scalar_t>();
      scalar_t* RS = rstd[t].data_ptr<scalar_t>();
      const scalar_t* CP = cs[t].data_ptr<scalar_t>();
      scalar_t* C = cs[t + 1].data_ptr<scalar_t>();
      scalar_t* HN = hs[t + 1].data_ptr<scalar_t>();
      const scalar_t* GH = norm_hh.data_ptr<scalar_t>();
      const scalar_t* GC = norm_cell.data_ptr<scalar_t>();
      for_rows(n, 4 * H, [&](int64_t r) {
        scalar_t* a = A + r * 4 * H;
        RS[2 * r] = normalize_row(RH + r * 4 * H, 4 * H);
        add_normalized(a, X + r * 4 * H, RH + r * 4 * H, GH, GH + 4 * H, 4 * H);
        sigmoid_inplace(a, 2 * H);
        tanh_inplace(a + 2 * H, H);
        sigmoid_inplace(a + 3 * H, H);
        scalar_t* c = C + r * H;
        lstm_cell(c, a + H, CP + r * H, a, a + 2 * H, H);
        std::copy(c, c + H, CH + r * H);
        RS[2 * r + 1] = normalize_row(CH + r * H, H);
        ln_lstm_hidden(HN + r * H, a + 3 * H, CH + r * H, GC, GC + H, H);
      });
    });
  }
  return {hs, cs, acts, rec_hat, cell_hat, rstd};
}

// Returns {d_pre (T, B, 4H), dh0, dc0, d_weight_hh (4H, H), d_norm_hh (2, 4H), d_norm_cell
// (2, H)}: the gradients of the gates' pre-activations, of the initial state, of W_hh, and
// of the two normalizations' gains and shifts.
std::vector<Tensor> layer_norm_lstm_backward(const Tensor& grad_output, Tensor dh, Tensor dc,
                                             const Tensor& states, const Tensor& cs,
                                             const Tensor& acts,
                                             const Tensor& rec_hat, const Tensor& cell_hat,
                                             const Tensor& rstd, const Tensor& weight_hh,
                                             const Tensor& norm_hh, const Tensor& norm_cell,
                                             const OptTensor& mask,
                                             std::vector<int64_t> batch_sizes) {
  const int64_t time = acts.size(0), batch = acts.size(1), H = acts.size(2) / 4;
  const bool ragged = !batch_sizes.empty();
  Tensor d_pre = buffer(acts, acts.sizes(), ragged);
  ChunkedWeightGrad weight_grad(states, mask, 4 * H);
  Tensor accumulators = per_thread_accumulators(acts, 10 * H);  // gains, shifts: 4H, 4H, H, H
  dh = dh.contiguous().clone();
  dc = dc.contiguous().clone();
  const Tensor go = grad_output.contiguous();
  const RecurrentProduct into_h(weight_hh.t(), batch);
  for (int64_t t = time - 1; t >= 0; --t) {
    const int64_t n = active(batch_sizes, t, batch);
    Tensor d_rec = weight_grad.slot(t, n);
    AT_DISPATCH_FLOATING_TYPES(acts.scalar_type(), "layer_norm_lstm_backward", [&] {
      const scalar_t* A = acts[t].data_ptr<scalar_t>();
      const scalar_t* RH = rec_hat[t].data_ptr<scalar_t>();
      const scalar_t* CH = cell_hat[t].data_ptr<scalar_t>();
      const scalar_t* RS = rstd[t].data_ptr<scalar_t>();
      const scalar_t* CP = cs[t].data_ptr<scalar_t>();
      const scalar_t* G = go[t].data_ptr<scalar_t>();
      const scalar_t* GH = norm_hh.data_ptr<scalar_t>();
      const scalar_t* GC = norm_cell.data_ptr<scalar_t>();
      scalar_t* DH = dh.data_ptr<scalar_t>();
      scalar_t* DC = dc.data_ptr<scalar_t>();
      scalar_t* D = d_pre[t].data_ptr<scalar_t>();
      scalar_t* DR = d_rec.data_ptr<scalar_t>();
      at::parallel_for(0, n, std::max<int64_t>(1, 16384 / (4 * H)), [&](int64_t begin,
                                                                         int64_t end) {
        std::vector<scalar_t> scratch(8 * H);
        scalar_t* grad_h = scratch.data();
        scalar_t* tanh_cn = grad_h + H;
        scalar_t* dc_norm = tanh_cn + H;
        scalar_t* d_cnorm = dc_norm + H;
        scalar_t* scaled = d_cnorm + H;  // 4H: the cell's (H), then the recurrent one's
        scalar_t* acc = accumulators[at::get_thread_num()].data_ptr<scalar_t>();
        for (int64_t r = begin; r < end; ++r) {
          const scalar_t* a = A + r * 4 * H;
          const scalar_t* c_hat = CH + r * H;
          sum_rows(grad_h, DH + r * H, G + r * H, H);
          normalized_tanh(tanh_cn, c_hat, GC, GC + H, H);
          scalar_t* d = D + r * 4 * H;
          ln_lstm_output_grads(d + 3 * H, d_cnorm, grad_h, tanh_cn, a + 3 * H, H);
          accumulate_norm_grads(acc + 8 * H, acc + 9 * H, d_cnorm, c_hat, H);
          scale(scaled, d_cnorm, GC, H);
          normalize_row_backward(dc_norm, scaled, c_hat, RS[2 * r + 1], H);
          ln_lstm_cell_grads(d, DC + r * H, dc_norm, a, CP + r * H, H);
          accumulate_norm_grads(acc, acc + 4 * H, d, RH + r * 4 * H, 4 * H);
          scale(scaled, d, GH, 4 * H);
          normalize_row_backward(DR + r * 4 * H, scaled, RH + r * 4 * H, RS[2 * r], 4 * H);
        }
      });
    });
    Tensor dh_n = dh.narrow(0, 0, n);
    into_h.into(dh_n, Tensor(), d_rec.narrow(0, 0, n));
    if (mask.has_value()) dh_n.mul_(mask->narrow(0, 0, n));
    weight_grad.done(t);
  }
  const Tensor sums = accumulators.sum(0);
  return {d_pre, dh, dc, weight_grad.result(), sums.narrow(0, 0, 8 * H).view({2, 4 * H}),
          sums.narrow(0, 8 * H, 2 * H).view({2, H})};
}

// Returns {hs, acts, rec_hat (T, B, 3H), rstd (T, B, 1)}; norm_hh is [gain; shift] (2, 3H)
// and bias_n the candidate's recurrent bias b_hn (H). The candidate's recurrent term
// LN(W_hh h)_n + b_hn is recomputed in the backward rather than kept.
std::vector<Tensor> layer_norm_gru_forward(const Tensor& xproj, const Tensor& h0,
                                           const Tensor& weight_hh, const Tensor& norm_hh,
                                           const Tensor& bias_n, const OptTensor& mask,
                                           std::vector<int64_t> batch_sizes) {
  const int64_t time = xproj.size(0), batch = xproj.size(1), H = xproj.size(2) / 3;
  const bool ragged = !batch_sizes.empty();
  Tensor hs = buffer(xproj, {time + 1, batch, H}, false);
  Tensor acts = buffer(xproj, {time, batch, 3 * H}, ragged);
  Tensor rec_hat = buffer(xproj, {time, batch, 3 * H}, ragged);
  Tensor rstd = buffer(xproj, {time, batch, 1}, ragged);
  hs[0].copy_(h0);
  const RecurrentProduct recurrent(weight_hh, batch);
  for (int64_t t = 0; t < time; ++t) {
    const int64_t n = active(batch_sizes, t, batch);
    carry_inactive(hs, t, n);
    recurrent.into(rec_hat[t].narrow(0, 0, n), Tensor(),
                   recurrent_input(hs[t].narrow(0, 0, n), mask, n));
    AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "layer_norm_gru_forward", [&] {
      const scalar_t* X = xproj[t].data_ptr<scalar_t>();
      scalar_t* RH = rec_hat[t].data_ptr<scalar_t>();
      scalar_t* A = acts[t].data_ptr<scalar_t>();
      scalar_t* RS = rstd[t].data_ptr<scalar_t>();
      const scalar_t* HP = hs[t].data_ptr<scalar_t>();
      scalar_t* HN = hs[t + 1].data_ptr<scalar_t>();
      const scalar_t* GH = norm_hh.data_ptr<scalar_t>();
      const scalar_t* BN = bias_n.data_ptr<scalar_t>();
      at::parallel_for(0, n, std::max<int64_t>(1, 16384 / (3 * H)), [&](int64_t begin,
                                                                         int64_t end) {
        std::vector<scalar_t> term(H);
        for (int64_t r = begin; r < end; ++r) {
          scalar_t* a = A + r * 3 * H;
          const scalar_t* x = X + r * 3 * H;
          scalar_t* x_hat = RH + r * 3 * H;
          RS[r] = normalize_row(x_hat, 3 * H);
          add_normalized(a, x, x_hat, GH, GH + 3 * H, 2 * H);
          sigmoid_inplace(a, 2 * H);
          add_normalized(term.data(), BN, x_hat + 2 * H, GH + 2 * H, GH + 5 * H, H);
          for (int64_t j = 0; j < H; ++j) {
            a[2 * H + j] = std::tanh(x[2 * H + j] + a[j] * term[j]);
          }
          gru_hidden(HN + r * H, a + 2 * H, a + H, HP + r * H, H);
        }
      });
    });
  }
  return {hs, acts, rec_hat, rstd};
}

// Returns {d_pre (T, B, 3H), dh0, d_weight_hh (3H, H), d_norm_hh (2, 3H)}: gradients of
// the x-side pre-activations, of the initial state, of W_hh, and of the normalization's
// gain and shift (the shift's n block is also b_hn's gradient).
std::vector<Tensor> layer_norm_gru_backward(const Tensor& grad_output, Tensor dh,
                                            const Tensor& hs, const Tensor& acts,
                                            const Tensor& rec_hat, const Tensor& rstd,
                                            const Tensor& weight_hh, const Tensor& norm_hh,
                                            const Tensor& bias_n, const OptTensor& mask,
                                            std::vector<int64_t> batch_sizes) {
  const int64_t time = acts.size(0), batch = acts.size(1), H = acts.size(2) / 3;
  const bool ragged = !batch_sizes.empty();
  Tensor d_pre = buffer(acts, acts.sizes(), ragged);
  ChunkedWeightGrad weight_grad(hs, mask, 3 * H);
  Tensor accumulators = per_thread_accumulators(acts, 6 * H);
  dh = dh.contiguous().clone();
  const Tensor go = grad_output.contiguous();
  const RecurrentProduct into_h(weight_hh.t(), batch);
  for (int64_t t = time - 1; t >= 0; --t) {
    const int64_t n = active(batch_sizes, t, batch);
    Tensor d_rec = weight_grad.slot(t, n);
    AT_DISPATCH_FLOATING_TYPES(acts.scalar_type(), "layer_norm_gru_backward", [&] {
      const scalar_t* A = acts[t].data_ptr<scalar_t>();
      const scalar_t* BN = bias_n.data_ptr<scalar_t>();
      const scalar_t* RH = rec_hat[t].data_ptr<scalar_t>();
      const scalar_t* RS = rstd[t].data_ptr<scalar_t>();
      const scalar_t* HP = hs[t].data_ptr<scalar_t>();
      const scalar_t* G = go[t].data_ptr<scalar_t>();
      const scalar_t* GH = norm_hh.data_ptr<scalar_t>();
      scalar_t* DH = dh.data_ptr<scalar_t>();
      scalar_t* D = d_pre[t].data_ptr<scalar_t>();
      scalar_t* DR = d_rec.data_ptr<scalar_t>();
      at::parallel_for(0, n, std::max<int64_t>(1, 16384 / (3 * H)), [&](int64_t begin,
                                                                         int64_t end) {
        std::vector<scalar_t> scratch(7 * H);
        scalar_t* d_norm = scratch.data();
        scalar_t* scaled = d_norm + 3 * H;
        scalar_t* term = scaled + 3 * H;
        scalar_t* acc = accumulators[at::get_thread_num()].data_ptr<scalar_t>();
        for (int64_t r = begin; r < end; ++r) {
          const scalar_t* x_hat = RH + r * 3 * H;
          add_normalized(term, BN, x_hat + 2 * H, GH + 2 * H, GH + 5 * H, H);
          gru_gate_grads<scalar_t, true>(D + r * 3 * H, d_norm, DH + r * H, G + r * H,
                                         A + r * 3 * H, term, HP + r * H, H);
          accumulate_norm_grads(acc, acc + 3 * H, d_norm, RH + r * 3 * H, 3 * H);
          scale(scaled, d_norm, GH, 3 * H);
          normalize_row_backward(DR + r * 3 * H, scaled, RH + r * 3 * H, RS[r], 3 * H);
        }
      });
    });
    Tensor through_product = into_h(d_rec.narrow(0, 0, n));
    if (mask.has_value()) through_product.mul_(mask->narrow(0, 0, n));
    dh.narrow(0, 0, n).add_(through_product);
    weight_grad.done(t);
  }
  return {d_pre, dh, weight_grad.result(), accumulators.sum(0).view({2, 3 * H})};
}

}  // namespace rnnkit
