"""Figures of merit: language (loss, bits, perplexity), labels (accuracy, F1), sequences
(WER, PER, BLEU, chrF) and forecasts (MAE, RMSE, MASE)."""
