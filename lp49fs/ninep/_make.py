"""``__init__``-free constructors for the frozen value classes, used by the fast decoders.

A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__`` (the
class's own ``__setattr__`` refuses), which is most of the cost of decoding a small message.
``maker(cls)`` returns a function with the same positional parameters that allocates with
``object.__new__`` and stores each field through its slot descriptor's ``__set__``: the
same stores, without the per-field attribute lookups.  The classes stay frozen (assignment
from outside still raises) and the objects are indistinguishable from ones built by
``cls(...)``: equal, same hash, same repr (a test checks this for every class).

Invariant: only for ``@dataclass(frozen=True, slots=True)`` classes with no ``__post_init__``
and no defaults that factories compute; every field must be passed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for frozen slotted dataclass ``cls`` that skips ``__init__``."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if not names:
        only = cls()
        return lambda: only  # field-less messages are all equal: share one
    if hasattr(cls, "__post_init__") or "__slots__" not in cls.__dict__:
        raise TypeError(f"maker needs a slotted dataclass without __post_init__: {cls}")
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    stores = []
    for i, name in enumerate(names):
        env[f"_s{i}"] = getattr(cls, name).__set__
        stores.append(f"    _s{i}(o, a{i})")
    params = ", ".join(f"a{i}" for i in range(len(names)))
    src = f"def make({params}):\n    o = _new(_cls)\n" + "\n".join(stores) + "\n    return o\n"
    exec(src, env)  # generated from field names only, as dataclasses does
    fn: Callable[..., T] = env["make"]
    fn.__qualname__ = f"maker({cls.__name__})"
    return fn
