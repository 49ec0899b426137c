"""Hand-written references for the trainer's tests: truncated BPTT with SGD, and the
validation loss, written from the algorithm with NumPy and a plain model call.

Nothing here calls the code these references check (the trainer, ``rnnkit.training.tasks``,
``rnnkit.data.batching``): the text is split, encoded and cut into streams and windows with
NumPy, the loss is a NumPy log-softmax, and the SGD update is ``p -= lr * grad``. The model
itself (:class:`rnnkit.models.LanguageModel`) is only the function being trained; its own
correctness is tested elsewhere against torch.nn.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnkit.models import LanguageModel, ModelConfig


def char_ids(text: str) -> tuple[dict[str, int], np.ndarray]:
    """A character vocabulary (sorted characters) and the ids of ``text``."""
    table = {char: index for index, char in enumerate(sorted(set(text)))}
    return table, np.array([table[char] for char in text], dtype=np.int64)


def split_by_position(ids: np.ndarray, valid_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The first ``1 - valid_fraction`` of the ids for training, the rest for validation."""
    cut = round(len(ids) * (1 - valid_fraction))
    return ids[:cut], ids[cut:]


def streams_of(ids: np.ndarray, rows: int) -> np.ndarray:
    """``ids`` cut into ``rows`` contiguous rows of equal length, the remainder dropped."""
    length = len(ids) // rows
    return ids[: rows * length].reshape(rows, length)


def initial_model(model_config: ModelConfig, seed: int) -> LanguageModel:
    """The model a run seeded with ``seed`` starts from: the trainer seeds torch with the
    run's seed and builds the model first."""
    torch.manual_seed(seed)
    return LanguageModel(model_config)


def summed_nll(logits: torch.Tensor, targets: np.ndarray) -> float:
    """Summed negative log-likelihood of ``targets`` under ``logits``, in NumPy float64."""
    scores = logits.detach().double().numpy().reshape(-1, logits.shape[-1])
    scores = scores - scores.max(axis=1, keepdims=True)
    log_probabilities = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(scores)), targets.reshape(-1)].sum())


def sgd_truncated_bptt(model: LanguageModel, train_ids: np.ndarray, *, rows: int,
                       seq_len: int, steps: int, lr: float, carry: bool) -> LanguageModel:
    """``steps`` SGD updates of truncated BPTT over ``rows`` parallel streams.

    With ``carry`` each window starts from the previous window's final state (detached),
    and a new epoch starts from a zero state; without it every window starts from zero.
    The loss is the mean cross-entropy over the window's targets (written out by hand).
    """
    streams = torch.from_numpy(streams_of(train_ids, rows))
    positions = streams.shape[1] - 1
    per_epoch = -(-positions // seq_len)
    state = None
    model.train()
    for step in range(steps):
        window = step % per_epoch
        if window == 0:
            state = None
        start = window * seq_len
        stop = min(start + seq_len, positions)
        inputs, targets = streams[:, start:stop], streams[:, start + 1 : stop + 1]
        logits, end_state = model(inputs, state)
        log_probabilities = logits - logits.logsumexp(dim=-1, keepdim=True)
        picked = log_probabilities.gather(-1, targets.unsqueeze(-1))
        loss = -picked.sum() / targets.numel()
        model.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= lr * parameter.grad
        if carry:
            state = (tuple(part.detach() for part in end_state)
                     if isinstance(end_state, tuple) else end_state.detach())
    return model


@torch.no_grad()
def stateful_validation_loss(model: LanguageModel, ids: np.ndarray, rows: int) -> float:
    """Mean loss of ``ids`` laid out as ``rows`` streams, each read from its first token to
    its last in one forward pass (the state carried through the whole row)."""
    model.eval()
    streams = streams_of(ids, rows)
    logits, _ = model(torch.from_numpy(streams[:, :-1].copy()))
    return summed_nll(logits, streams[:, 1:]) / streams[:, 1:].size


@torch.no_grad()
def reset_validation_loss(model: LanguageModel, ids: np.ndarray, rows: int,
                          seq_len: int) -> float:
    """The same streams, but every ``seq_len`` window started from a zero state: what a
    validation that drops the carried state measures (the test's control)."""
    model.eval()
    streams = streams_of(ids, rows)
    total, count = 0.0, 0
    for start in range(0, streams.shape[1] - 1, seq_len):
        stop = min(start + seq_len, streams.shape[1] - 1)
        logits, _ = model(torch.from_numpy(streams[:, start:stop].copy()))
        total += summed_nll(logits, streams[:, start + 1 : stop + 1])
        count += streams[:, start + 1 : stop + 1].size
    return total / count


@torch.no_grad()
def fixed_context_loss(model: LanguageModel, ids: np.ndarray, window: int) -> float:
    """Mean loss over non-overlapping windows of ``window`` targets, each from a zero state."""
    model.eval()
    count = (len(ids) - 1) // window
    inputs = ids[: count * window].reshape(count, window)
    targets = ids[1 : count * window + 1].reshape(count, window)
    logits, _ = model(torch.from_numpy(inputs.copy()))
    return summed_nll(logits, targets) / targets.size


def evaluation_rows(tokens: int, batch_size: int) -> int:
    """How many streams validation lays a text of ``tokens`` out as: ``batch_size``, fewer
    when the text cannot give every stream two tokens."""
    return min(batch_size, max(1, (tokens - 1) // 2))


def max_difference(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference over the tensors both dicts name (same keys asserted)."""
    assert first.keys() == second.keys(), (sorted(first), sorted(second))
    return max(float((first[name].double() - second[name].double()).abs().max())
               for name in first)
