"""The in-memory bundle every report starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.data.messages import short, some

__all__ = ["Portfolio"]


@dataclass
class Portfolio:
    """A customer book observed monthly over a window.

    Attributes
    ----------
    customers : DataFrame
        One row per customer: ``customer_id``, ``branch``, ``open_date``, ``age_at_open``,
        ``gender``, ``engagement`` (measured engagement score; may be absent on real data).
    panel : DataFrame
        One row per customer and month on book inside the window: ``customer_id``, ``month``
        (first day of month), ``tenure_months`` (completed months on book at the start of the
        month), ``aum``, ``deposit_balance``, ``loan_balance``, ``n_products``, ``tier`` (1-5),
        ``segment`` (``deposit``/``loan``), ``profit`` (monthly), ``outflow`` (large fund outflow
        this month), ``closed`` (True on the month the relationship ended; the last row).
    truth : dict or None
        Ground truth of the synthetic generator (true coefficients...), None for real data.
    source : str
        Where the data came from (path or ``"synthetic"``).
    fingerprint : str
        Short content hash of the data, shown in report indexes.
    exclusions : DataFrame
        Rows excluded while loading, with the reason (never silently dropped).
    snapshot : DataFrame or None
        For one-row-per-customer extracts (see :mod:`analysis.data.mapping`): ``customer_id``,
        ``entry``, ``duration`` (months), ``event`` and the mapped columns. ``panel`` is then empty.
    mapping : object or None
        The parsed mapping file of a snapshot.
    notes : list of str
        What loading adjusted (e.g. zero durations), for reports to show.
    load_options : dict
        How the files were read (a mapping's encoding, allowed columns), so that a copy of the
        checked tables is used only for the same reading (:func:`analysis.data.write_validated`).
    sample : ModelSample or None
        Set when the tables hold a seeded sample of a large book's customers
        (:mod:`analysis.data.large_book`): how many, of how many, and the seed.
    """

    customers: pd.DataFrame
    panel: pd.DataFrame
    truth: dict | None = None
    source: str = "synthetic"
    fingerprint: str = ""
    exclusions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["customer_id", "reason"])
    )
    snapshot: pd.DataFrame | None = None
    mapping: Any = None
    notes: list = field(default_factory=list)
    load_options: dict = field(default_factory=dict, repr=False)
    sample: Any = None

    @property
    def kind(self) -> str:
        """``"panel"`` (monthly histories) or ``"snapshot"`` (one row per customer)."""
        return "snapshot" if self.snapshot is not None else "panel"

    @property
    def window_start(self) -> pd.Timestamp | None:
        if self.kind == "snapshot":
            return None
        return pd.Timestamp(self.panel["month"].min())

    @property
    def window_end(self) -> pd.Timestamp | None:
        """Last month observed; for a snapshot the mapping's ``as_of`` (None if not given)."""
        if self.kind == "snapshot":
            as_of = getattr(self.mapping, "as_of", None)
            return pd.Timestamp(as_of) if as_of else None
        return pd.Timestamp(self.panel["month"].max())

    @property
    def branches(self) -> list[str]:
        if self.kind == "snapshot":
            if "branch" not in self.snapshot:
                return []
            return sorted(self.snapshot["branch"].astype(str).unique().tolist())
        return sorted(self.customers["branch"].astype(str).unique().tolist())

    def for_branch(self, branch: str | None) -> "Portfolio":
        """Return the sub-portfolio of one branch (``None`` = whole bank)."""
        if branch is None:
            return self
        if branch not in self.branches:
            raise ValueError(
                f"branch {short(branch)} is not in the data (source {self.source}); "
                f"known branches: {some(self.branches, limit=20)}"
            )
        if self.kind == "snapshot":
            keep = self.snapshot["branch"].astype(str) == branch
            return Portfolio(
                customers=self.customers[keep.to_numpy()].reset_index(drop=True),
                panel=self.panel,
                truth=self.truth,
                source=self.source,
                fingerprint=self.fingerprint,
                exclusions=self.exclusions,
                snapshot=self.snapshot[keep].reset_index(drop=True),
                mapping=self.mapping,
                notes=self.notes,
            )
        ids = self.customers.loc[self.customers["branch"].astype(str) == branch, "customer_id"]
        return Portfolio(
            customers=self.customers[self.customers["customer_id"].isin(ids)].reset_index(drop=True),
            panel=self.panel[self.panel["customer_id"].isin(ids)].reset_index(drop=True),
            truth=self.truth,
            source=self.source,
            fingerprint=self.fingerprint,
            exclusions=self.exclusions[self.exclusions["customer_id"].isin(ids)]
            if len(self.exclusions)
            else self.exclusions,
            notes=self.notes,
            sample=self.sample,
        )
