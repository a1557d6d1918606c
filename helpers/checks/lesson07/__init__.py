"""Lesson 07 (the training loop): one module per task, each registering its check on import.

- ``train_one_epoch``: ``07.train_one_epoch``, one pass over a loader with a step per
  batch, returning the mean loss per sample;
- ``evaluate``: ``07.evaluate``, accuracy over a loader in eval mode without graphs, the
  model's mode and gradient tracking left as they were;
- ``fine_tune``: ``07.fine_tune``, freezing the first children and an optimizer over the
  trainable parameters;
- ``fit``: ``07.fit``, epochs of training with the training loss and the validation
  accuracy after each epoch.

``common`` holds what they share: the notebook's name, ``Tap`` (a layer that records its
mode), ``Elsewhere`` (batches that must be moved to ``device``) and ``call_on_cpu`` (one
verdict on a laptop and on a GPU machine).
"""

from helpers.checks.lesson07 import evaluate, fine_tune, fit, train_one_epoch

__all__ = ["evaluate", "fine_tune", "fit", "train_one_epoch"]
