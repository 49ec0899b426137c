"""Training state without pickle: JSON codec, optimizer, scheduler and RNG round trips.

Every round trip goes through real bytes (``safetensors.torch.save``/``load`` for tensors,
strict ``json.dumps``/``loads`` for the rest), as a checkpoint does, and is checked against
the original objects: a restored optimizer must take the very same next steps.
"""

import copy
import json
import math
import random

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from rnnkit.training.state import (
    STATE_FORMAT_VERSION,
    capture_rng_state,
    from_json_safe,
    optimizer_state_from_safe,
    optimizer_state_to_safe,
    restore_rng_state,
    scheduler_state_from_safe,
    scheduler_state_to_safe,
    state_from_safe,
    state_to_safe,
    to_json_safe,
)


def through_bytes(tensors: dict, meta):
    """What a checkpoint does to (tensors, meta): safetensors bytes and strict JSON text."""
    tensors = safetensors.torch.load(safetensors.torch.save(tensors))
    meta = json.loads(json.dumps(meta, allow_nan=False))
    return tensors, meta


def json_trip(value):
    return from_json_safe(json.loads(json.dumps(to_json_safe(value), allow_nan=False)))


def same(a, b) -> bool:
    """Deep equality that also checks types and treats nan as equal to nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    return a == b


# --- the JSON codec ----------------------------------------------------------------------
def test_same_helper_can_fail() -> None:
    assert not same(0, 0.0)
    assert not same((1, 2), [1, 2])
    assert not same({1: "a"}, {"1": "a"})
    assert same(math.nan, math.nan)


@pytest.mark.parametrize("value", [
    math.inf, -math.inf, math.nan, (0.9, 0.999), {0: {"a": 1}, 1: {"b": 2.0}},
    {"best": math.inf, "mode": "min", "betas": (0.9, 0.999), "counts": {3: 4, 5: (6, 7)}},
    [1, 1.0, 0, 0.0, -0.0, None, True, False, "inf", "__float__"],
    {"nested": [({2: (math.inf, -math.inf)},)], (1, 2): "tuple key", None: 3},
    1e308, 5e-324, 2**70,
])
def test_json_round_trip_is_exact(value) -> None:
    assert same(json_trip(value), value)


def test_json_form_is_strict_and_documented() -> None:
    encoded = to_json_safe({"best": math.inf, "betas": (0.9, 0.999), "keys": {0: "a"}})
    assert encoded == {"best": {"__float__": "inf"}, "betas": {"__tuple__": [0.9, 0.999]},
                       "keys": {"__items__": [[0, "a"]]}}
    json.dumps(encoded, allow_nan=False)  # must not raise


def test_negative_zero_keeps_its_sign() -> None:
    assert math.copysign(1.0, json_trip(-0.0)) == -1.0


def test_numpy_scalars_become_python_numbers() -> None:
    encoded = to_json_safe({"a": np.float32(0.5), "b": np.int64(3), "c": np.float64(np.inf)})
    assert same(encoded, {"a": 0.5, "b": 3, "c": {"__float__": "inf"}})


def test_encoding_and_decoding_are_idempotent() -> None:
    value = {"x": (1, math.inf), 2: [math.nan]}
    once = to_json_safe(value)
    assert to_json_safe(once) == once
    assert same(from_json_safe(from_json_safe(once)), from_json_safe(once))
    assert same(from_json_safe(once), value)


def test_tensor_in_json_raises_naming_place() -> None:
    with pytest.raises(TypeError, match=r"'groups\.0\.w'.*tensor"):
        to_json_safe({"groups": [{"w": torch.zeros(2)}]})


def test_unsupported_type_raises_naming_place_and_type() -> None:
    with pytest.raises(TypeError, match=r"'a\.b'.*set is not one of"):
        to_json_safe({"a": {"b": {1, 2}}})


def test_bad_float_marker_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected 'inf', '-inf' or 'nan'"):
        from_json_safe({"__float__": "Infinity"})


def test_state_to_safe_names_tensors_and_stores_shared_once() -> None:
    shared = torch.arange(4.0)
    state = {"a": shared, "b": [shared, torch.ones(2)], "c": (1, torch.zeros(1))}
    tensors, meta = state_to_safe(state)
    assert sorted(tensors) == ["a", "b.1", "c.1"]
    assert meta["b"][0] == {"__tensor__": "a"}
    back = state_from_safe(*through_bytes(tensors, meta))
    assert back["b"][0] is back["a"]  # shared again after loading
    assert same(back, {"a": shared, "b": [shared, torch.ones(2)], "c": (1, torch.zeros(1))})


def test_state_from_safe_missing_tensor_raises() -> None:
    with pytest.raises(ValueError, match=r"refers to tensor 'x'.*not among the 0 tensors"):
        state_from_safe({}, {"__tensor__": "x"})


# --- optimizer ---------------------------------------------------------------------------
def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def batches(count: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(5, 4, generator=generator, dtype=torch.float64),
             torch.randn(5, 3, generator=generator, dtype=torch.float64)) for _ in range(count)]


def train(model: nn.Module, optimizer: torch.optim.Optimizer, data) -> None:
    for inputs, targets in data:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()


OPTIMIZERS = {
    "sgd-momentum": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9,
                                                   weight_decay=1e-3),
    "sgd-nesterov": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-2, betas=(0.8, 0.99)),
    "adam-amsgrad": lambda params: torch.optim.Adam(params, lr=1e-2, amsgrad=True),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_round_trip_continues_identically(name: str) -> None:
    build = OPTIMIZERS[name]
    model = make_model()
    optimizer = build(model.parameters())
    train(model, optimizer, batches(3, seed=1))

    original_state = copy.deepcopy(optimizer.state_dict())
    tensors, meta = optimizer_state_to_safe(optimizer.state_dict())
    assert meta["kind"] == "optimizer" and meta["format_version"] == STATE_FORMAT_VERSION
    tensors, meta = through_bytes(tensors, meta)

    twin = copy.deepcopy(model)
    fresh = build(twin.parameters())
    restored = optimizer_state_from_safe(tensors, meta)
    assert same(restored, original_state)  # types too: tuples, step tensors, ints
    fresh.load_state_dict(restored)

    more = batches(2, seed=2)
    train(model, optimizer, more)
    train(twin, fresh, more)
    moved = False
    for (key, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items(),
                                   strict=True):
        assert torch.equal(a, b), key
        moved |= not torch.equal(a, make_model().state_dict()[key])
    assert moved


def test_optimizer_round_trip_is_needed() -> None:
    """Control: a fresh optimizer without the saved state takes different steps."""
    build = OPTIMIZERS["adam"]
    model = make_model()
    optimizer = build(model.parameters())
    train(model, optimizer, batches(3, seed=1))
    twin = copy.deepcopy(model)
    fresh = build(twin.parameters())
    more = batches(2, seed=2)
    train(model, optimizer, more)
    train(twin, fresh, more)
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(),
                                                         strict=True))


def test_optimizer_state_with_tensor_lr_and_inf() -> None:
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01), eps=1e-8)
    optimizer.param_groups[0]["max_grad_norm"] = math.inf
    train(model, optimizer, batches(1, seed=3))
    state = optimizer.state_dict()
    back = optimizer_state_from_safe(*through_bytes(*optimizer_state_to_safe(state)))
    assert same(back, copy.deepcopy(state))


def test_optimizer_state_to_safe_rejects_non_state_dict() -> None:
    with pytest.raises(ValueError, match=r"expected optimizer\.state_dict"):
        optimizer_state_to_safe({"state": {}})


def test_unwrap_checks_kind_and_version() -> None:
    tensors, meta = optimizer_state_to_safe(torch.optim.SGD([nn.Parameter(torch.ones(1))],
                                                            lr=0.1).state_dict())
    with pytest.raises(ValueError, match="expected lr_scheduler state meta"):
        scheduler_state_from_safe(tensors, meta)
    newer = dict(meta, format_version=STATE_FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match=r"format_version.*upgrade rnnkit"):
        optimizer_state_from_safe(tensors, newer)


# --- schedulers --------------------------------------------------------------------------
def _plateau(optimizer):
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)


SCHEDULERS = {
    "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10),
    "plateau": _plateau,
    "sequential": lambda opt: torch.optim.lr_scheduler.SequentialLR(
        opt, [torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2),
              torch.optim.lr_scheduler.StepLR(opt, step_size=2)], milestones=[2]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_round_trip_continues_identically(name: str) -> None:
    build = SCHEDULERS[name]
    optimizer = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=1.0)
    scheduler = build(optimizer)
    losses = [3.0, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9]

    def advance(sched, opt, values) -> list[float]:
        rates = []
        for loss in values:
            opt.step()
            sched.step(loss) if name == "plateau" else sched.step()
            rates.append(opt.param_groups[0]["lr"])
        return rates

    advance(scheduler, optimizer, losses[:3])
    state = scheduler.state_dict()
    if name == "plateau":
        assert "best" in state
    back = scheduler_state_from_safe(*through_bytes(*scheduler_state_to_safe(state)))
    assert same(back, copy.deepcopy(state))

    twin_optimizer = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=1.0)
    twin = build(twin_optimizer)
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    twin.load_state_dict(back)
    assert advance(twin, twin_optimizer, losses[3:]) == advance(scheduler, optimizer,
                                                                losses[3:])


def test_plateau_initial_inf_best_round_trips() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=1.0)
    state = _plateau(optimizer).state_dict()
    assert state["best"] == math.inf
    tensors, meta = scheduler_state_to_safe(state)
    assert meta["state"]["best"] == {"__float__": "inf"}
    back = scheduler_state_from_safe(*through_bytes(tensors, meta))
    assert back["best"] == math.inf and same(back, state)


def test_scheduler_state_to_safe_rejects_non_dict() -> None:
    with pytest.raises(ValueError, match=r"expected scheduler\.state_dict"):
        scheduler_state_to_safe([1, 2])  # type: ignore[arg-type]


# --- random number generators ------------------------------------------------------------
def draw() -> tuple:
    return (torch.rand(5, dtype=torch.float64), torch.randint(0, 10**6, (3,)),
            [random.random() for _ in range(3)], random.gauss(0.0, 1.0),
            np.random.rand(3), np.random.randn(3))


def assert_draws_equal(first: tuple, second: tuple) -> None:
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert first[2] == second[2] and first[3] == second[3]
    np.testing.assert_array_equal(first[4], second[4])
    np.testing.assert_array_equal(first[5], second[5])


@pytest.mark.parametrize("with_cached_gaussians", [False, True])
def test_rng_round_trip(with_cached_gaussians: bool) -> None:
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    if with_cached_gaussians:  # leave a second gaussian cached in python and numpy
        random.gauss(0.0, 1.0)
        np.random.randn(1)
    tensors, meta = through_bytes(*capture_rng_state())
    assert {"torch.cpu", "python", "numpy"} <= set(tensors)
    first = draw()
    second = draw()
    restore_rng_state(tensors, meta)
    assert_draws_equal(draw(), first)
    with pytest.raises(AssertionError):  # control: the draws do differ from one another
        assert_draws_equal(first, second)


def test_restore_rng_rejects_other_meta() -> None:
    tensors, meta = capture_rng_state()
    with pytest.raises(ValueError, match="expected RNG state meta"):
        restore_rng_state(tensors, dict(meta, kind="optimizer"))
