"""Run inside a subprocess with a skeleton folder first on sys.path: call every stub.

Usage: python skeleton_probe.py SKELETON_DIR < regions.json > outcomes.json

Reads a JSON list of regions ({"path", "qualname", "stub"}), imports `needle` (and every module that
holds a region), and calls each region's function with placeholder arguments that accept any
operation. Writes one JSON object per region: {"outcome": ..., "detail": ...} where outcome is
"raised" (NotImplementedError with exactly the stub message), "wrong-message", "other" (some other
exception, raised by given code before the region), "returned", "unreachable" (a nested function)
or "import-error".
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from typing import Any


class Anything:
    """A placeholder argument: every attribute, call, operator and index gives another one."""

    def __getattr__(self, name: str) -> Anything:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Anything()

    def __call__(self, *args: Any, **kwargs: Any) -> Anything:
        return Anything()

    def __getitem__(self, key: Any) -> Anything:
        return Anything()

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return True

    def __index__(self) -> int:
        return 1

    def __float__(self) -> float:
        return 1.0


def _operator(self: Anything, *args: Any) -> Anything:
    return Anything()


for _name in (
    "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv pow rpow matmul rmatmul "
    "mod rmod neg pos abs lt le gt ge and rand or ror"
).split():
    setattr(Anything, f"__{_name}__", _operator)


def _target(module: Any, qualname: str) -> tuple[Any, list[Any]] | None:
    """The plain function behind `qualname` and the leading arguments it needs, or None."""
    owner: Any = None
    raw: Any = module
    for part in qualname.split("."):
        if inspect.isfunction(raw):
            return None  # a function nested in a function cannot be reached from outside
        owner, raw = raw, inspect.getattr_static(raw, part)
    if not inspect.isclass(owner):
        return raw, []
    if isinstance(raw, staticmethod):
        return raw.__func__, []
    if isinstance(raw, classmethod):
        return raw.__func__, [owner]
    if isinstance(raw, property):
        raw = raw.fget
    probe_class = type(owner.__name__, (owner,), {"__getattr__": lambda self, name: Anything()})
    try:
        instance = object.__new__(probe_class)
    except TypeError:
        instance = Anything()
    return raw, [instance]


def _call(function: Any, leading: list[Any]) -> Any:
    args = list(leading)
    kwargs = {}
    parameters = list(inspect.signature(function).parameters.values())[len(leading) :]
    for parameter in parameters:
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            args.append(Anything())
        elif parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = Anything()
    result = function(*args, **kwargs)
    if inspect.isgenerator(result):
        next(result)
    return result


def probe(region: dict[str, str]) -> dict[str, str]:
    name = region["path"].removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    try:
        module = importlib.import_module(name)
    except Exception as error:
        return {"outcome": "import-error", "detail": f"{type(error).__name__}: {error}"}
    target = _target(module, region["qualname"])
    if target is None:
        return {"outcome": "unreachable", "detail": region["qualname"]}
    try:
        _call(*target)
    except NotImplementedError as error:
        outcome = "raised" if str(error) == region["stub"] else "wrong-message"
        return {"outcome": outcome, "detail": str(error)}
    except Exception as error:
        return {"outcome": "other", "detail": f"{type(error).__name__}: {error}"}
    return {"outcome": "returned", "detail": ""}


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    regions = json.load(sys.stdin)
    importlib.import_module("needle")
    json.dump([probe(region) for region in regions], sys.stdout)


if __name__ == "__main__":
    main()
