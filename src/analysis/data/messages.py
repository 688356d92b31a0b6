"""Bounded error messages: a data or config value is never echoed at full length.

A message may quote a value a user wrote or a cell of their file; either can be huge (a 1 MB
cell, a YAML value that expanded) or private. :func:`short` bounds one value,
:func:`some` a list of them.
"""

from __future__ import annotations

import reprlib
from typing import Any, Iterable

__all__ = ["short", "some", "MAX_SHOWN"]

MAX_SHOWN = 5  # examples (rows, values, columns) shown before "and K more"

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 6
_REPR.maxlevel = 2


def short(value: Any) -> str:
    """``repr`` of a value, bounded (about 60 characters) for error messages.

    >>> short("x" * 1000)[:12], len(short("x" * 1000)) < 80
    ("'xxxxxxxxxxx", True)
    >>> short(list(range(100)))
    '[0, 1, 2, 3, 4, 5, ...]'
    """
    return _REPR.repr(value)


def some(items: Iterable[Any], *, limit: int = MAX_SHOWN, fmt=str) -> str:
    """Comma-separated first ``limit`` items, then "and K more".

    >>> some(range(8))
    '0, 1, 2, 3, 4 and 3 more'
    >>> some(["a", "b"], fmt=short)
    "'a', 'b'"
    """
    items = list(items)
    shown = ", ".join(fmt(x) for x in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
