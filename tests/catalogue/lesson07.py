"""Lesson 07 (the training loop): realistic mistakes and correct alternatives for every task."""

from __future__ import annotations

import types

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from catalogue import correct, mistake

# A notebook's global device, for the mistakes that use it instead of the argument.
device = torch.device("cpu")


# -- what several entries share -------------------------------------------------------------------


def _train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


def _evaluate(model, loader, device):
    was_training = model.training
    model.eval()
    right, count = 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum().item()
            count += len(targets)
    model.train(was_training)
    return right / count


def _fit_with(make_optimizer):
    """A correct fit with the optimizer ``make_optimizer(parameters, lr)``."""

    def fit(model, train_loader, val_loader, epochs, lr, device):
        model.to(device)
        optimizer = make_optimizer(model.parameters(), lr)
        loss_fn = nn.CrossEntropyLoss()
        history = {"train_loss": [], "val_accuracy": []}
        for _ in range(epochs):
            history["train_loss"].append(
                _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
            )
            history["val_accuracy"].append(_evaluate(model, val_loader, device))
        return history

    return fit


# == 07.train_one_epoch ===========================================================================

# -- correct alternatives -------------------------------------------------------------------------


@correct("07.train_one_epoch")
def train_one_epoch_forward_and_dataset_length(model, loader, loss_fn, optimizer, device):
    """model.forward(x) (no hooks run, which nothing here needs), zero_grad on the model
    with set_to_none=False, non_blocking moves, and the sample count from the dataset."""
    model.train()
    total = 0.0
    for inputs, targets in loader:
        inputs = inputs.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        model.zero_grad(set_to_none=False)
        outputs = model.forward(inputs)
        loss = loss_fn(outputs, targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * inputs.size(0)
    return total / len(loader.dataset)


@correct("07.train_one_epoch")
def train_one_epoch_detached_tensor_sum(model, loader, loss_fn, optimizer, device):
    """A detached tensor total, turned into a float once at the end."""
    model.train()
    total = torch.zeros((), device=device)
    count = 0
    for batch in loader:
        inputs, targets = (part.to(device) for part in batch)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.detach() * targets.numel()
        count += targets.numel()
    return (total / count).item()


@correct("07.train_one_epoch")
def train_one_epoch_numpy_weighted_average(model, loader, loss_fn, optimizer, device):
    """Per-batch losses and sizes in lists, np.average with weights (a NumPy float, which
    is a Python float)."""
    model.train()
    losses, sizes = [], []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        sizes.append(len(inputs))
    return np.average(losses, weights=sizes)


@correct("07.train_one_epoch")
def train_one_epoch_counted_from_one(model, loader, loss_fn, optimizer, device):
    """enumerate(loader, 1) with a progress print, gradients set to None by hand, the batch
    unpacked from a list, Python ints counted, the sums divided at the end."""
    model.train()
    losses, sizes = [], []
    for step, batch in enumerate(loader, 1):
        inputs, targets = [part.to(device) for part in batch]
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() * int(targets.shape[0]))
        sizes.append(int(targets.shape[0]))
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.4f}")
    return sum(losses) / sum(sizes)


# -- mistakes -------------------------------------------------------------------------------------


@mistake("07.train_one_epoch", hint="not after optimizer.step(): the model may come with")
def train_one_epoch_zero_grad_after_step(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()  # the mistake: the first step used what was there before
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake(
    "07.train_one_epoch", hint="call optimizer.zero_grad() before each loss.backward(), inside"
)
def train_one_epoch_never_zero_grad(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="not once before it")
def train_one_epoch_zero_grad_once(model, loader, loss_fn, optimizer, device):
    model.train()
    optimizer.zero_grad()  # the mistake: once, before the loop
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="That is the mean of the batch means: the last batch has 2")
def train_one_epoch_unweighted_mean(model, loader, loss_fn, optimizer, device):
    model.train()
    losses = []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


@mistake("07.train_one_epoch", hint="You divided by the number of batches: divide the weighted")
def train_one_epoch_divides_by_batches(model, loader, loss_fn, optimizer, device):
    model.train()
    total = 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
    return total / len(loader)


