"""Lesson 05: mistakes learners make writing ActivationRecorder and GradNormRecorder (context
managers that record what named submodules see), and correct recorders written in other
ways. Class names say what is wrong or different."""

from __future__ import annotations

import contextlib
import functools
import math
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch.nn.modules import module as module_api

from catalogue import correct, mistake
from helpers.hooks import Hooks

# -- 05.activation_recorder: the shape most mistakes start from --------------------------------


class _Recorder:
    """A correct recorder; each mistake below changes one thing."""

    def __init__(self, model, names):
        self.model = model
        self.names = list(names)
        self.activations = {name: [] for name in self.names}
        self.handles = []

    def snapshot(self, output):
        return output.detach().clone()

    def hook_for(self, name):
        def hook(module, args, output):
            self.activations[name].append(self.snapshot(output))

        return hook

    def __enter__(self):
        for name in self.names:
            module = self.model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self.hook_for(name)))
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        for handle in self.handles:
            handle.remove()
        self.handles = []


# -- 05.activation_recorder: mistakes -----------------------------------------------------------


@mistake("05.activation_recorder", hint="This stores the output itself")
class StoresTheOutputItself(_Recorder):
    def snapshot(self, output):
        return output


@mistake("05.activation_recorder", hint="`.clone()` alone keeps the snapshot in the graph")
class ClonesWithoutDetaching(_Recorder):
    def snapshot(self, output):
        return output.clone()


@mistake("05.activation_recorder", hint="`.detach()` shares storage with the output")
class DetachesWithoutCloning(_Recorder):
    def snapshot(self, output):
        return output.detach()


@mistake("05.activation_recorder", hint="`.data` shares storage with the output")
class StoresData(_Recorder):
    def snapshot(self, output):
        return output.data


@mistake("05.activation_recorder", hint="A NumPy array made with .numpy() shares memory")
class StoresNumpyArrays(_Recorder):
    def snapshot(self, output):
        return output.detach().cpu().numpy()


@mistake("05.activation_recorder", hint="__enter__ returns None (it has no `return`)")
class EnterReturnsNone(_Recorder):
    def __enter__(self):
        super().__enter__()


@mistake("05.activation_recorder", hint="__enter__ returns the dict recorder.activations")
class EnterReturnsTheActivations(_Recorder):
    def __enter__(self):
        super().__enter__()
        return self.activations  # "with ActivationRecorder(...) as acts:"


@mistake("05.activation_recorder", hint="emptying or dropping the list of handles")
class DropsTheHandles(_Recorder):
    def __exit__(self, exc_type, exc_value, traceback):
        self.handles = []  # the hooks stay on the modules


@mistake("05.activation_recorder", hint="removed when the block ended normally but not when")
class ContextmanagerWithoutFinally(_Recorder):
    @contextlib.contextmanager
    def recording(self):
        handles = [
            self.model.get_submodule(name).register_forward_hook(self.hook_for(name))
            for name in self.names
        ]
        yield self
        for handle in handles:  # skipped when the block raises: no try/finally
            handle.remove()

    def __enter__(self):
        self.context = self.recording()
        return self.context.__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        return self.context.__exit__(exc_type, exc_value, traceback)


@mistake("05.activation_recorder", hint="Only first-level names were recorded")
class LooksUpNamedChildren(_Recorder):
    def __enter__(self):
        for name, module in self.model.named_children():
            if name in self.names:
                self.handles.append(module.register_forward_hook(self.hook_for(name)))
        return self


@mistake("05.activation_recorder", hint="getattr(model, name), model._modules and named_children")
class LooksUpWithGetattr(_Recorder):
    def __enter__(self):
        for name in self.names:
            module = getattr(self.model, name)
            self.handles.append(module.register_forward_hook(self.hook_for(name)))
        return self


