"""Import the researcher's entry point without touching their files."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import Any, Callable, Dict, Optional

_by_path: Dict[str, ModuleType] = {}


class LoadError(Exception):
    """Import or setup of the researcher's code failed; `cause` is their exception."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage} failed: {cause}")
        self.stage = stage
        self.cause = cause


class Model:
    """The researcher's per-frame callable, with the state their setup returned."""

    def __init__(self, fn: Callable[..., Any], state: Any = None, info: Optional[Dict[str, Any]] = None) -> None:
        self.fn = fn
        self.state = state
        self.pass_state = state is not None and _takes_two_positional(fn)
        self.takes_upstream = _takes_keyword(fn, "upstream")
        self.info: Dict[str, Any] = info or {}

    def __call__(self, image: Any, upstream: Optional[Dict[str, Any]] = None) -> Any:
        args = (image, self.state) if self.pass_state else (image,)
        if self.takes_upstream:
            return self.fn(*args, upstream=upstream)
        return self.fn(*args)


def load(entry: str, setup: Optional[str] = None, workdir: Optional[str] = None) -> Model:
    """Import `entry` (and `setup`) from `workdir`, run setup, return the per-frame callable; LoadError on failure."""
    try:
        if workdir:
            os.chdir(workdir)
        target = resolve(entry)
        setup_fn = resolve(setup) if setup else None
        if not callable(target):
            raise TypeError(f"{entry} is a {type(target).__name__}, not a function or class")
        if setup_fn is not None and not callable(setup_fn):
            raise TypeError(f"{setup} is a {type(setup_fn).__name__}, not a function")
    except (Exception, SystemExit) as exc:
        raise LoadError("import", exc) from exc
    try:
        state = setup_fn() if setup_fn is not None else None
        if inspect.isclass(target):
            target = target()
            if callable(getattr(target, "setup", None)):
                target.setup()
            if not callable(target):
                raise TypeError(f"{type(target).__name__} instances are not callable: define __call__(self, image)")
    except (Exception, SystemExit) as exc:
        raise LoadError("setup", exc) from exc
    model = Model(target, state, describe(target, entry))
    try:
        check_signature(model, entry)
    except TypeError as exc:
        raise LoadError("signature", exc) from exc
    return model


def check_signature(model: Model, entry: str) -> None:
    """TypeError naming the fix when the per-frame callable cannot take what Bedside passes (found at start-up,
    not as an error on every frame)."""
    try:
        # The callable's own signature, not a decorated function's (a functools.wraps wrapper may supply
        # arguments itself).
        sig = inspect.signature(model.fn, follow_wrapped=False)
    except (TypeError, ValueError):  # a builtin or C callable without a signature: the first frame will tell
        return
    args = ("image", "state") if model.pass_state else ("image",)
    kwargs = {"upstream": None} if model.takes_upstream else {}
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        name = entry.rpartition(":")[2] or "predict"
        call = f"{name}({', '.join(args)}{', upstream=...' if kwargs else ''})"
        raise TypeError(
            f"{name}{sig} cannot be called as {call}: {exc}. Bedside calls the entry with one image (a numpy array)"
            + (", then the state your setup returned" if model.pass_state else "")
            + ". Fix: point `entry:` at a function taking (image), or add a small adapter file that calls your "
            "code with the other arguments (docs/researchers.md, section 3: wrap your code without editing it)"
        ) from None


# What a research module or model object may declare about itself, and the names it may use for it.
_INFO_NAMES = {
    "version": ("version", "__version__", "VERSION", "MODEL_VERSION"),
    "classes": ("classes", "CLASSES", "class_names", "CLASS_NAMES"),
    "concepts": ("concepts", "CONCEPTS", "concept_names", "CONCEPT_NAMES"),
    "planes": ("planes", "PLANES", "plane_names", "PLANE_NAMES"),
}


def describe(target: Any, entry: str) -> Dict[str, Any]:
    """Version, class, concept and plane names the research code declares (on the object or its module), if any.

    Only read, never required: a model that declares nothing is described as {}.
    """
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    if module is None and inspect.ismodule(target):
        module = target
    info: Dict[str, Any] = {}
    for key, names in _INFO_NAMES.items():
        for owner in (target, module):
            if owner is None:
                continue
            value = next((getattr(owner, n) for n in names if _has(owner, n)), None)
            if value is None or callable(value):
                continue
            if key == "version":
                info[key] = str(value)
            else:
                try:
                    info[key] = [str(v) for v in list(value)][:1000]
                except TypeError:
                    continue
            break
    return info


def _has(owner: Any, name: str) -> bool:
    try:
        return getattr(owner, name, None) is not None
    except Exception:  # a property that raises: not a declaration
        return False


def _takes_keyword(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind == inspect.Parameter.VAR_KEYWORD
        or (p.name == name and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))
        for p in params
    )


def resolve(spec: str) -> Any:
    """The object named by `path/to/file.py:name` or `package.module:name` (`name` may be dotted)."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise ValueError(f"entry {spec!r} should be 'path/to/file.py:function' or 'package.module:function'")
    if where.endswith(".py") or os.sep in where or "/" in where:
        module = import_path(where)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # the working directory, as `python -c` would have it
        module = importlib.import_module(where)
    obj: Any = module
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def import_path(path: str) -> ModuleType:
    """Import a .py file by path, its folder first on sys.path; the same file is imported once."""
    path = os.path.abspath(path)
    if path in _by_path:
        return _by_path[path]
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    folder = os.path.dirname(path)
    if sys.path[:1] != [folder]:
        sys.path.insert(0, folder)
    name = os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules or not name.isidentifier():
        name = f"_bedside_entry_{len(_by_path)}_{''.join(c if c.isalnum() else '_' for c in name)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, so dataclasses and pickling inside it work
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    _by_path[path] = module
    return module


def _takes_two_positional(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = [p.kind for p in params]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(k in positional for k in kinds) >= 2