@mistake("07.train_one_epoch", hint="loader.batch_size is not the size of every batch")
def train_one_epoch_weights_by_batch_size(model, loader, loss_fn, optimizer, device):
    model.train()
    total = 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * loader.batch_size
    return total / len(loader.dataset)


@mistake("07.train_one_epoch", hint="Return a Python float, not a tensor: accumulate")
def train_one_epoch_returns_tensor(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss * len(targets)  # the mistake: a tensor that keeps every graph alive
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="Call model.train() at the start of train_one_epoch")
def train_one_epoch_no_train_mode(model, loader, loss_fn, optimizer, device):
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="Move each batch to the device before using it")
def train_one_epoch_targets_not_moved(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs.to(device)), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="not the notebook's global `device`")
def train_one_epoch_global_device(model, loader, loss_fn, optimizer, dev):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)  # the notebook's device
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="Compute the loss with the `loss_fn` argument")
def train_one_epoch_own_loss(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="The order per batch is")
def train_one_epoch_step_before_backward(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        optimizer.step()
        loss.backward()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="That is the last batch's loss")
def train_one_epoch_returns_last_loss(model, loader, loss_fn, optimizer, device):
    model.train()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
    return loss.item()


@mistake("07.train_one_epoch", hint="multiply by the batch size only the float you add")
def train_one_epoch_backward_on_summed_loss(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets) * len(targets)  # the mistake: before backward
        loss.backward()
        optimizer.step()
        total += loss.item()
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="no clip_grad_norm_ / clip_grad_value_")
def train_one_epoch_clips_gradients(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)  # the mistake
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


