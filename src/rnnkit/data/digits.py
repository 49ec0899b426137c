"""Sequential digits: 8x8 handwritten digit images read one pixel per time step.

The images are the ones scikit-learn ships (registered as the ``digits`` data set: one CSV
row per image, 64 gray levels 0..16 in row-major order, then the label). A recurrent model
reads the 64 pixels in order and names the digit from its last state, a small, real
many-to-one task whose evidence is spread over the whole sequence (Le et al. 2015 do the
same with MNIST's 784 pixels). ``order="permuted"`` shuffles the pixel order once, with a
seed, which breaks the locality that makes row order easy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.data.registry import load_splits
from rnnkit.validation import check_choice

PIXELS = 64
NUM_CLASSES = 10
MAX_GRAY = 16
PIXEL_ORDERS = ("rows", "permuted")


@dataclass(frozen=True)
class DigitImages:
    """Digit images and their labels.

    Shapes:
        images: (count, 8, 8) float32 gray levels in [0, 1]
        labels: (count,) int64 in 0..9
    """

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class DigitsBatch:
    """Digit images as pixel sequences.

    Shapes:
        inputs:  (batch, 64, 1) one gray level per time step
        targets: (batch,) the digit
    """

    inputs: Tensor
    targets: Tensor

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def to(self, device: torch.device | str) -> DigitsBatch:
        """The batch on ``device``."""
        return DigitsBatch(self.inputs.to(device), self.targets.to(device))


def parse_digits_csv(text: str, source: str = "digits CSV") -> DigitImages:
    """Read rows of 64 gray levels (integers 0..16) and a label (0..9), comma separated.

    Raises :class:`ValueError` naming ``source`` and the line for a row with the wrong number
    of fields, a field that is not an integer, or a value out of range.

    Example:
        >>> parse_digits_csv(",".join(["0"] * 64 + ["7"])).labels
        tensor([7])
    """
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{source} holds no images")
    values = [_parse_row(line, number, source) for number, line in enumerate(rows, 1)]
    table = torch.tensor(values, dtype=torch.int64)  # (count, 65)
    images = table[:, :PIXELS].reshape(-1, 8, 8).float() / MAX_GRAY
    return DigitImages(images, table[:, PIXELS].clone())


def _parse_row(line: str, number: int, source: str) -> list[int]:
    fields = line.split(",")
    if len(fields) != PIXELS + 1:
        raise ValueError(f"{source} line {number}: expected {PIXELS + 1} comma-separated "
                         f"fields (64 pixels and a label), got {len(fields)}")
    try:
        row = [_whole_number(field) for field in fields]
    except ValueError:
        raise ValueError(f"{source} line {number}: every field must be a number, got "
                         f"{line[:60]!r}") from None
    if any(not 0 <= value <= MAX_GRAY for value in row[:PIXELS]):
        raise ValueError(f"{source} line {number}: pixels must be integers 0..{MAX_GRAY}")
    if not 0 <= row[PIXELS] < NUM_CLASSES:
        raise ValueError(f"{source} line {number}: the label must be an integer 0..9, got "
                         f"{fields[PIXELS]!r}")
    return row


def _whole_number(field: str) -> int:
    value = float(field)
    return int(value) if value.is_integer() else -1  # -1 fails the range checks that follow


def load_digits() -> DigitImages:
    """The 1,797 registered digit images (fetched and checksum-verified on first use)."""
    return parse_digits_csv(load_splits("digits")["text"], source="data set 'digits'")


def split_digits(digits: DigitImages, test_fraction: float = 1 / 6,
                 seed: int = 0) -> tuple[DigitImages, DigitImages]:
    """Shuffle with ``seed`` and hold out ``test_fraction`` of the images: ``(train, test)``."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"split_digits expected 0 < test_fraction < 1, got {test_fraction}")
    held_out = round(len(digits) * test_fraction)
    if not 0 < held_out < len(digits):
        raise ValueError(f"split_digits cannot hold out {test_fraction:g} of {len(digits)} "
                         "images and keep both parts non-empty")
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(seed))
    test, train = order[:held_out], order[held_out:]
    return (DigitImages(digits.images[train], digits.labels[train]),
            DigitImages(digits.images[test], digits.labels[test]))


def pixel_order(order: str = "rows", seed: int = 0) -> Tensor:
    """The order the 64 pixels are read in: row-major, or one seeded permutation of it."""
    check_choice("pixel_order", "order", order, PIXEL_ORDERS)
    if order == "rows":
        return torch.arange(PIXELS)
    return torch.randperm(PIXELS, generator=torch.Generator().manual_seed(seed))


def pixel_sequences(digits: DigitImages, order: Tensor | None = None,
                    indices: Tensor | None = None) -> DigitsBatch:
    """Images (all, or those at ``indices``) as sequences of 64 pixels read in ``order``.

    Example:
        >>> digits = parse_digits_csv(",".join([str(i % 17) for i in range(64)] + ["3"]))
        >>> batch = pixel_sequences(digits)
        >>> batch.inputs.shape, float(batch.inputs[0, 16, 0])
        (torch.Size([1, 64, 1]), 1.0)
    """
    images, labels = digits.images, digits.labels
    if indices is not None:
        images, labels = images[indices], labels[indices]
    pixels = images.flatten(1)  # (batch, 64), row-major
    if order is not None:
        pixels = pixels[:, order]
    return DigitsBatch(pixels.unsqueeze(-1), labels)
