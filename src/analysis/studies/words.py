"""Small wording helpers shared by the studies' findings."""

from __future__ import annotations

__all__ = ["p_text"]


def p_text(p: float) -> str:
    """A p-value as a report writes it.

    >>> p_text(0.0004), p_text(0.0312)
    ('p < 0.001', 'p = 0.031')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
