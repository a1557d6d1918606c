"""The data of lesson 07: scikit-learn's bundled handwritten digits, ready for a DataLoader.

The 1,797 images of 8×8 pixels (10 classes, about 180 each) ship inside scikit-learn, so
nothing is downloaded. ``digits()`` splits them, stratified by class with a fixed seed, into
a training and a validation set (the same split on every machine), and scales the pixels.

Example:
    >>> from helpers.data import digits
    >>> train, val = digits()
    >>> len(train), len(val)
    (1437, 360)
    >>> x, y = train[0]
    >>> tuple(x.shape), x.dtype, y.dtype
    ((64,), torch.float32, torch.int64)
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

__all__ = ["IMAGE_SHAPE", "NUM_CLASSES", "PIXEL_MAX", "digits"]

IMAGE_SHAPE = (8, 8)
NUM_CLASSES = 10
PIXEL_MAX = 16.0  # a pixel of the digits data is an integer from 0 (white) to 16 (black)


def digits(val_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """scikit-learn's handwritten digits as ``(train, val)`` TensorDatasets.

    Args:
        val_fraction: the share of the images held out for validation (default 0.2: 360
            of 1,797), the same share of every class (a stratified split).
        seed: the seed of the split; the default gives the course's split.

    Returns:
        Two ``TensorDataset``s of ``(x, y)`` pairs: ``x`` the 64 pixels of an image, row by
        row, as float32 divided by 16 so that they lie in [0, 1] (``x.view(8, 8)`` is the
        image); ``y`` its digit, an int64 class index from 0 to 9.
    """
    # Imported here: only lesson 07 needs scikit-learn, and it takes a while to import.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)  # (1797, 64) floats 0..16, (1797,) ints
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=val_fraction, stratify=labels, random_state=seed
    )

    def dataset(x, y) -> TensorDataset:
        features = torch.tensor(x, dtype=torch.float32) / PIXEL_MAX
        return TensorDataset(features, torch.tensor(y, dtype=torch.int64))

    return dataset(x_train, y_train), dataset(x_val, y_val)
