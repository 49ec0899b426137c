"""The CRF against brute force: log Z is the log-sum over every tag sequence, Viterbi's
path is the best of them, and a padded batch gives each row what it gives alone."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.models.crf import LinearChainCRF


def brute_force(crf: LinearChainCRF, emissions: torch.Tensor) -> tuple[float, list[int]]:
    """log Z and the best path of one row (time, tags) by enumerating every sequence."""
    start, end, moves = (crf.start.tolist(), crf.end.tolist(), crf.transitions.tolist())
    e = emissions.tolist()
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=len(e)):
        score = start[path[0]] + end[path[-1]] + sum(e[t][tag] for t, tag in enumerate(path))
        score += sum(moves[a][b] for a, b in itertools.pairwise(path))
        scores[path] = score
    log_z = math.log(sum(math.exp(s) for s in scores.values()))
    return log_z, list(max(scores, key=scores.get))


@pytest.mark.parametrize("seed", range(3))
def test_forward_algorithm_and_viterbi_equal_brute_force(seed: int) -> None:
    torch.manual_seed(seed)
    crf = LinearChainCRF(3).double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()  # larger than the init, so paths really differ
    emissions = torch.randn(3, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([4, 1, 3])
    log_z = crf.log_partition(emissions, lengths).detach()
    paths = crf.decode(emissions, lengths)
    for row, length in enumerate(lengths.tolist()):
        expected_z, expected_path = brute_force(crf, emissions[row, :length])
        assert math.isclose(float(log_z[row]), expected_z, rel_tol=0, abs_tol=1e-10)
        assert paths[row] == expected_path


def test_likelihood_of_every_sequence_sums_to_one_and_padding_is_ignored() -> None:
    torch.manual_seed(3)
    crf = LinearChainCRF(2).double()
    emissions = torch.randn(1, 3, 2, dtype=torch.float64)
    lengths = torch.tensor([3])
    total = 0.0
    for path in itertools.product(range(2), repeat=3):
        tags = torch.tensor([path])
        total += math.exp(-crf.negative_log_likelihood(emissions, tags, lengths).item())
    assert math.isclose(total, 1.0, abs_tol=1e-12)
    padded = torch.cat([emissions, torch.full((1, 2, 2), 50.0, dtype=torch.float64)], dim=1)
    tags = torch.tensor([[1, 0, 1, 1, 1]])
    torch.testing.assert_close(crf.negative_log_likelihood(padded, tags, lengths),
                               crf.negative_log_likelihood(emissions, tags[:, :3], lengths))
    ignored = torch.tensor([[1, 0, 1, -100, -100]])  # pad_examples' IGNORE_INDEX padding
    torch.testing.assert_close(crf.negative_log_likelihood(padded, ignored, lengths),
                               crf.negative_log_likelihood(emissions, tags[:, :3], lengths))
    assert crf.decode(padded, lengths) == crf.decode(emissions, lengths)


def test_bad_shapes_are_named() -> None:
    crf = LinearChainCRF(4)
    with pytest.raises(ValueError, match=r"emissions of shape \(batch, time, 4\)"):
        crf.decode(torch.zeros(2, 3, 5), torch.tensor([3, 3]))
    with pytest.raises(ValueError, match=r"lengths \(batch=2,\) in \[1, 3\], got \[3, 4\]"):
        crf.decode(torch.zeros(2, 3, 4), torch.tensor([3, 4]))


def test_gradients_of_log_z_equal_brute_force() -> None:
    """The forward algorithm's gradients (what training follows) equal those of the
    log-sum over every tag sequence, for every parameter and the emissions: a detached
    term would keep log Z's value and lose its gradient."""
    torch.manual_seed(5)
    crf = LinearChainCRF(3).double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    emissions = torch.randn(1, 4, 3, dtype=torch.float64, requires_grad=True)
    crf.log_partition(emissions, torch.tensor([4])).sum().backward()
    forward = [p.grad.clone() for p in (crf.start, crf.end, crf.transitions, emissions)]
    crf.zero_grad()
    emissions.grad = None
    paths = list(itertools.product(range(3), repeat=4))
    scores = torch.stack([
        crf.start[path[0]] + crf.end[path[-1]]
        + sum(emissions[0, t, tag] for t, tag in enumerate(path))
        + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))
        for path in paths])
    torch.logsumexp(scores, dim=0).backward()
    brute = [p.grad for p in (crf.start, crf.end, crf.transitions, emissions)]
    for name, got, expected in zip(("start", "end", "transitions", "emissions"), forward,
                                   brute, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-10, msg=name)
