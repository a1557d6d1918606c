"""helpers.data.digits(): the bundled digits, a fixed stratified split, pixels in [0, 1]."""

from __future__ import annotations

import torch

from helpers.data import IMAGE_SHAPE, NUM_CLASSES, digits


def test_sizes_types_and_scaling():
    train, val = digits()
    assert (len(train), len(val)) == (1437, 360)
    x, y = train.tensors
    assert x.shape == (1437, IMAGE_SHAPE[0] * IMAGE_SHAPE[1])
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    assert set(y.tolist()) == set(range(NUM_CLASSES))


def test_split_is_stratified_and_disjoint():
    train, val = digits()
    train_counts = torch.bincount(train.tensors[1], minlength=NUM_CLASSES)
    val_counts = torch.bincount(val.tensors[1], minlength=NUM_CLASSES)
    share = val_counts / (train_counts + val_counts)
    assert (share - 0.2).abs().max() < 0.01  # every class held out in the same share
    # No image is in both sets (the data has no exact duplicates across the split).
    train_rows = {tuple(row.tolist()) for row in train.tensors[0]}
    assert not any(tuple(row.tolist()) in train_rows for row in val.tensors[0])


def test_split_is_the_same_every_time():
    first, second = digits(), digits()
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a.tensors[0], b.tensors[0])
        assert torch.equal(a.tensors[1], b.tensors[1])
    other = digits(seed=1)
    assert not torch.equal(other[1].tensors[1], first[1].tensors[1])
