"""linear_cross_entropy against torch's own cross-entropy of the full logits."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.models.chunked_softmax import linear_cross_entropy

VOCAB, FEATURES, TOKENS = 1000, 24, 37


def problem(dtype: torch.dtype = torch.float32, bias: bool = True):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(TOKENS, FEATURES, generator=generator, dtype=dtype)
    weight = torch.randn(VOCAB, FEATURES, generator=generator, dtype=dtype) * 0.5
    offsets = torch.randn(VOCAB, generator=generator, dtype=dtype) if bias else None
    targets = torch.randint(0, VOCAB, (TOKENS,), generator=generator)
    targets[:6] = torch.tensor([0, VOCAB - 1, 299, 300, 599, 600])  # chunk edges at 300
    tensors = [t.requires_grad_() for t in (features, weight, offsets) if t is not None]
    return tensors, offsets, targets


def loss_and_gradients(loss_of, tensors):
    loss = loss_of()
    gradients = torch.autograd.grad(loss, tensors)
    return loss.detach(), gradients


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("chunk_size", [300, 1000, 4096])
def test_equals_the_full_softmax_in_loss_and_gradients(bias: bool, chunk_size: int) -> None:
    tensors, offsets, targets = problem(bias=bias)
    features, weight = tensors[:2]
    expected = loss_and_gradients(
        lambda: F.cross_entropy(F.linear(features, weight, offsets), targets), tensors)
    chunked = loss_and_gradients(
        lambda: linear_cross_entropy(features, weight, offsets, targets,
                                     chunk_size=chunk_size), tensors)
    torch.testing.assert_close(chunked[0], expected[0], rtol=1e-5, atol=1e-5)
    for gradient, reference in zip(chunked[1], expected[1], strict=True):
        torch.testing.assert_close(gradient, reference, rtol=1e-5, atol=1e-5)


def test_equals_the_full_softmax_to_float64_rounding() -> None:
    tensors, offsets, targets = problem(torch.float64)
    features, weight = tensors[:2]
    expected = loss_and_gradients(
        lambda: F.cross_entropy(F.linear(features, weight, offsets), targets), tensors)
    chunked = loss_and_gradients(
        lambda: linear_cross_entropy(features, weight, offsets, targets, chunk_size=300),
        tensors)
    torch.testing.assert_close(chunked[0], expected[0], rtol=1e-12, atol=1e-12)
    for gradient, reference in zip(chunked[1], expected[1], strict=True):
        torch.testing.assert_close(gradient, reference, rtol=1e-12, atol=1e-12)


def test_under_bf16_autocast_the_products_run_in_bf16_and_the_rest_in_float32() -> None:
    tensors, offsets, targets = problem()
    features, weight = tensors[:2]
    full = loss_and_gradients(
        lambda: F.cross_entropy(F.linear(features, weight, offsets), targets), tensors)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        chunked = loss_and_gradients(
            lambda: linear_cross_entropy(features, weight, offsets, targets, chunk_size=300),
            tensors)
    assert chunked[0].dtype == torch.float32
    assert chunked[0] != full[0]  # bf16 products really ran
    torch.testing.assert_close(chunked[0], full[0], rtol=1e-2, atol=0)
    for gradient, reference in zip(chunked[1], full[1], strict=True):
        assert gradient.dtype == torch.float32
        torch.testing.assert_close(gradient, reference, rtol=0.05, atol=0.05 * float(
            reference.abs().max()))


@pytest.mark.parametrize(("arguments", "message"), [
    (dict(features=torch.zeros(3, 5)), r"features \(tokens, n\) and weight \(vocab, n\)"),
    (dict(targets=torch.zeros(4, dtype=torch.long)), r"targets of shape \(3,\), got \(4,\)"),
    (dict(chunk_size=0), "chunk_size to be an int >= 1, got 0"),
])
def test_bad_arguments_are_named(arguments, message) -> None:
    values = dict(features=torch.zeros(3, 4), weight=torch.zeros(10, 4), bias=None,
                  targets=torch.zeros(3, dtype=torch.long), chunk_size=4)
    values.update(arguments)
    chunk_size = values.pop("chunk_size")
    with pytest.raises(ValueError, match=message):
        linear_cross_entropy(**values, chunk_size=chunk_size)
