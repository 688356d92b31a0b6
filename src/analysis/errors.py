"""The error and "not estimable" types every layer shares.

A statistic that the data cannot support raises :class:`InsufficientDataError` with a message
written for a report reader. A report step is run through :func:`attempt`, which turns that
error (and numerical failures of a fit) into an :class:`Attempt` carrying a note, so that the
section says why it is missing and the rest of the report still renders.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["InsufficientDataError", "ConvergenceWarning", "Attempt", "attempt", "Notes",
           "is_not_estimable", "NOT_ESTIMABLE"]

#: Prefix of every note of a step that could not be estimated.
NOT_ESTIMABLE = "Not estimable"


class InsufficientDataError(ValueError):
    """Raised when a section has too little data for the requested statistic.

    The message is plain language (for example "no customer left in this data, so survival
    curves cannot be compared") so that a report can catch the error and print it.
    """


class ConvergenceWarning(RuntimeWarning):
    """A fit stopped before converging; its estimates are shown with this caveat."""


@dataclass
class Attempt:
    """The result of a report step that may not be estimable."""

    value: Any = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.note is None


_NUMERICAL = (np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError)


def _run(func: Callable, args, kwargs, expected: tuple = ()) -> Attempt:
    try:
        return Attempt(value=func(*args, **kwargs))
    except InsufficientDataError as exc:
        return Attempt(note=f"{NOT_ESTIMABLE}: {exc}")
    except (*_NUMERICAL, *expected) as exc:
        return Attempt(note=f"{NOT_ESTIMABLE}: the model could not be fitted ({exc}).")


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
    return _run(func, args, kwargs)


def is_not_estimable(note: str | None) -> bool:
    """Whether a note says its step could not be estimated."""
    return bool(note) and note.startswith(NOT_ESTIMABLE)


class Notes(dict):
    """Section -> plain-language note, for a study with many steps (the same rules as
    :func:`attempt`).

    :meth:`attempt` runs a step and returns its value, or records ``"Not estimable: why"``
    under the section and returns None. Warnings a step raises (a fit that did not converge)
    are not hidden: each is recorded under ``"<section>_caution"`` for the report to show.

    Parameters
    ----------
    expected : tuple of exception types
        Further exceptions that mean "the data cannot support this step" for this study.

    Examples
    --------
    >>> notes = Notes()
    >>> notes.attempt("model", lambda: 1 / 0) is None, notes["model"][:25]
    (True, 'Not estimable: the model ')
    """

    def __init__(self, *args, expected: tuple = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = tuple(expected)

    def attempt(self, key: str, func: Callable, *args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # record every warning: it becomes a caution note
            res = _run(func, args, kwargs, self.expected)
        texts = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
        if texts:
            self[f"{key}_caution"] = "Caution: " + "; ".join(texts)
        if not res.ok:
            self[key] = res.note
        return res.value
