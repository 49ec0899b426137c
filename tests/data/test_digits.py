"""Sequential digits: the CSV is read exactly, bad rows are named, splits and pixel orders are
what they claim, all on made-up rows (no download)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.digits import (
    PIXELS,
    DigitImages,
    parse_digits_csv,
    pixel_order,
    pixel_sequences,
    split_digits,
)


def csv_row(pixels: list[int], label: int) -> str:
    return ",".join(str(value) for value in [*pixels, label])


def made_up_digits(count: int) -> DigitImages:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 17, (count, 8, 8), generator=generator).float() / 16
    return DigitImages(images, torch.arange(count) % 10)


def test_rows_are_row_major_images_scaled_to_one() -> None:
    pixels = [(3 * index) % 17 for index in range(PIXELS)]
    digits = parse_digits_csv(csv_row(pixels, 4) + "\n" + csv_row([16] * PIXELS, 9) + "\n")
    assert digits.images.shape == (2, 8, 8) and digits.images.dtype == torch.float32
    assert digits.labels.tolist() == [4, 9]
    for row in range(8):
        for column in range(8):
            assert digits.images[0, row, column] == pixels[8 * row + column] / 16
    assert torch.all(digits.images[1] == 1.0)


def test_float_formatted_integers_are_accepted() -> None:
    digits = parse_digits_csv(",".join(["2.0"] * PIXELS + ["3.0"]))
    assert digits.labels.tolist() == [3] and float(digits.images[0, 0, 0]) == 2 / 16


@pytest.mark.parametrize(("text", "message"), [
    ("", "holds no images"),
    (csv_row([0] * 63, 1), "line 1: expected 65 comma-separated fields .* got 64"),
    (csv_row([0] * PIXELS, 1) + "\n" + csv_row([0] * 63 + [17], 1), "line 2: pixels must be"),
    (csv_row([0] * PIXELS, 10), "label must be an integer 0..9, got '10'"),
    (csv_row([0] * PIXELS, 1).replace("0", "x", 1), "every field must be a number"),
    (csv_row([0] * 63 + [1], 1).replace(",1,", ",0.5,", 1), "pixels must be integers"),
])
def test_bad_rows_are_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_digits_csv(text, source="my.csv")


def test_split_is_seeded_disjoint_and_complete() -> None:
    digits = made_up_digits(60)
    train, test = split_digits(digits, test_fraction=0.25, seed=3)
    assert (len(train), len(test)) == (45, 15)
    again_train, _ = split_digits(digits, test_fraction=0.25, seed=3)
    assert torch.equal(train.images, again_train.images)
    # Each made-up image is unique, so the two parts hold every image exactly once.
    keys = {tuple(image.flatten().tolist()) for image in torch.cat([train.images, test.images])}
    assert len(keys) == 60
    with pytest.raises(ValueError, match="test_fraction"):
        split_digits(digits, test_fraction=1.0)


def test_pixel_sequences_follow_the_order() -> None:
    digits = made_up_digits(5)
    rows = pixel_sequences(digits)
    assert rows.inputs.shape == (5, PIXELS, 1)
    assert torch.equal(rows.inputs[..., 0], digits.images.flatten(1))
    order = pixel_order("permuted", seed=1)
    assert sorted(order.tolist()) == list(range(PIXELS)) and not torch.equal(
        order, torch.arange(PIXELS))
    assert torch.equal(order, pixel_order("permuted", seed=1))
    permuted = pixel_sequences(digits, order, indices=torch.tensor([3, 1]))
    assert torch.equal(permuted.inputs[0, :, 0], digits.images[3].flatten()[order])
    assert permuted.targets.tolist() == [3, 1]
    with pytest.raises(ValueError, match="'spiral'"):
        pixel_order("spiral")
