"""The error and "not estimable" types every layer shares.

A statistic that the data cannot support raises :class:`InsufficientDataError` with a message
written for a report reader. A report step is run through :func:`attempt`, which turns that
error (and numerical failures of a fit) into an :class:`Attempt` carrying a note, so that the
section says why it is missing and the rest of the report still renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["InsufficientDataError", "Attempt", "attempt", "NOT_ESTIMABLE"]

#: Prefix of every note of a step that could not be estimated.
NOT_ESTIMABLE = "Not estimable"


class InsufficientDataError(ValueError):
    """Raised when a section has too little data for the requested statistic.

    The message is plain language (for example "no customer left in this data, so survival
    curves cannot be compared") so that a report can catch the error and print it.
    """


@dataclass
class Attempt:
    """The result of a report step that may not be estimable."""

    value: Any = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.note is None


def attempt(func: Callable, *args, **kwargs) -> Attempt:
    """Run one report step; turn "too little data" into a note instead of an error.

    Only :class:`InsufficientDataError` (and numerical failures of model fitting) become notes:
    programming errors still fail loudly.

    Examples
    --------
    >>> def fit():
    ...     raise InsufficientDataError("no customer left")
    >>> attempt(fit).note
    'Not estimable: no customer left'
    >>> attempt(lambda: 2).value
    2
    """
    try:
        return Attempt(value=func(*args, **kwargs))
    except InsufficientDataError as exc:
        return Attempt(note=f"{NOT_ESTIMABLE}: {exc}")
    except (np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError) as exc:
        return Attempt(note=f"{NOT_ESTIMABLE}: the model could not be fitted ({exc}).")
