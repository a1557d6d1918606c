"""The check of ``07.fit``: ``fit(model, train_loader, val_loader, epochs, lr, device)`` trains
with a torch.optim optimizer at ``lr`` and returns, per epoch, the mean training loss per
sample and the accuracy on ``val_loader`` after that epoch.

The check owns everything fit is given and watches it:

- the loaders record each complete pass over them; a pass over ``train_loader`` trained
  the model when an optimizer step came during it (or after it and before the next pass,
  for `for x, y in list(train_loader)`); the model records, for each batch of a training
  pass, the cross-entropy of its first forward pass with gradients on (the loss that batch
  was trained on); at the start of each pass over ``val_loader`` the model's parameters
  are copied, so each ``val_accuracy[i]`` is compared with the accuracy of the model as it
  was when fit evaluated it, and that evaluation must come after epoch i's training pass;
- a global optimizer step pre-hook (``torch.optim.optimizer.register_optimizer_step_pre_hook``,
  removed afterwards) sees every ``step()`` of any torch.optim optimizer, its class and
  its learning rates.

First run: ``lr=0.0`` for 2 epochs on 20 samples (batches 8, 8, 4; the last batch's loss
above the others'): no parameter may change, and each ``train_loss`` entry must be the
fixed model's mean cross-entropy over the training set. Second run: ``lr=0.1`` for 8 epochs
on a mixture of four Gaussian clusters in 8 dimensions (256 training samples, 200
validation samples of which 40 carry a wrong label on purpose, so that the accuracy on
``val_loader`` stays below about 0.8 while the training accuracy nears 1): each
``train_loss`` entry must be the mean of the losses that epoch's batches were trained on,
each ``val_accuracy`` entry what the model scored on ``val_loader`` after that epoch, and
the last one at least ``THRESHOLD``. Plain SGD, SGD with momentum and Adam at that
learning rate all get there with margin (``tests/test_fit_statistics.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.data import DataLoader, TensorDataset

from helpers.checks.core import Checker, describe, plain, task
from helpers.checks.lesson07.common import (
    CPU,
    NOTEBOOK,
    call_on_cpu,
    close,
    fmt,
    is_real,
    real,
)

_cross_entropy = F.cross_entropy  # bound at import: learner code cannot change a verdict
_IN, _HIDDEN, _CLASSES = 8, 16, 4

# The first run: lr=0.0.
_PROBE_SIZES = (8, 8, 4)
_PROBE_VAL = 12
_PROBE_EPOCHS = 2

# The second run: real training.
_TRAIN, _VAL, _WRONG = 256, 200, 40  # samples; validation labels wrong on purpose
_BATCH, _VAL_BATCH = 16, 50
LR, EPOCHS = 0.1, 8
_MISSING = object()
# The optimizers the check's lr and epochs are chosen for (the syllabus promises plain SGD,
# SGD with momentum and Adam; AdamW is Adam with decoupled weight decay).
_PROMISED = frozenset({"SGD", "Adam", "AdamW"})
# Label smoothing a learner may have copied from a recipe (nn.CrossEntropyLoss's argument).
_SMOOTHINGS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
_LOW_PRECISION = (
    "Close, but not the float32 cross-entropy: the loss was computed in lower precision "
    "(torch.autocast, .half() or bfloat16). Train in float32, without autocast: the check "
    "compares the losses at float32 precision."
)
THRESHOLD = 0.6  # the final val_accuracy fit must reach (at most about 0.8 is possible)
_SPREAD = 0.6  # the clusters' standard deviation; their centres are 2.0 * orthonormal rows


class _Net(nn.Module):
    """Linear(8, 16) -> ReLU -> Linear(16, 4); tells its recorder about each forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(_IN, _HIDDEN)
        self.out = nn.Linear(_HIDDEN, _CLASSES)
        self.recorder: _Recorder | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.out(F.relu(self.hidden(x)))
        if self.recorder is not None:
            self.recorder.forward(torch.is_grad_enabled(), out)
        return out


