// The Python module of rnnkit's C++ scan kernels (built by rnnkit/engine/native.py).
#include <torch/extension.h>

#include "kernels.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("lstm_forward", &rnnkit::lstm_forward, "LSTM scan forward");
  m.def("lstm_backward", &rnnkit::lstm_backward, "LSTM scan backward loop");
  m.def("lstm_gates_step", &rnnkit::lstm_gates_step,
        "one LSTM step from summed gate pre-activations (generation)");
  m.def("lstm_gates_step_", &rnnkit::lstm_gates_step_,
        "one LSTM step from summed gates, the state overwritten in its buffers (generation)");
  m.def("lstm_cell_step_", &rnnkit::lstm_cell_step_,
        "one LSTM layer step, the state overwritten in its buffers (generation)");
  m.def("for_rows_threads", &rnnkit::for_rows_threads,
        "how many intra-op threads the kernels' row loop runs on (a test's spy)");
  m.def("flush_denormals", &rnnkit::flush_denormals,
        "flush denormals (or stop) in the calling thread and every intra-op thread");
  m.def("denormal_flushing_threads", &rnnkit::denormal_flushing_threads,
        "how many intra-op threads flush denormals (a test's spy)");
  m.def("rnn_forward", &rnnkit::rnn_forward, "Elman RNN scan forward");
  m.def("gru_forward", &rnnkit::gru_forward, "GRU scan forward");
  m.def("gru_backward", &rnnkit::gru_backward, "GRU scan backward loop");
  m.def("layer_norm_lstm_forward", &rnnkit::layer_norm_lstm_forward,
        "layer-normalized LSTM scan forward");
  m.def("layer_norm_lstm_backward", &rnnkit::layer_norm_lstm_backward,
        "layer-normalized LSTM scan backward loop");
  m.def("layer_norm_gru_forward", &rnnkit::layer_norm_gru_forward,
        "layer-normalized GRU scan forward");
  m.def("layer_norm_gru_backward", &rnnkit::layer_norm_gru_backward,
        "layer-normalized GRU scan backward loop");
  m.def("linear_scan_forward", &rnnkit::linear_scan_forward,
        "h_t = a_t h_(t-1) + b_t for every step (minGRU, minLSTM)");
  m.def("linear_scan_backward", &rnnkit::linear_scan_backward,
        "gradients of the linear recurrence");
}