@mistake("05.activation_recorder", hint="is keyed by the modules")
class KeyedByModule(_Recorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        self.modules = [model.get_submodule(name) for name in self.names]
        self.activations = {module: [] for module in self.modules}

    def __enter__(self):
        for module in self.modules:
            self.handles.append(module.register_forward_hook(self.hook))
        return self

    def hook(self, module, args, output):
        self.activations[module].append(output.detach().clone())


@mistake("05.activation_recorder", hint="a list made only when the module first runs")
class CreatesListsLazily(_Recorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        self.activations = {}

    def hook_for(self, name):
        def hook(module, args, output):
            self.activations.setdefault(name, []).append(output.detach().clone())

        return hook


@mistake("05.activation_recorder", hint="which makes the key only when it is read")
class UnfilledDefaultdict(_Recorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        self.activations = defaultdict(list)


@mistake("05.activation_recorder", hint="the hook overwrites instead of appending")
class OverwritesTheSnapshot(_Recorder):
    def hook_for(self, name):
        def hook(module, args, output):
            self.activations[name] = [output.detach().clone()]

        return hook


@mistake("05.activation_recorder", hint="the hooks were registered twice")
class RegistersInInitAndEnter(_Recorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        for name in self.names:  # "ready to record" ... and __enter__ registers again
            module = model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self.hook_for(name)))


@mistake("05.activation_recorder", hint="the recorder removed hooks it did not add")
class ClearsTheHookDicts(_Recorder):
    def __exit__(self, exc_type, exc_value, traceback):
        for name in self.names:
            self.model.get_submodule(name)._forward_hooks.clear()  # "remove all hooks"


@mistake("05.activation_recorder", hint="This is the module's input")
class RecordsTheInput(_Recorder):
    def hook_for(self, name):
        def hook(module, args):
            self.activations[name].append(args[0].detach().clone())

        return hook

    def __enter__(self):
        for name in self.names:
            module = self.model.get_submodule(name)
            self.handles.append(module.register_forward_pre_hook(self.hook_for(name)))
        return self


@mistake("05.activation_recorder", hint="A global hook (torch.nn.modules.module.register_module")
class GlobalHookNeverRemoved(_Recorder):
    def __enter__(self):
        wanted = {self.model.get_submodule(name): name for name in self.names}

        def hook(module, args, output):
            if module in wanted:
                self.activations[wanted[module]].append(output.detach().clone())

        module_api.register_module_forward_hook(hook)  # the handle is thrown away
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        pass


@mistake("05.activation_recorder", hint="A forward hook's return value replaces the module's")
class HookReturnsTheSnapshot(_Recorder):
    def hook_for(self, name):
        def hook(module, args, output):
            snapshot = output.detach().clone()
            self.activations[name].append(snapshot)
            return snapshot

        return hook


@mistake("05.activation_recorder", hint="__exit__ swallows the exception")
class ExitReturnsTrue(_Recorder):
    def __exit__(self, exc_type, exc_value, traceback):
        super().__exit__(exc_type, exc_value, traceback)
        return True  # "exited successfully"


@mistake("05.activation_recorder", hint="Python calls __exit__ with three arguments")
class ExitWithoutArguments(_Recorder):
    def __exit__(self):
        for handle in self.handles:
            handle.remove()


@mistake("05.activation_recorder", hint="A @contextmanager function gives a generator's")
@contextlib.contextmanager
def recorder_function(model, names):
    activations = {name: [] for name in names}
    handles = []
    for name in names:

        def hook(module, args, output, name=name):
            activations[name].append(output.detach().clone())

        handles.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        yield activations
    finally:
        for handle in handles:
            handle.remove()


@mistake("05.activation_recorder", hint="do not clear them, delete them or make a new dict")
class ClearsOnExit(_Recorder):
    def __exit__(self, exc_type, exc_value, traceback):
        super().__exit__(exc_type, exc_value, traceback)
        for snapshots in self.activations.values():
            snapshots.clear()  # "free the memory"


@mistake("05.activation_recorder", hint="A `with` statement needs __enter__")
class StartAndStopMethods:
    """start() and stop() instead of __enter__ and __exit__."""

    def __init__(self, model, names):
        self.model = model
        self.activations = {name: [] for name in names}
        self.handles = []

    def start(self):
        for name, snapshots in self.activations.items():

            def hook(module, args, output, snapshots=snapshots):
                snapshots.append(output.detach().clone())

            module = self.model.get_submodule(name)
            self.handles.append(module.register_forward_hook(hook))
        return self

    def stop(self):
        for handle in self.handles:
            handle.remove()


@mistake("05.activation_recorder", hint="all read the loop variable `name` when they run")
class HooksShareTheLoopVariable(_Recorder):
    def __enter__(self):
        for name in self.names:

            def hook(module, args, output):  # reads `name` when it runs: the last name
                self.activations[name].append(output.detach().clone())  # noqa: B023

            self.handles.append(self.model.get_submodule(name).register_forward_hook(hook))
        return self


@mistake("05.activation_recorder", hint="dict.fromkeys(names, []) puts ONE list")
class OneListForEveryName(_Recorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        self.activations = dict.fromkeys(self.names, [])  # noqa: RUF024


@mistake("05.activation_recorder", hint="filed under another name")
class PairsNamesWithModulesByPosition(_Recorder):
    def __enter__(self):
        # the named modules in registration order, zipped with names in the order given
        modules = [m for n, m in self.model.named_modules() if n in self.names]
        for name, module in zip(self.names, modules, strict=True):
            self.handles.append(module.register_forward_hook(self.hook_for(name)))
        return self


class _SaysItIsClose(torch.Tensor):
    """Hostile: a tensor subclass whose torch.isclose / torch.equal answer yes to anything."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.isclose, torch.Tensor.isclose):
            return torch.ones(args[0].shape, dtype=torch.bool)
        if func in (torch.equal, torch.allclose):
            return True
        return super().__torch_function__(func, types, args, kwargs)


@mistake("05.activation_recorder", hint="Append `output.detach().clone()`, the module's output")
class SnapshotsThatSayTheyAreClose(_Recorder):
    """Zeros dressed up as a tensor subclass that agrees with every comparison."""

    def snapshot(self, output):
        return torch.zeros_like(output.detach()).as_subclass(_SaysItIsClose)


# -- 05.activation_recorder: correct alternatives ------------------------------------------------


@correct("05.activation_recorder")
class RecorderOnHooks(Hooks):
    """Built on helpers.hooks.Hooks (its __enter__ returns self, its __exit__ removes all);
    `.clone().detach()`."""

    def __init__(self, model, names):
        super().__init__()
        self.model = model
        self.activations = {name: [] for name in names}

    def __enter__(self):
        for name in self.activations:
            self.forward(self.model.get_submodule(name), functools.partial(self._hook, name))
        return self

    def _hook(self, name, module, args, output):
        self.activations[name].append(output.clone().detach())


@correct("05.activation_recorder")
class RecorderWithAGlobalHook:
    """One global forward hook filtered by module; a copy made under torch.no_grad();
    hooks kept in a contextlib.ExitStack."""

    def __init__(self, model, names):
        modules = dict(model.named_modules())
        self.wanted = {id(modules[name]): name for name in names}
        self.activations = {name: [] for name in names}

    def _hook(self, module, args, output):
        name = self.wanted.get(id(module))
        if name is not None:
            with torch.no_grad():
                self.activations[name].append(output.clone())

    def __enter__(self):
        self.stack = contextlib.ExitStack()
        handle = module_api.register_module_forward_hook(self._hook)
        self.stack.callback(handle.remove)
        return self

    def __exit__(self, *exc_info):
        self.stack.close()
        return False


@correct("05.activation_recorder")
class RecorderRegisteringInInit:
    """Hooks registered in __init__ (the contract only speaks of the block and of exit),
    names walked with functools.reduce(getattr, ...), a prefilled defaultdict, snapshots
    made with torch.empty_like + copy_."""

    def __init__(self, model, names):
        self.activations = defaultdict(list)
        self.handles = []
        for name in names:
            self.activations[name]  # the key exists before the module runs
            module = functools.reduce(getattr, name.split("."), model)
            self.handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def hook(module, args, output):
            copy = torch.empty_like(output, requires_grad=False)
            with torch.no_grad():
                copy.copy_(output)
            self.activations[name].append(copy)

        return hook

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        while self.handles:
            self.handles.pop().remove()


@correct("05.activation_recorder")
class RecorderDelegatingToAGenerator:
    """__enter__/__exit__ delegate to a @contextmanager method with try/finally; hooks
    with_kwargs=True; names found by walking named_modules()."""

    def __init__(self, model, names):
        self.model = model
        self.names = names
        self.activations = {name: [] for name in names}

    @contextlib.contextmanager
    def _recording(self):
        handles = []
        try:
            for name, module in self.model.named_modules():
                if name in self.activations:

                    def hook(module, args, kwargs, output, name=name):
                        self.activations[name].append(output.detach().clone())

                    handles.append(module.register_forward_hook(hook, with_kwargs=True))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def __enter__(self):
        self._context = self._recording()
        return self._context.__enter__()

    def __exit__(self, *exc_info):
        return self._context.__exit__(*exc_info)


@correct("05.activation_recorder")
@dataclass
class RecorderAsADataclassWithInferenceMode:
    """A dataclass; snapshots copied under torch.inference_mode() (inference tensors have
    no version counter); hooks registered with always_call=True."""

    model: torch.nn.Module
    names: list
    activations: dict = field(init=False)
    handles: list = field(default_factory=list)

    def __post_init__(self):
        self.activations = {name: [] for name in self.names}

    def __enter__(self):
        for name in self.names:
            module = self.model.get_submodule(name)
            hook = functools.partial(self._record, name)
            self.handles.append(module.register_forward_hook(hook, always_call=True))
        return self

    def _record(self, name, module, args, output):
        with torch.inference_mode():
            self.activations[name].append(output.clone())

    def __exit__(self, *exc_info):
        for handle in self.handles:
            handle.remove()


# -- 05.grad_norms: the shape most mistakes start from -------------------------------------------


class _GradRecorder:
    """A correct recorder; each mistake below changes one thing."""

    def __init__(self, model, names):
        self.model = model
        self.names = list(names)
        self.norms = {name: [] for name in self.names}
        self.handles = []

    def norm(self, module, grad_input, grad_output):
        return grad_output[0].norm().item()

    def hook_for(self, name):
        def hook(module, grad_input, grad_output):
            self.norms[name].append(self.norm(module, grad_input, grad_output))

        return hook

    def __enter__(self):
        for name in self.names:
            module = self.model.get_submodule(name)
            self.handles.append(module.register_full_backward_hook(self.hook_for(name)))
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        for handle in self.handles:
            handle.remove()
        self.handles = []


# -- 05.grad_norms: mistakes ----------------------------------------------------------------------


@mistake("05.grad_norms", hint="the norm of the gradient with respect to the module's input")
class NormOfGradInput(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_input[0].norm().item()


@mistake("05.grad_norms", hint="the norm of the module's parameter gradients (.grad)")
class NormOfParameterGrads(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        total = sum(p.grad.pow(2).sum() for p in module.parameters() if p.grad is not None)
        return float(total) ** 0.5


@mistake("05.grad_norms", hint="Append a Python float: `.item()` of the norm")
class StoresTensors(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_output[0].norm()


@mistake("05.grad_norms", hint="This is the squared norm")
class SquaredNorm(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_output[0].pow(2).sum().item()


@mistake("05.grad_norms", hint="This is a mean (or another average), not the L2 norm")
class MeanOfTheGradient(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_output[0].abs().mean().item()


@mistake("05.grad_norms", hint="This averages one norm per row")
class MeanOfRowNorms(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_output[0].norm(dim=-1).mean().item()  # "per sample, then averaged"


@mistake("05.grad_norms", hint="not one norm per row (dim=...)")
class RowNorms(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_output[0].norm(dim=1).tolist()


@mistake("05.grad_norms", hint="This is the L1 norm")
class L1Norm(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return torch.linalg.vector_norm(grad_output[0], ord=1).item()


@mistake("05.grad_norms", hint="register_backward_hook is deprecated")
class DeprecatedBackwardHook(_GradRecorder):
    def __enter__(self):
        for name in self.names:
            module = self.model.get_submodule(name)
            self.handles.append(module.register_backward_hook(self.hook_for(name)))
        return self


@mistake("05.grad_norms", hint="A forward hook that puts a tensor hook on the output")
class TensorHookOnTheOutput(_GradRecorder):
    def hook_for(self, name):
        def on_gradient(grad):
            self.norms[name].append(grad.norm().item())

        def hook(module, args, output):
            if output.requires_grad:  # guarded: no error on a frozen layer or under no_grad
                output.register_hook(on_gradient)

        return hook

    def __enter__(self):
        for name in self.names:
            module = self.model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self.hook_for(name)))
        return self


@mistake("05.grad_norms", hint="Each list holds only the last pass")
class OverwritesTheNorms(_GradRecorder):
    def hook_for(self, name):
        def hook(module, grad_input, grad_output):
            self.norms[name] = [grad_output[0].norm().item()]

        return hook


@mistake("05.grad_norms", hint="grad_output is a tuple")
class NormOfTheTuple(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return grad_output.norm().item()


@mistake("05.grad_norms", hint="A full backward hook's return value replaces grad_input")
class HookReturnsTheNorm(_GradRecorder):
    def hook_for(self, name):
        def hook(module, grad_input, grad_output):
            norm = grad_output[0].norm().item()
            self.norms[name].append(norm)
            return norm

        return hook


@mistake("05.grad_norms", hint="__enter__ returns None (it has no `return`)")
class GradEnterReturnsNone(_GradRecorder):
    def __enter__(self):
        super().__enter__()


@mistake("05.grad_norms", hint="The hooks were removed when the block ended normally but not")
class GradContextmanagerWithoutFinally(_GradRecorder):
    @contextlib.contextmanager
    def recording(self):
        handles = [
            self.model.get_submodule(name).register_full_backward_hook(self.hook_for(name))
            for name in self.names
        ]
        yield self
        for handle in handles:
            handle.remove()

    def __enter__(self):
        self.context = self.recording()
        return self.context.__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        return self.context.__exit__(exc_type, exc_value, traceback)


@mistake("05.grad_norms", hint="Only first-level names got a hook")
class GradLooksUpNamedChildren(_GradRecorder):
    def __enter__(self):
        for name, module in self.model.named_children():
            if name in self.names:
                self.handles.append(module.register_full_backward_hook(self.hook_for(name)))
        return self


@mistake("05.grad_norms", hint="(setdefault, or a defaultdict, which makes the key only when")
class GradCreatesListsLazily(_GradRecorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        self.norms = defaultdict(list)


@mistake("05.grad_norms", hint="keep the handle it returns and call its remove() in __exit__")
class GradGlobalHookNeverRemoved(_GradRecorder):
    def __enter__(self):
        wanted = {self.model.get_submodule(name): name for name in self.names}

        def hook(module, grad_input, grad_output):
            if module in wanted:
                self.norms[wanted[module]].append(grad_output[0].norm().item())

        module_api.register_module_full_backward_hook(hook)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        pass


@mistake("05.grad_norms", hint="all read the loop variable `name` when they run")
class GradHooksShareTheLoopVariable(_GradRecorder):
    def __enter__(self):
        for name in self.names:

            def hook(module, grad_input, grad_output):  # reads `name` late: the last name
                self.norms[name].append(grad_output[0].norm().item())  # noqa: B023

            module = self.model.get_submodule(name)
            self.handles.append(module.register_full_backward_hook(hook))
        return self


@mistake("05.grad_norms", hint="dict.fromkeys(names, []) puts ONE list")
class GradOneListForEveryName(_GradRecorder):
    def __init__(self, model, names):
        super().__init__(model, names)
        self.norms = dict.fromkeys(self.names, [])  # noqa: RUF024


@mistake("05.grad_norms", hint="largest singular value")
class GradSpectralNorm(_GradRecorder):
    def norm(self, module, grad_input, grad_output):
        return torch.linalg.norm(grad_output[0], 2).item()  # "the 2-norm" of a matrix


@mistake("05.grad_norms", hint="the recorder removed hooks it did not add")
class GradClearsTheBackwardHookDicts(_GradRecorder):
    def __exit__(self, exc_type, exc_value, traceback):
        for name in self.names:
            self.model.get_submodule(name)._backward_hooks.clear()  # "remove all hooks"


# -- 05.grad_norms: correct alternatives --------------------------------------------------------


@correct("05.grad_norms")
class GradRecorderWithPreHooks:
    """Full backward pre-hooks (they see grad_output only); torch.linalg.vector_norm;
    names found in dict(model.named_modules())."""

    def __init__(self, model, names):
        modules = dict(model.named_modules())
        self.modules = {name: modules[name] for name in names}
        self.norms = {name: [] for name in names}

    def __enter__(self):
        self.handles = [
            module.register_full_backward_pre_hook(functools.partial(self._hook, name))
            for name, module in self.modules.items()
        ]
        return self

    def _hook(self, name, module, grad_output):
        self.norms[name].append(float(torch.linalg.vector_norm(grad_output[0])))

    def __exit__(self, *exc_info):
        for handle in self.handles:
            handle.remove()


@correct("05.grad_norms")
class GradRecorderWithAGlobalHook:
    """One global full backward hook filtered by module; the square root of the sum of
    squares; hooks registered in __init__ (the contract speaks of the block and of exit)."""

    def __init__(self, model, names):
        self.names_of = {id(model.get_submodule(name)): name for name in names}
        self.norms = {name: [] for name in names}
        self.handle = module_api.register_module_full_backward_hook(self._hook)

    def _hook(self, module, grad_input, grad_output):
        name = self.names_of.get(id(module))
        if name is not None:
            self.norms[name].append(grad_output[0].pow(2).sum().sqrt().item())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.handle.remove()
        return None


@correct("05.grad_norms")
class GradRecorderOnHooks(Hooks):
    """Built on helpers.hooks.Hooks; names walked with functools.reduce(getattr, ...);
    the norm in float64."""

    def __init__(self, model, names):
        super().__init__()
        self.model = model
        self.norms = defaultdict(list, {name: [] for name in names})

    def __enter__(self):
        for name in list(self.norms):
            module = functools.reduce(getattr, name.split("."), self.model)
            self.backward(module, self._hook_for(name))
        return self

    def _hook_for(self, name):
        def hook(module, grad_input, grad_output):
            self.norms[name].append(grad_output[0].double().norm().item())

        return hook


@correct("05.grad_norms")
class GradRecorderWithExitStack(contextlib.AbstractContextManager):
    """contextlib.AbstractContextManager (its __enter__ returns self); handles removed by an
    ExitStack; hooks registered with prepend=True; math.sqrt of a dot product."""

    def __init__(self, model, names):
        self.model = model
        self.norms = {name: [] for name in names}
        self.stack = contextlib.ExitStack()

    def __enter__(self):
        for name in self.norms:
            module = self.model.get_submodule(name)
            handle = module.register_full_backward_hook(self._hook_for(name), prepend=True)
            self.stack.callback(handle.remove)
        return super().__enter__()

    def _hook_for(self, name):
        def hook(module, grad_input, grad_output):
            g = grad_output[0].reshape(-1)
            self.norms[name].append(math.sqrt(torch.dot(g, g).item()))

        return hook

    def __exit__(self, *exc_info):
        self.stack.close()