@dataclass
class _Pass:
    kind: str  # "train" or "val"
    epochs_before: int  # training passes completed when this pass started
    snapshot: dict[str, torch.Tensor] | None = None  # val: the parameters at its start
    steps: int = 0  # train: optimizer steps taken during it
    complete: bool = False
    batch: tuple[int, Any] | None = None  # the batch being used: (index, targets)
    # train: per batch index, (size, summed cross-entropy) of the first forward pass with
    # gradients on while that batch was in use: the loss that batch was trained on
    losses: dict[int, tuple[int, float]] = field(default_factory=dict)
    matched: bool = True  # False once a forward pass did not match its batch's targets

    @property
    def trained(self) -> bool:
        return self.steps > 0


@dataclass
class _Step:
    lrs: list[Any]  # the learning rate of each param group
    kind: str  # the optimizer's class name


@dataclass
class _Recorder:
    """What happened during one call of fit: passes over the loaders, optimizer steps."""

    model: _Net
    passes: list[_Pass] = field(default_factory=list)
    steps: list[_Step] = field(default_factory=list)
    current: _Pass | None = None
    last_train: _Pass | None = None  # the latest pass over train_loader

    @property
    def epochs(self) -> int:
        """Completed passes over train_loader that trained the model (with a step during
        the pass, or after it and before the next pass: `for x, y in list(loader)`)."""
        return sum(p.kind == "train" and p.complete and p.trained for p in self.passes)

    def iterate(self, kind: str, batches: Iterator[Any]) -> Iterator[Any]:
        entry = _Pass(kind, self.epochs)
        if kind == "val":
            entry.snapshot = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.passes.append(entry)
        self.current = entry
        if kind == "train":
            self.last_train = entry
        for index, batch in enumerate(batches):
            entry.batch = (index, batch[1])
            yield batch
        entry.batch = None
        entry.complete = True
        if self.current is entry:
            self.current = None

    def forward(self, grad_enabled: bool, out: torch.Tensor) -> None:
        entry = self.current
        if entry is None or entry.kind != "train" or not grad_enabled or entry.batch is None:
            return
        index, targets = entry.batch
        if index in entry.losses:
            return
        logits = plain(out).detach()
        if logits.device.type == "meta":
            return  # the model was moved to the notebook's device: that fails elsewhere
        if logits.dim() != 2 or logits.shape[0] != targets.shape[0]:
            entry.matched = False  # a part of a batch (or something else): no loss known
            return
        loss = _cross_entropy(logits.cpu(), targets.cpu(), reduction="sum")
        entry.losses[index] = (int(targets.shape[0]), float(loss))

    def step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        lrs = [group.get("lr") for group in optimizer.param_groups]
        self.steps.append(_Step(lrs, type(optimizer).__name__))
        if self.last_train is not None:
            self.last_train.steps += 1


