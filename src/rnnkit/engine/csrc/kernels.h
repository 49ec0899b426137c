// The kernels rnnkit's C++ extension exports (see scan.cpp, layernorm.cpp,
// linear_scan.cpp, step.cpp and denormals.cpp).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace rnnkit {

using OptionalTensor = c10::optional<at::Tensor>;

std::vector<at::Tensor> lstm_forward(const at::Tensor& xproj, const at::Tensor& h0,
                                     const at::Tensor& c0, const at::Tensor& weight_hh,
                                     const OptionalTensor& peephole, const OptionalTensor& mask,
                                     std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> lstm_backward(const at::Tensor& grad_output, at::Tensor dh,
                                      at::Tensor dc, const at::Tensor& cs,
                                      const at::Tensor& acts, const at::Tensor& weight_hh,
                                      const OptionalTensor& peephole,
                                      const OptionalTensor& mask,
                                      std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> lstm_gates_step(at::Tensor gates, const at::Tensor& c_prev);
void lstm_gates_step_(at::Tensor gates, at::Tensor h, at::Tensor c);
void lstm_cell_step_(const at::Tensor& x, const at::Tensor& weight_ih_t,
                     const at::Tensor& weight_hh_t, const at::Tensor& bias_ih,
                     const at::Tensor& bias_hh, at::Tensor h, at::Tensor c,
                     at::Tensor input_gates, at::Tensor gates);
int64_t for_rows_threads(int64_t rows, int64_t width);
int64_t flush_denormals(bool enabled);
int64_t denormal_flushing_threads();
std::vector<at::Tensor> rnn_forward(const at::Tensor& xproj, const at::Tensor& h0,
                                    const at::Tensor& weight_hh, bool relu,
                                    const OptionalTensor& mask,
                                    std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> gru_forward(const at::Tensor& xproj, const at::Tensor& h0,
                                    const at::Tensor& weight_hh, const OptionalTensor& bias_n,
                                    const OptionalTensor& mask,
                                    std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> gru_backward(const at::Tensor& grad_output, at::Tensor dh,
                                     const at::Tensor& hs, const at::Tensor& acts,
                                     const at::Tensor& terms, const at::Tensor& weight_hh,
                                     bool reset_after, const OptionalTensor& mask,
                                     std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> layer_norm_lstm_forward(
    const at::Tensor& xproj, const at::Tensor& h0, const at::Tensor& c0,
    const at::Tensor& weight_hh, const at::Tensor& norm_hh, const at::Tensor& norm_cell,
    const OptionalTensor& mask, std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> layer_norm_lstm_backward(
    const at::Tensor& grad_output, at::Tensor dh, at::Tensor dc, const at::Tensor& states,
    const at::Tensor& cs,
    const at::Tensor& acts, const at::Tensor& rec_hat, const at::Tensor& cell_hat,
    const at::Tensor& rstd, const at::Tensor& weight_hh, const at::Tensor& norm_hh,
    const at::Tensor& norm_cell, const OptionalTensor& mask, std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> layer_norm_gru_forward(
    const at::Tensor& xproj, const at::Tensor& h0, const at::Tensor& weight_hh,
    const at::Tensor& norm_hh, const at::Tensor& bias_n, const OptionalTensor& mask,
    std::vector<int64_t> batch_sizes);
std::vector<at::Tensor> layer_norm_gru_backward(
    const at::Tensor& grad_output, at::Tensor dh, const at::Tensor& hs, const at::Tensor& acts,
    const at::Tensor& rec_hat, const at::Tensor& rstd, const at::Tensor& weight_hh,
    const at::Tensor& norm_hh, const at::Tensor& bias_n, const OptionalTensor& mask,
    std::vector<int64_t> batch_sizes);
at::Tensor linear_scan_forward(const at::Tensor& a, const at::Tensor& b, const at::Tensor& h0);
std::vector<at::Tensor> linear_scan_backward(const at::Tensor& a, const at::Tensor& states,
                                             const at::Tensor& h0, const at::Tensor& grad);

}  // namespace rnnkit