@mistake("07.train_one_epoch", hint="The forward pass or the loss ran in lower precision")
def train_one_epoch_autocast_bfloat16(model, loader, loss_fn, optimizer, device):
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        with torch.autocast(device_type=inputs.device.type, dtype=torch.bfloat16):
            outputs = model(inputs)  # the mistake: bfloat16 matmuls
        loss = loss_fn(outputs.float(), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count


# == 07.evaluate ==================================================================================

# -- correct alternatives -------------------------------------------------------------------------


@correct("07.evaluate")
@torch.inference_mode()
def evaluate_inference_mode_decorator(model, loader, device):
    """inference_mode as a decorator; the mode restored in a finally block; predictions
    compared on the CPU, where the targets are."""
    mode = model.training
    model.eval()
    try:
        right = total = 0
        for inputs, targets in loader:
            predictions = model(inputs.to(device)).argmax(dim=1).cpu()
            right += int((predictions == targets).sum())
            total += targets.shape[0]
        return right / total
    finally:
        model.train(mode)


@correct("07.evaluate")
def evaluate_set_grad_enabled_restored(model, loader, device):
    """torch.set_grad_enabled(False), then the previous state given back; counts as
    tensors, one float at the end."""
    previous, was_training = torch.is_grad_enabled(), model.training
    torch.set_grad_enabled(False)
    model.eval()
    right = torch.zeros((), dtype=torch.long)
    for inputs, targets in loader:
        outputs = model(inputs.to(device))
        right += (outputs.max(dim=1).indices == targets.to(device)).sum().cpu()
    torch.set_grad_enabled(previous)
    model.train(was_training)
    return float(right) / len(loader.dataset)


@correct("07.evaluate")
def evaluate_no_grad_with_concatenation(model, loader, device):
    """All predictions concatenated, the mean of the matches."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(x.to(device)).argmax(1) for x, _ in loader])
        targets = torch.cat([y.to(device) for _, y in loader])
    if was_training:
        model.train()
    return (predictions == targets).float().mean().item()


# -- mistakes -------------------------------------------------------------------------------------


@mistake("07.evaluate", hint="Remember the mode first, `was_training = model.training`")
def evaluate_leaves_eval_mode(model, loader, device):
    model.eval()
    right = count = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum().item()
            count += len(targets)
    return right / count


@mistake("07.evaluate", hint="not always model.train()")
def evaluate_always_back_to_train(model, loader, device):
    model.eval()
    right = count = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum().item()
            count += len(targets)
    model.train()
    return right / count


@mistake("07.evaluate", hint="Do not end with torch.set_grad_enabled(True)")
def evaluate_grad_back_on(model, loader, device):
    was_training = model.training
    model.eval()
    torch.set_grad_enabled(False)
    right = count = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        right += (model(inputs).argmax(dim=1) == targets).sum().item()
        count += len(targets)
    torch.set_grad_enabled(True)
    model.train(was_training)
    return right / count


@mistake("07.evaluate", hint="stays in force after the function returns")
def evaluate_grad_left_off(model, loader, device):
    was_training = model.training
    model.eval()
    torch.set_grad_enabled(False)
    right = count = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        right += (model(inputs).argmax(dim=1) == targets).sum().item()
        count += len(targets)
    model.train(was_training)
    return right / count


@mistake("07.evaluate", hint="Call model.eval() before the forward passes")
def evaluate_no_eval_mode(model, loader, device):
    right = count = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum().item()
            count += len(targets)
    return right / count


@mistake("07.evaluate", hint="eval() does not turn gradients off")
def evaluate_no_no_grad(model, loader, device):
    was_training = model.training
    model.eval()  # the mistake: eval() alone still builds graphs
    right = count = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        right += (model(inputs).argmax(dim=1) == targets).sum().item()
        count += len(targets)
    model.train(was_training)
    return right / count


@mistake("07.evaluate", hint="That is the mean of the batches' accuracies")
def evaluate_mean_of_batch_accuracies(model, loader, device):
    was_training = model.training
    model.eval()
    accuracies = []
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            accuracies.append((model(inputs).argmax(dim=1) == targets).float().mean().item())
    model.train(was_training)
    return sum(accuracies) / len(accuracies)


@mistake("07.evaluate", hint="That is a percentage")
def evaluate_percentage(model, loader, device):
    was_training = model.training
    model.eval()
    right = count = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum().item()
            count += len(targets)
    model.train(was_training)
    return 100.0 * right / count


@mistake("07.evaluate", hint="Return a Python float, not a tensor: count with")
def evaluate_returns_tensor(model, loader, device):
    was_training = model.training
    model.eval()
    right, count = 0, 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum()
            count += len(targets)
    model.train(was_training)
    return right / count


@mistake("07.evaluate", hint="dim 1 is the class dimension")
def evaluate_argmax_dim_0(model, loader, device):
    was_training = model.training
    model.eval()
    right = count = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=0) == targets).sum().item()
            count += len(targets)
    model.train(was_training)
    return right / count


@mistake("07.evaluate", hint="len(loader) * loader.batch_size counts a full last batch")
def evaluate_divides_by_full_batches(model, loader, device):
    was_training = model.training
    model.eval()
    right = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            right += (model(inputs).argmax(dim=1) == targets).sum().item()
    model.train(was_training)
    return right / (len(loader) * loader.batch_size)


@mistake("07.evaluate", hint="Do not freeze the parameters to avoid building a graph")
def evaluate_freezes_parameters(model, loader, device):
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    right = count = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        right += (model(inputs).argmax(dim=1) == targets).sum().item()
        count += len(targets)
    model.train(was_training)
    return right / count


# == 07.fine_tune =================================================================================

# -- correct alternatives -------------------------------------------------------------------------


@correct("07.fine_tune")
def prepare_fine_tuning_module_requires_grad(model, num_frozen, lr):
    """Module.requires_grad_ on the whole model, then on the first children; Adam over a
    filter."""
    model.requires_grad_(True)
    for child in list(model.children())[:num_frozen]:
        child.requires_grad_(False)
    return torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=lr)


@correct("07.fine_tune")
def prepare_fine_tuning_by_name_two_groups(model, num_frozen, lr):
    """Frozen by the first part of each qualified name; AdamW with two param groups (no
    weight decay for 1-d parameters), both at lr."""
    frozen = [name for name, _ in model.named_children()][:num_frozen]
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        p.requires_grad = name.split(".")[0] not in frozen
        if p.requires_grad:
            (decay if p.dim() > 1 else no_decay).append(p)
    groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, weight_decay=0.01)


@correct("07.fine_tune")
def prepare_fine_tuning_sets_of_ids(model, num_frozen, lr):
    """Every parameter trainable first, then the first children frozen; SGD with momentum
    over the trainable ones."""
    for p in model.parameters():
        p.requires_grad = True
    children = list(model.children())
    for i in range(num_frozen):
        for p in children[i].parameters():
            p.requires_grad = False
    trainable = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(trainable, lr=lr, momentum=0.9, nesterov=True)


# -- mistakes -------------------------------------------------------------------------------------


@mistake("07.fine_tune", hint="Build the optimizer over the trainable parameters only")
def prepare_fine_tuning_all_parameters(model, num_frozen, lr):
    model.requires_grad_(True)
    for child in list(model.children())[:num_frozen]:
        child.requires_grad_(False)
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


@mistake("07.fine_tune", hint="model.modules() walks every module at every depth")
def prepare_fine_tuning_modules_not_children(model, num_frozen, lr):
    model.requires_grad_(True)
    for module in list(model.modules())[1 : num_frozen + 1]:  # skips the model itself
        module.requires_grad_(False)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@mistake("07.fine_tune", hint="The list of trainable parameters is empty")
def prepare_fine_tuning_modules_with_root(model, num_frozen, lr):
    model.requires_grad_(True)
    for module in list(model.modules())[:num_frozen]:  # the first is the model itself
        module.requires_grad_(False)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@mistake("07.fine_tune", hint="These were frozen before the call")
def prepare_fine_tuning_never_unfreezes(model, num_frozen, lr):
    for child in list(model.children())[:num_frozen]:
        for p in child.parameters():
            p.requires_grad = False
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@mistake("07.fine_tune", hint="`scale` is a parameter of the model itself, in no child: set")
def prepare_fine_tuning_children_only(model, num_frozen, lr):
    for i, child in enumerate(model.children()):
        child.requires_grad_(i >= num_frozen)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@mistake("07.fine_tune", hint="`scale` is a parameter of the model itself, in no child: take")
def prepare_fine_tuning_optimizer_from_children(model, num_frozen, lr):
    model.requires_grad_(True)
    children = list(model.children())
    for child in children[:num_frozen]:
        child.requires_grad_(False)
    trainable = list({id(p): p for c in children[num_frozen:] for p in c.parameters()}.values())
    return torch.optim.SGD(trainable, lr=lr)


@mistake("07.fine_tune", hint="which yields a shared (tied) parameter once")
def prepare_fine_tuning_tied_twice(model, num_frozen, lr):
    model.requires_grad_(True)
    for child in list(model.children())[:num_frozen]:
        child.requires_grad_(False)
    trainable = [p for m in model.modules() for p in m.parameters(recurse=False) if p.requires_grad]
    return torch.optim.SGD(trainable, lr=lr)


@mistake("07.fine_tune", hint="such as Adam's 0.001, is not lr")
def prepare_fine_tuning_default_lr(model, num_frozen, lr):
    model.requires_grad_(True)
    for child in list(model.children())[:num_frozen]:
        child.requires_grad_(False)
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad])


@mistake("07.fine_tune", hint="Return the optimizer itself")
def prepare_fine_tuning_returns_parameters(model, num_frozen, lr):
    model.requires_grad_(True)
    for child in list(model.children())[:num_frozen]:
        child.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


@mistake("07.fine_tune", hint="counts parameter tensors, not children")
def prepare_fine_tuning_first_parameters(model, num_frozen, lr):
    for i, p in enumerate(model.parameters()):
        p.requires_grad = i >= num_frozen
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@mistake("07.fine_tune", hint="Nothing is frozen")
def prepare_fine_tuning_module_attribute(model, num_frozen, lr):
    model.requires_grad_(True)
    for child in list(model.children())[:num_frozen]:
        child.requires_grad = False  # the mistake: a plain attribute on the module
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


# == 07.fit =======================================================================================

# -- correct alternatives -------------------------------------------------------------------------


def _named(name, fit):
    fit.__name__ = fit.__qualname__ = name
    return fit


fit_sgd = correct("07.fit")(_named("fit_sgd", _fit_with(lambda ps, lr: torch.optim.SGD(ps, lr=lr))))
fit_momentum = correct("07.fit")(
    _named("fit_momentum", _fit_with(lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9)))
)
fit_adam = correct("07.fit")(
    _named("fit_adam", _fit_with(lambda ps, lr: torch.optim.Adam(ps, lr=lr)))
)


@correct("07.fit")
def fit_inline_adamw_summed_loss(model, train_loader, val_loader, epochs, lr, device):
    """One function, AdamW with weight decay (lr=0 still moves nothing), the loss summed
    over the batch (Adam does not mind the scale), and a validation loss pass too."""
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    loss_sum = nn.CrossEntropyLoss(reduction="sum")
    train_loss, val_accuracy = [], []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_sum(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item()
        train_loss.append(total / len(train_loader.dataset))
        model.eval()
        with torch.no_grad():
            val_loss = sum(
                loss_sum(model(x.to(device)), y.to(device)).item() for x, y in val_loader
            )
            right = sum(
                (model(x.to(device)).argmax(1) == y.to(device)).sum().item() for x, y in val_loader
            )
        val_accuracy.append(right / len(val_loader.dataset))
        del val_loss
    return {"train_loss": train_loss, "val_accuracy": val_accuracy}


@correct("07.fit")
def fit_rmsprop_clipped(model, train_loader, val_loader, epochs, lr, device):
    """RMSprop (not one the check promises, but it gets there too), gradient clipping (fit's
    contract does not rule it out), each epoch's batches listed first, nested helpers."""
    model.to(device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=lr)

    def one_epoch():
        model.train()
        total = 0.0
        for x, y in list(train_loader):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            total += loss.item() * x.size(0)
        return total / len(train_loader.dataset)

    @torch.inference_mode()
    def accuracy():
        model.eval()
        right = sum(
            int((model(x.to(device)).argmax(1) == y.to(device)).sum()) for x, y in val_loader
        )
        return right / len(val_loader.dataset)

    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(one_epoch())
        history["val_accuracy"].append(accuracy())
    return history


def _fit_calling_the_notebooks_helpers(model, train_loader, val_loader, epochs, lr, device):
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    loss_fn = nn.CrossEntropyLoss()
    train_loss, val_accuracy = [], []
    for _ in range(epochs):
        train_loss.append(train_one_epoch(model, train_loader, loss_fn, optimizer, device))  # noqa: F821
        val_accuracy.append(evaluate(model, val_loader, device))  # noqa: F821
    return {"train_loss": train_loss, "val_accuracy": val_accuracy}


# The notebook's namespace: fit finds the learner's own (correct, differently written)
# train_one_epoch and evaluate there, next to the notebook's global device.
_NOTEBOOK = {
    "torch": torch,
    "nn": nn,
    "device": torch.device("cpu"),
    "train_one_epoch": train_one_epoch_counted_from_one,
    "evaluate": evaluate_inference_mode_decorator,
}
fit_calling_the_notebooks_helpers = correct("07.fit", extra=_NOTEBOOK)(
    types.FunctionType(
        _fit_calling_the_notebooks_helpers.__code__, _NOTEBOOK, "fit_calling_the_notebooks_helpers"
    )
)


# -- mistakes -------------------------------------------------------------------------------------


@mistake("07.fit", hint="ignores the lr the caller chose")
def fit_ignores_lr(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.Adam(model.parameters())  # the mistake: Adam's default lr
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="fit never ran over val_loader")
def fit_never_evaluates(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        total = right = count = 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            outputs = model(x)
            loss = F.cross_entropy(outputs, y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            right += (outputs.argmax(1) == y).sum().item()  # the mistake: training batches
            count += len(y)
        history["train_loss"].append(total / count)
        history["val_accuracy"].append(right / count)
    return history


@mistake("07.fit", hint="fit measured the accuracy on train_loader")
def fit_training_accuracy(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        history["val_accuracy"].append(_evaluate(model, train_loader, device))
    return history


@mistake("07.fit", hint="fit evaluates before the epoch's training")
def fit_evaluates_before_training(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
    return history


@mistake("07.fit", hint="Evaluate on val_loader once per epoch, right after")
def fit_evaluates_once_at_the_end(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = [
        _train_one_epoch(model, train_loader, loss_fn, optimizer, device) for _ in range(epochs)
    ]
    accuracy = _evaluate(model, val_loader, device)
    return {"train_loss": losses, "val_accuracy": [accuracy] * epochs}


@mistake("07.fit", hint="That is the mean of the batch means: the last batch has 4")
def fit_unweighted_train_loss(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        losses = []
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history["train_loss"].append(sum(losses) / len(losses))
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="The total runs on across epochs")
def fit_total_not_reset(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_accuracy": []}
    total = 0.0  # the mistake: set once, not per epoch
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        history["train_loss"].append(total / len(train_loader.dataset))
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="NLLLoss expects log-probabilities")
def fit_nll_on_logits(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.NLLLoss()  # the mistake: on raw outputs, without log_softmax
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="give the accuracy as a fraction in [0, 1]")
def fit_percent_accuracy(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        history["val_accuracy"].append(100 * _evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="One entry per epoch, not per batch")
def fit_entry_per_batch(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            history["train_loss"].append(loss.item())  # the mistake: one entry per batch
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="Return a dict of two lists")
def fit_returns_tuple(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    train_loss, val_accuracy = [], []
    for _ in range(epochs):
        train_loss.append(_train_one_epoch(model, train_loader, loss_fn, optimizer, device))
        val_accuracy.append(_evaluate(model, val_loader, device))
    return train_loss, val_accuracy


@mistake("07.fit", hint="and its step(), not by hand")
def fit_manual_update(model, train_loader, val_loader, epochs, lr, device):
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            model.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad  # the mistake: no torch.optim optimizer
            total += loss.item() * len(y)
        history["train_loss"].append(total / len(train_loader.dataset))
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="call optimizer.step() after each loss.backward()")
def fit_never_steps(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()  # the mistake: no optimizer.step()
            total += loss.item() * len(y)
        history["train_loss"].append(total / len(train_loader.dataset))
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="Check that each batch's loop does optimizer.zero_grad()")
def fit_zero_grad_before_step(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.zero_grad()  # the mistake: clears the gradients the step needs
            optimizer.step()
            total += loss.item() * len(y)
        history["train_loss"].append(total / len(train_loader.dataset))
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="the total and the sample count run on across epochs")
def fit_running_mean_across_epochs(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    history = {"train_loss": [], "val_accuracy": []}
    total, count = 0.0, 0  # the mistake: both set once, not per epoch
    for _ in range(epochs):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            count += len(y)
        history["train_loss"].append(total / count)
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="That is cross-entropy with label smoothing")
def fit_label_smoothing(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)  # the mistake: another loss
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        history["val_accuracy"].append(_evaluate(model, val_loader, device))
    return history


@mistake("07.fit", hint="without early stopping or a break")
def fit_early_stopping(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_accuracy": []}
    best = -1.0
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        accuracy = _evaluate(model, val_loader, device)
        history["val_accuracy"].append(accuracy)
        if accuracy < best + 0.01:  # the mistake: no better by 1 point, fewer entries
            break
        best = accuracy
    return history


@mistake("07.fit", hint="That is the accuracy of val_loader's last batch only")
def fit_last_validation_batch(model, train_loader, val_loader, epochs, lr, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        history["train_loss"].append(
            _train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        )
        model.eval()
        with torch.no_grad():
            for x, y in val_loader:
                x, y = x.to(device), y.to(device)
                accuracy = (model(x).argmax(1) == y).float().mean().item()  # the mistake
        history["val_accuracy"].append(accuracy)
    return history


@mistake("07.fit", hint="Adadelta's lr, for one, is a factor")
def fit_adadelta(model, train_loader, val_loader, epochs, lr, device):
    return _fit_with(lambda ps, lr: torch.optim.Adadelta(ps, lr=lr))(
        model, train_loader, val_loader, epochs, lr, device
    )