class _Loader(DataLoader):
    """A DataLoader whose passes the recorder sees."""

    def __init__(self, dataset: Any, recorder: _Recorder, kind: str, **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.recorder_ = recorder
        self.kind_ = kind

    def __iter__(self) -> Iterator[Any]:
        return self.recorder_.iterate(self.kind_, super().__iter__())


@dataclass
class _Run:
    """One call of fit: its arguments, data and what it returned."""

    what: str
    epochs: int
    lr: float
    model: _Net
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    train_batch: int
    val_batch: int
    shuffle: bool
    recorder: _Recorder = field(init=False)
    before: list[torch.Tensor] = field(init=False)
    versions: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.recorder = _Recorder(self.model)
        self.before = [p.detach().clone() for p in self.model.parameters()]
        self.versions = [p._version for p in self.model.parameters()]

    def loaders(self) -> tuple[_Loader, _Loader]:
        train = _Loader(
            TensorDataset(*self.train),
            self.recorder,
            "train",
            batch_size=self.train_batch,
            shuffle=self.shuffle,
        )
        val = _Loader(TensorDataset(*self.val), self.recorder, "val", batch_size=self.val_batch)
        return train, val


def _probe_run() -> _Run:
    """lr=0.0 on 20 samples: the first 16 (scaled up) labelled with the class the model
    finds most likely, the last 4 with the class it finds least likely, so that the last
    batch's loss is above log(4) and the others' well below it. (Scaling up the first 16,
    not the last 4, keeps the cross-entropy well apart from its label-smoothed variants
    and from the other wrong numbers the hints name: at least 0.7 % over 1,000 seeds.)"""
    model = _Net()
    n, last = sum(_PROBE_SIZES), _PROBE_SIZES[-1]
    x = torch.randn(n, _IN)
    x[:-last] *= 3.0
    with torch.no_grad():
        logits = model(x)
    y = logits.argmax(dim=1)
    y[-last:] = logits[-last:].argmin(dim=1)
    val = (torch.randn(_PROBE_VAL, _IN), torch.randint(0, _CLASSES, (_PROBE_VAL,)))
    what = f"fit(model, train_loader, val_loader, epochs={_PROBE_EPOCHS}, lr=0.0, device)"
    return _Run(what, _PROBE_EPOCHS, 0.0, model, (x, y), val, _PROBE_SIZES[0], 8, False)


def _training_run() -> _Run:
    """Four Gaussian clusters in 8 dimensions; 40 of the 200 validation labels are wrong."""
    q, _ = torch.linalg.qr(torch.randn(_IN, _IN))
    centres = 2.0 * q[:_CLASSES]

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % _CLASSES
        return centres[y] + _SPREAD * torch.randn(n, _IN), y

    train, (x_val, y_val) = draw(_TRAIN), draw(_VAL)
    # the wrong labels sit in the last batch: its accuracy is far from the whole set's
    wrong = _VAL - _VAL_BATCH + torch.randperm(_VAL_BATCH)[:_WRONG]
    y_val[wrong] = (y_val[wrong] + 1) % _CLASSES
    what = f"fit(model, train_loader, val_loader, epochs={EPOCHS}, lr={LR}, device)"
    return _Run(what, EPOCHS, LR, _Net(), train, (x_val, y_val), _BATCH, _VAL_BATCH, True)


@task(
    "07.fit",
    title="Fit and track validation accuracy",
    names=["fit"],
    notebook=NOTEBOOK,
    timeout=20.0,
)
def check_fit(t: Checker) -> None:
    fit = t.function("fit")

    run = _probe_run()
    with t.probe(
        f'{run.what} returns a dict with lists "train_loss" and "val_accuracy", one entry per epoch'
    ):
        history = _call_fit(t, fit, run)

    with t.probe(
        "it steps a torch.optim optimizer at learning rate lr: with lr=0.0 no parameter changes"
    ):
        _expect_lr(t, run)

    with t.probe(
        "train_loss[i] is the mean cross-entropy per sample over the training set in epoch i "
        "(with lr=0.0: the unchanged model's, every epoch)"
    ):
        _expect_train_loss(t, run, history["train_loss"])

    with t.probe("fit evaluates on val_loader after each epoch's training pass"):
        _evaluations(t, run)

    run = _training_run()
    with t.probe(
        f"{run.what} returns one entry per epoch, steps at lr and evaluates after each epoch"
    ):
        history = _call_fit(t, fit, run)
        _expect_lr(t, run)
        evaluations = _evaluations(t, run)

    with t.probe(
        "train_loss[i] is the mean loss per sample of epoch i's own training pass (the loss "
        "each batch was trained on)"
    ):
        _expect_epoch_losses(t, run, history["train_loss"])

    with t.probe("val_accuracy[i] is the accuracy on val_loader of the model after epoch i"):
        _expect_val_accuracy(t, run, history["val_accuracy"], evaluations)

    with t.probe(f"after {EPOCHS} epochs at lr={LR}, val_accuracy reaches at least {THRESHOLD}"):
        final = history["val_accuracy"][-1]
        kinds = sorted({step.kind for step in run.recorder.steps} - _PROMISED)
        if final < THRESHOLD and kinds:
            t.fail(
                f"the final validation accuracy is below {THRESHOLD}",
                expected=f"at least {THRESHOLD} (plain SGD, SGD with momentum and Adam at "
                f"lr={LR} reach about 0.75)",
                got=fmt(final),
                facts=["val_accuracy: " + ", ".join(fmt(a) for a in history["val_accuracy"])],
                hint=f"The check's lr={LR} and {EPOCHS} epochs are chosen for SGD (with or "
                f"without momentum) and Adam; {kinds[0]} does not learn enough with them "
                "(Adadelta's lr, for one, is a factor whose default is 1.0): use SGD or Adam.",
            )
        if final < THRESHOLD:
            t.fail(
                f"the final validation accuracy is below {THRESHOLD}",
                expected=f"at least {THRESHOLD} (plain SGD, SGD with momentum and Adam at "
                f"lr={LR} reach about 0.75; 40 of the 200 validation labels are wrong on "
                "purpose, so about 0.8 is the most)",
                got=fmt(final),
                facts=["val_accuracy: " + ", ".join(fmt(a) for a in history["val_accuracy"])],
                hint="Check that each batch's loop does optimizer.zero_grad(), "
                "loss = cross-entropy of model(inputs) and targets, loss.backward(), "
                "optimizer.step(), with an optimizer built over model.parameters().",
            )


def _call_fit(t: Checker, fit: Callable[..., Any], run: _Run) -> dict[str, list[float]]:
    train_loader, val_loader = run.loaders()
    run.model.recorder = run.recorder
    handle = register_optimizer_step_pre_hook(run.recorder.step)
    try:
        result = call_on_cpu(
            t, fit, run.model, train_loader, val_loader, run.epochs, run.lr, CPU, what=run.what
        )
    finally:
        handle.remove()
        run.model.recorder = None
    return _expect_history(t, run, result)


def _expect_history(t: Checker, run: _Run, result: Any) -> dict[str, list[float]]:
    if not isinstance(result, dict):
        t.fail(
            f"{run.what} did not return a dict",
            expected='{"train_loss": [...], "val_accuracy": [...]}',
            got=describe(result),
            hint='Return a dict of two lists: return {"train_loss": train_losses, '
            '"val_accuracy": val_accuracies}.'
            if isinstance(result, tuple)
            else 'Build a dict {"train_loss": [], "val_accuracy": []}, append one value to '
            "each list per epoch, and return the dict.",
        )
    history: dict[str, list[float]] = {}
    batches = -(-len(run.train[1]) // run.train_batch)
    for key in ("train_loss", "val_accuracy"):
        entries = dict.get(result, key, _MISSING)  # dict's own lookup, not a subclass's
        if entries is _MISSING:
            t.fail(
                f'the dict has no key "{key}"',
                expected='the keys "train_loss" and "val_accuracy"',
                got="keys " + ", ".join(repr(k) for k in list(dict.keys(result))[:5]),
                hint='Spell the keys exactly "train_loss" and "val_accuracy".',
            )
        if not isinstance(entries, list):
            t.fail(
                f'"{key}" is not a list',
                expected=f"a list of {run.epochs} numbers",
                got=describe(entries),
                hint="Append one value per epoch to a list and put the list in the dict.",
            )
        count = list.__len__(entries)
        if count != run.epochs:
            if count == run.epochs * batches:
                hint = (
                    "One entry per epoch, not per batch: append once, after the epoch's "
                    "pass over train_loader."
                )
            elif 0 < count == run.recorder.epochs < run.epochs:
                t.fail(
                    "fit stopped before the last epoch",
                    expected=f"{run.epochs} epochs, one entry each",
                    got=f"{count} epochs trained, {count} entries",
                    hint="Train for exactly `epochs` epochs, `for epoch in range(epochs):`, "
                    "without early stopping or a break.",
                )
            else:
                hint = (
                    "Append exactly one value to each list per epoch (loop "
                    "`for epoch in range(epochs):`)."
                )
            t.fail(
                f'"{key}" has {count} entries for {run.epochs} epochs',
                expected=f"{run.epochs} entries, one per epoch",
                got=f"{count}",
                hint=hint,
            )
        values = []
        for entry in list.__iter__(entries):
            tensor = plain(entry)  # a subclass's methods are not used
            if isinstance(tensor, torch.Tensor) and tensor.numel() == 1:
                with torch.no_grad():
                    values.append(
                        float(tensor.detach().cpu()) if tensor.device.type != "meta" else math.nan
                    )
            elif is_real(entry):
                values.append(real(entry))
            else:
                t.fail(
                    f'"{key}" holds something that is not a number',
                    expected="numbers (Python floats)",
                    got=describe(entry),
                    hint="Append a number per epoch, e.g. the float train_one_epoch returns, "
                    "or loss.item() sums divided by the sample count.",
                )
        history[key] = values
    return history


def _expect_lr(t: Checker, run: _Run) -> None:
    steps = run.recorder.steps
    changed = any(
        not torch.equal(a, b.detach())
        for a, b in zip(run.before, run.model.parameters(), strict=True)
    )
    # An in-place update (p -= lr * p.grad) counts in a tensor's version, even with lr=0.
    touched = changed or [p._version for p in run.model.parameters()] != run.versions
    if not steps:
        t.fail(
            "fit never stepped a torch.optim optimizer",
            expected="optimizer.step() of a torch.optim optimizer, once per batch",
            got="the parameters were updated without one" if touched else "no step at all",
            hint="Update the parameters with an optimizer from torch.optim, "
            "torch.optim.SGD(model.parameters(), lr=lr), and its step(), not by hand."
            if touched
            else "Build an optimizer, torch.optim.SGD(model.parameters(), lr=lr), and call "
            "optimizer.step() after each loss.backward().",
        )
    lrs = [lr for step in steps for lr in step.lrs]
    wrong = [lr for lr in lrs if not (is_real(lr) and abs(real(lr) - run.lr) <= 1e-12)]
    if wrong:
        t.fail(
            f"the optimizer's learning rate is not lr={run.lr}",
            expected=f"lr={run.lr} in every param group at every step",
            got=f"lr={wrong[0]}",
            hint="Pass the argument on, torch.optim.SGD(model.parameters(), lr=lr), and keep "
            "it (no scheduler): an optimizer's default learning rate (Adam's 0.001) or a "
            "number of your own ignores the lr the caller chose.",
        )
    if changed and run.lr == 0.0:
        kinds = sorted({step.kind for step in steps} - _PROMISED)
        t.fail(
            "with lr=0.0 the parameters changed",
            expected="every parameter as before (a learning rate of 0 moves nothing)",
            got="changed parameters",
            hint=f"{kinds[0]} moves the parameters even at lr=0.0 (its steps are not "
            "scaled by lr alone): use SGD (with or without momentum) or Adam, whose every "
            "update is scaled by lr."
            if kinds
            else "Change the parameters only through optimizer.step(): the learning rate "
            "must scale every update.",
        )


def _losses(run: _Run) -> tuple[list[int], list[float], torch.Tensor]:
    """Batch sizes and mean losses of the unchanged model, and each sample's logits."""
    x, y = run.train
    with torch.no_grad():
        logits = run.model(x)
    sizes = list(_PROBE_SIZES)
    means = [
        float(_cross_entropy(part, target))
        for part, target in zip(logits.split(sizes), y.split(sizes), strict=True)
    ]
    return sizes, means, logits


def _expect_train_loss(t: Checker, run: _Run, got: list[float]) -> None:
    sizes, means, logits = _losses(run)
    n, k = sum(sizes), len(sizes)
    weighted = sum(s * m for s, m in zip(sizes, means, strict=True))
    want = weighted / n
    bad = [i for i, g in enumerate(got) if not close(g, want)]
    if not bad:
        return
    value = got[bad[0]]
    y = run.train[1]
    wrong = [
        (
            sum(means) / k,
            "That is the mean of the batch means: the last batch has 4 samples, the others "
            "8, so weight each batch's loss by its size (loss.item() * inputs.size(0)) and "
            "divide by the number of samples.",
        ),
        (
            weighted / k,
            "You divided by the number of batches: divide by the number of samples.",
        ),
        (
            sum(means) / n,
            "The loss is already a mean over its batch: multiply by the batch size before "
            "summing, then divide by the number of samples.",
        ),
        (weighted, "That is a sum over the samples: divide it by the number of samples."),
        (sum(means), "That is the sum of the batch means: take the mean per sample."),
        (means[-1], "That is the last batch's loss: average over the whole epoch."),
        (
            float(-logits.gather(1, y[:, None]).mean()),
            "That is nn.NLLLoss on raw outputs: NLLLoss expects log-probabilities. Minimise "
            "cross-entropy, nn.CrossEntropyLoss() (or F.cross_entropy) on the logits.",
        ),
        (
            float(F.mse_loss(logits, F.one_hot(y, _CLASSES).to(logits.dtype))),
            "That is a mean squared error: minimise cross-entropy, nn.CrossEntropyLoss() "
            "on the logits and the class indices.",
        ),
    ]
    uniform = float(-F.log_softmax(logits, dim=1).mean())  # cross-entropy to uniform targets
    wrong += [
        (
            (1 - e) * want + e * uniform,
            f"That is cross-entropy with label smoothing ({e:g}): the task asks to minimise "
            "cross-entropy with the targets as given, nn.CrossEntropyLoss() without "
            "label_smoothing.",
        )
        for e in _SMOOTHINGS
    ]
    if bad[0] > 0 and close(value, want * (bad[0] + 1)):
        hint = "The total runs on across epochs: start it at 0 at the beginning of each epoch."
    else:
        hint = next((h for v, h in wrong if close(value, v)), None)
    if hint is None and close(value, want, rtol=2e-2):
        hint = _LOW_PRECISION
    hint = hint or (
        "Per epoch: the sum of loss.item() * inputs.size(0) over the batches, divided by the "
        "number of samples, with the cross-entropy loss."
    )
    t.fail(
        f"train_loss[{bad[0]}] is not the mean cross-entropy per sample",
        expected=f"{fmt(want)} in every entry (lr=0.0: the model does not change)",
        got="[" + ", ".join(fmt(g) for g in got) + "]",
        facts=[
            "Batch sizes "
            + ", ".join(map(str, sizes))
            + "; batch losses "
            + ", ".join(fmt(m) for m in means)
        ],
        hint=hint,
    )


def _expect_epoch_losses(t: Checker, run: _Run, got: list[float]) -> None:
    """Each entry against the loss of that epoch's training pass, as its batches were
    trained on (the first forward pass of each batch with gradients on)."""
    passes = [p for p in run.recorder.passes if p.kind == "train" and p.trained]
    epochs: list[float | None] = []
    for entry in passes[: run.epochs]:
        sizes = [size for size, _ in entry.losses.values()]
        known = entry.matched and sum(sizes) == len(run.train[1])
        epochs.append(
            sum(loss for _, loss in entry.losses.values()) / sum(sizes) if known else None
        )
    for i, (value, want) in enumerate(zip(got, epochs, strict=False)):
        if want is None or not math.isfinite(want) or close(value, want):
            continue  # a diverging run: the accuracy probe says so
        known = [(k, e) for k, e in enumerate(epochs[: i + 1]) if e is not None]
        running = sum(e for _, e in known) / len(known)
        if i > 0 and len(known) == i + 1 and close(value, running):
            hint = (
                "That is the mean over all epochs so far: the total and the sample count "
                "run on across epochs. Start both at 0 at the beginning of each epoch."
            )
        elif close(value, want, rtol=2e-2):
            hint = _LOW_PRECISION
        elif i + 1 < len(epochs) and epochs[i + 1] is not None and close(value, epochs[i + 1]):
            hint = (
                "That is the loss of the next epoch's training: append each epoch's loss "
                "right after its pass over train_loader."
            )
        else:
            hint = (
                "train_loss[i] is the mean of the losses epoch i trained on, each batch's "
                "loss.item() weighted by its size, summed over the epoch's batches and "
                "divided by the number of samples (what train_one_epoch returns), not a "
                "loss measured again after the epoch."
            )
        t.fail(
            f"train_loss[{i}] is not the mean loss of epoch {i}'s training pass",
            expected=f"{fmt(want)} (the mean cross-entropy of the batches epoch {i} trained on)",
            got=fmt(value),
            facts=["train_loss: " + ", ".join(fmt(g) for g in got)],
            hint=hint,
        )


def _evaluations(t: Checker, run: _Run) -> list[_Pass]:
    """The pass over val_loader that evaluated the model after each epoch (the last one
    started after that epoch's training pass and before the next one's end)."""
    recorder = run.recorder
    if recorder.epochs != run.epochs:
        t.fail(
            f"fit trained for {recorder.epochs} passes over train_loader, not {run.epochs}",
            expected=f"{run.epochs} complete passes over train_loader that train the model "
            "(one per epoch)",
            got=f"{recorder.epochs}",
            hint="An epoch is one full pass over train_loader, training on every batch: "
            "for epoch in range(epochs): train on every batch of train_loader, then evaluate.",
        )
    val = [p for p in recorder.passes if p.kind == "val" and p.complete]
    chosen: list[_Pass] = []
    for i in range(run.epochs):
        after = [p for p in val if p.epochs_before == i + 1]
        if after:
            chosen.append(after[-1])
            continue
        untrained = [p for p in recorder.passes if p.kind == "train" and not p.trained]
        if any(p.epochs_before == i for p in val):
            hint = (
                "fit evaluates before the epoch's training: evaluate after training on "
                "every batch of train_loader, so that val_accuracy[i] is the accuracy after "
                "epoch i."
            )
        elif not val and untrained:
            hint = (
                "That is the training accuracy: fit measured the accuracy on train_loader. "
                "Measure it on val_loader, data the model is not trained on."
            )
        elif not val:
            hint = (
                "fit never ran over val_loader: after each epoch, compute the accuracy of "
                "the model on val_loader (evaluate(model, val_loader, device))."
            )
        else:
            hint = (
                "Evaluate on val_loader once per epoch, right after that epoch's pass over "
                "train_loader."
            )
        t.fail(
            f"no evaluation on val_loader after epoch {i}",
            expected=f"a full pass over val_loader after epoch {i}'s training pass",
            got=f"{len(val)} full passes over val_loader in all",
            hint=hint,
        )
    return chosen


def _accuracy(
    run: _Run, state: dict[str, torch.Tensor], data: tuple[torch.Tensor, torch.Tensor], batch: int
) -> float:
    """The accuracy of ``run``'s model with parameters ``state`` on ``data``."""
    model = _Net()
    model.load_state_dict(state)
    x, y = data
    with torch.no_grad():
        right = sum(
            int((model(part).argmax(dim=1) == target).sum())
            for part, target in zip(x.split(batch), y.split(batch), strict=True)
        )
    return right / len(y)


def _expect_val_accuracy(t: Checker, run: _Run, got: list[float], evaluations: list[_Pass]) -> None:
    tolerance = 1.01 / len(run.val[1])  # a near tie between two logits may flip one sample
    for i, (value, evaluation) in enumerate(zip(got, evaluations, strict=True)):
        want = _accuracy(run, evaluation.snapshot, run.val, run.val_batch)
        if abs(value - want) <= tolerance:
            continue
        train = _accuracy(run, evaluation.snapshot, run.train, run.val_batch)
        last = (run.val[0][-run.val_batch :], run.val[1][-run.val_batch :])
        last_batch = _accuracy(run, evaluation.snapshot, last, run.val_batch)
        if abs(value - 100 * want) <= 100 * tolerance:
            hint = "That is a percentage: give the accuracy as a fraction in [0, 1]."
        elif abs(value - train) <= tolerance:
            hint = (
                "That is the training accuracy: measure the accuracy on val_loader, data the "
                "model is not trained on."
            )
        elif abs(value - last_batch) <= 1.01 / run.val_batch < abs(value - want):
            hint = (
                "That is the accuracy of val_loader's last batch only: count the right "
                "predictions over every batch of val_loader and divide by the number of "
                "samples."
            )
        else:
            hint = (
                "val_accuracy[i] is the fraction of val_loader's samples whose "
                "outputs.argmax(dim=1) equals the target, measured after epoch i."
            )
        t.fail(
            f"val_accuracy[{i}] is not the accuracy on val_loader after epoch {i}",
            expected=f"{fmt(want)} (what the model scored on val_loader after epoch {i})",
            got=fmt(value),
            facts=[f"The model's accuracy on the training data then: {fmt(train)}"],
            hint=hint,
        )
