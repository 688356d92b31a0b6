"""Showing tables and notes in a report notebook: rounded, readable, no index, no IDs."""

from __future__ import annotations

import pandas as pd

__all__ = ["show", "note", "nice_table"]


def nice_table(df: pd.DataFrame, digits: int = 2, rename: dict | None = None) -> pd.DataFrame:
    """Round floats, drop empty note columns and replace underscores in headers."""
    out = df.copy()
    if "note" in out and not out["note"].astype(str).str.len().any():
        out = out.drop(columns="note")
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            # Shares are shown as percentages; everything else rounded to `digits`.
            if str(col).startswith("share"):
                out[col] = (100 * out[col]).round(1)
                out = out.rename(columns={col: f"{col} (%)"})
            else:
                out[col] = out[col].round(digits)
    if rename:
        out = out.rename(columns=rename)
    out.columns = [str(c).replace("_", " ") for c in out.columns]
    return out


def note(text: str) -> None:
    """Display a plain-language note (e.g. why a section cannot be estimated)."""
    from IPython.display import Markdown, display

    display(Markdown(f"> **Note.** {text}"))


def show(obj, *, digits: int = 2, caption: str | None = None, rename: dict | None = None) -> None:
    """Display a DataFrame, or an :class:`~analysis.errors.Attempt` (its table or its note)."""
    from IPython.display import Markdown, display

    value = obj
    if hasattr(obj, "ok") and hasattr(obj, "note"):
        if not obj.ok:
            note(obj.note)
            return
        value = obj.value
    if caption:
        display(Markdown(f"*{caption}*"))
    if isinstance(value, pd.DataFrame):
        table = nice_table(value, digits, rename)
        display(table.style.hide(axis="index").format(precision=digits, thousands=",", na_rep="–"))
    else:
        display(value)
