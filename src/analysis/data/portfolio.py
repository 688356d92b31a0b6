"""The in-memory bundle every report starts from."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

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
    """

    customers: pd.DataFrame
    panel: pd.DataFrame
    truth: dict | None = None
    source: str = "synthetic"
    fingerprint: str = ""
    exclusions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["customer_id", "reason"])
    )

    @property
    def window_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.panel["month"].min())

    @property
    def window_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.panel["month"].max())

    @property
    def branches(self) -> list[str]:
        return sorted(self.customers["branch"].astype(str).unique().tolist())

    def for_branch(self, branch: str | None) -> "Portfolio":
        """Return the sub-portfolio of one branch (``None`` = whole bank)."""
        if branch is None:
            return self
        if branch not in self.branches:
            raise ValueError(
                f"branch {branch!r} is not in the data (source {self.source}); "
                f"known branches: {', '.join(self.branches)}"
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
        )
