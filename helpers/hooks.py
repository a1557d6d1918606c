"""``Hooks``: an owner of hook handles that removes them all, also when an error occurs.

Lesson 05 writes this class out first, then uses it from here. A hook registered and
never removed keeps running (and keeps whatever it stores alive) for as long as its
module lives; re-running a notebook cell that registers one adds another each time.
Owning the handles in one object, and removing them when a ``with`` block ends, makes
that impossible to forget.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from helpers.hooks import Hooks
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> shapes = []
    >>> with Hooks() as hooks:
    ...     for layer in model:
    ...         _ = hooks.forward(layer, lambda module, args, output: shapes.append(output.shape))
    ...     y = model(torch.randn(5, 3))
    >>> [tuple(s) for s in shapes]
    [(5, 4), (5, 4), (5, 2)]
    >>> len(hooks), len(model[0]._forward_hooks)
    (0, 0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

__all__ = ["Hooks"]

Hook = Callable[..., Any]


class Hooks:
    """Registers hooks through torch's own methods and owns their handles.

    Every ``forward``/``forward_pre``/``backward``/``backward_pre``/``tensor`` call
    registers one hook (keyword arguments such as ``prepend=True``, ``with_kwargs=True``
    or ``always_call=True`` are passed to torch) and returns its handle; ``add`` takes a
    handle registered any other way (a global hook, a state_dict hook). ``remove()``
    removes every hook still owned, newest first; leaving a ``with Hooks() as hooks:``
    block calls it, whether the block finished or raised (the exception propagates).
    """

    def __init__(self) -> None:
        self.handles: list[RemovableHandle] = []

    def add(self, handle: RemovableHandle) -> RemovableHandle:
        """Own ``handle`` (anything with a ``remove()`` method) and return it."""
        self.handles.append(handle)
        return handle

    def forward_pre(self, module: nn.Module, hook: Hook, **kwargs: Any) -> RemovableHandle:
        """``module.register_forward_pre_hook(hook, **kwargs)``, owned."""
        return self.add(module.register_forward_pre_hook(hook, **kwargs))

    def forward(self, module: nn.Module, hook: Hook, **kwargs: Any) -> RemovableHandle:
        """``module.register_forward_hook(hook, **kwargs)``, owned."""
        return self.add(module.register_forward_hook(hook, **kwargs))

    def backward_pre(self, module: nn.Module, hook: Hook, **kwargs: Any) -> RemovableHandle:
        """``module.register_full_backward_pre_hook(hook, **kwargs)``, owned."""
        return self.add(module.register_full_backward_pre_hook(hook, **kwargs))

    def backward(self, module: nn.Module, hook: Hook, **kwargs: Any) -> RemovableHandle:
        """``module.register_full_backward_hook(hook, **kwargs)``, owned."""
        return self.add(module.register_full_backward_hook(hook, **kwargs))

    def tensor(self, tensor: torch.Tensor, hook: Callable[[torch.Tensor], Any]) -> RemovableHandle:
        """``tensor.register_hook(hook)``, owned."""
        return self.add(tensor.register_hook(hook))

    def remove(self) -> None:
        """Remove every owned hook, newest first; calling it again does nothing."""
        while self.handles:
            self.handles.pop().remove()

    def __len__(self) -> int:
        return len(self.handles)

    def __iter__(self) -> Iterator[RemovableHandle]:
        return iter(list(self.handles))

    def __enter__(self) -> Hooks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"Hooks({len(self.handles)} registered)"
