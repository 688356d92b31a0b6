"""Load a data source into a validated :class:`~analysis.data.portfolio.Portfolio`.

A *data source* is what reports take as their ``data`` parameter:

- ``"synthetic"``: the embedded default portfolio (generated into ``data/synthetic`` on first use);
- a directory holding ``customers`` and ``panel`` tables (``.parquet`` or ``.csv``; the panel may
  also be a directory of Parquet parts) and optionally ``truth.json``.

Loading validates everything and fails with a :class:`~analysis.data.schemas.DataValidationError`
naming the file, the column and the rows at fault. Nothing is dropped silently: customers that
cannot be used are listed in ``Portfolio.exclusions`` with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config
from analysis.data.mapping import is_mapping, load_snapshot, read_mapping
from analysis.data.portfolio import Portfolio
from analysis.data.schemas import (
    CUSTOMERS_SCHEMA,
    PANEL_SCHEMA,
    DataValidationError,
    problem,
    validate,
)

__all__ = [
    "ensure_default_data",
    "load_source",
    "load_panel",
    "load_customers",
    "list_branches",
    "validate_source",
    "ValidationSummary",
]


def ensure_default_data(out_dir: str | Path | None = None) -> Path:
    """Make sure the embedded default portfolio exists; generate it if missing or stale.

    The default is fully determined by :class:`~analysis.data.synthetic.SyntheticConfig`'s
    defaults and the generator's code (its hash is stored beside the data), so regenerating
    gives the same data; a change of either regenerates it.
    """
    from analysis.data import synthetic
    from analysis.data.synthetic import SyntheticConfig, generate_portfolio, write_portfolio

    out = Path(out_dir) if out_dir is not None else config.DEFAULT_DATA_DIR
    expected = json.loads(json.dumps(dataclasses.asdict(SyntheticConfig())))
    # The generator's source is part of the data's identity: a code change regenerates.
    stamp = hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:16]
    truth_file, stamp_file = out / "truth.json", out / "generator.sha"
    fresh = (
        (out / "panel.parquet").exists()
        and (out / "customers.parquet").exists()
        and truth_file.exists()
        and stamp_file.exists()
        and stamp_file.read_text().strip() == stamp
    )
    if fresh:
        try:
            if json.loads(truth_file.read_text()).get("config") == expected:
                return out
        except json.JSONDecodeError:
            pass
    write_portfolio(generate_portfolio(), out)
    tmp = out / ".generator.sha.tmp"
    tmp.write_text(stamp)
    tmp.replace(stamp_file)
    return out


def _find_table(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.parquet", folder / name, folder / f"{name}.csv"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{folder}: no '{name}' table found (expected {name}.parquet, {name}.csv or a "
        f"folder {name}/ of Parquet parts)"
    )


def _read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        parts = sorted(path.glob("*.parquet"))
        if not parts:
            raise FileNotFoundError(f"{path}: folder holds no .parquet parts")
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"customer_id": str})
    return pd.read_parquet(path)


def load_customers(path: str | Path) -> pd.DataFrame:
    """Read and validate a customers table."""
    path = Path(path)
    df = _read_table(path)
    if "customer_id" in df:
        df["customer_id"] = df["customer_id"].astype(str)
    return validate(df, CUSTOMERS_SCHEMA, str(path))


def load_panel(path: str | Path) -> pd.DataFrame:
    """Read and validate a monthly panel (schema plus month/tenure consistency).

    Checks, each reported with example rows: duplicated (customer, month) rows; months that are
    not consecutive within a customer (a gap) or whose tenure does not advance by one month per
    calendar month (months out of order); a ``closed`` flag on any row but a customer's last.
    The returned frame is sorted by customer and month.
    """
    path = Path(path)
    df = _read_table(path)
    if "customer_id" in df:
        df["customer_id"] = df["customer_id"].astype(str)
    df = validate(df, PANEL_SCHEMA, str(path))
    check_panel_consistency(df, str(path))
    return df.sort_values(["customer_id", "month"], kind="stable").reset_index(drop=True)


def check_panel_consistency(df: pd.DataFrame, source: str) -> None:
    """Raise :class:`DataValidationError` when months and tenures do not line up."""
    problems = []
    dup = df.duplicated(["customer_id", "month"], keep=False)
    if dup.any():
        problems.append(problem("month", "the same customer and month appear twice", np.flatnonzero(dup)))
    order = df.sort_values(["customer_id", "month"], kind="stable")
    mi = order["month"].dt.year * 12 + order["month"].dt.month
    same = order["customer_id"].eq(order["customer_id"].shift())
    step = (mi - mi.shift()).where(same)
    tstep = (order["tenure_months"] - order["tenure_months"].shift()).where(same)
    gap = same & (step > 1)
    if gap.any():
        problems.append(
            problem("month", "a gap in a customer's months (months must be consecutive)", order.index[gap])
        )
    bad_t = same & (step == 1) & (tstep != 1)
    if bad_t.any():
        problems.append(
            problem(
                "tenure_months",
                "months out of order: tenure does not advance by 1 each calendar month",
                order.index[bad_t],
                order.loc[bad_t, "tenure_months"],
            )
        )
    last = ~order["customer_id"].eq(order["customer_id"].shift(-1))
    early_close = order["closed"] & ~last
    if early_close.any():
        problems.append(
            problem(
                "closed",
                "the relationship is marked closed but months follow (closed must be the last month)",
                order.index[early_close],
            )
        )
    if problems:
        raise DataValidationError(source, problems)


def _cross_check(customers: pd.DataFrame, panel: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the two tables agree; return exclusions (customers with no panel months)."""
    problems = []
    unknown = ~panel["customer_id"].isin(customers["customer_id"])
    if unknown.any():
        problems.append(
            problem(
                "customer_id",
                "panel customers missing from the customers table",
                np.flatnonzero(unknown),
                panel.loc[unknown, "customer_id"].unique(),
            )
        )
    first = panel.groupby("customer_id", sort=False).head(1)
    merged = first.merge(customers[["customer_id", "open_date"]], on="customer_id", how="inner")
    opened = merged["open_date"].dt.year * 12 + merged["open_date"].dt.month
    seen = merged["month"].dt.year * 12 + merged["month"].dt.month
    wrong = (seen - opened) != merged["tenure_months"]
    if wrong.any():
        problems.append(
            problem(
                "tenure_months",
                "tenure does not match open_date (tenure = months since open_date)",
                first.index[first["customer_id"].isin(merged.loc[wrong, "customer_id"])],
                merged.loc[wrong, "tenure_months"],
            )
        )
    if problems:
        raise DataValidationError(source, problems)
    absent = customers.loc[~customers["customer_id"].isin(panel["customer_id"]), "customer_id"]
    return pd.DataFrame({"customer_id": absent, "reason": "no months on book inside the window"})


def _fingerprint_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:12]


def load_source(data: str | Path = "synthetic") -> Portfolio:
    """Load a data source (see module docstring) into a validated Portfolio.

    Parameters
    ----------
    data : str or Path
        ``"synthetic"`` for the embedded default, a directory with ``customers`` and ``panel``,
        or a YAML mapping file describing a one-row-per-customer extract
        (:mod:`analysis.data.mapping`).

    Raises
    ------
    DataValidationError
        When a table breaks its schema; the message names file, column and rows.
    FileNotFoundError
        When the source or one of its tables does not exist.
    """
    if is_mapping(data):
        mapping = read_mapping(data)
        if mapping.format == "snapshot":
            return load_snapshot(mapping)
        data = mapping.path
    if str(data) == "synthetic":
        folder = ensure_default_data()
        source = "synthetic"
    else:
        folder = Path(data).expanduser()
        source = str(folder)
        if not folder.exists():
            raise FileNotFoundError(f"data source {folder} does not exist")
    cust_path, panel_path = _find_table(folder, "customers"), _find_table(folder, "panel")
    customers = load_customers(cust_path)
    panel = load_panel(panel_path)
    exclusions = _cross_check(customers, panel, str(folder))
    truth = None
    if (folder / "truth.json").exists():
        truth = json.loads((folder / "truth.json").read_text())
    return Portfolio(
        customers=customers,
        panel=panel,
        truth=truth,
        source=source,
        fingerprint=_fingerprint_files([cust_path, panel_path]),
        exclusions=exclusions,
    )


def list_branches(data: str | Path = "synthetic") -> list[str]:
    """Branches of a data source (for one report per branch)."""
    if is_mapping(data):
        return load_source(data).branches
    if str(data) == "synthetic":
        folder = ensure_default_data()
    else:
        folder = Path(data)
    customers = _read_table(_find_table(folder, "customers"))
    return sorted(customers["branch"].astype(str).unique().tolist())


@dataclass
class ValidationSummary:
    """What ``analysis validate`` prints: sizes, events and exclusions."""

    source: str
    customers: int
    panel_rows: int
    first_month: str
    last_month: str
    branches: list[str]
    closures: int
    left_truncated: int
    exclusions: pd.DataFrame
    kind: str = "panel"
    notes: list = dataclasses.field(default_factory=list)
    columns: list = dataclasses.field(default_factory=list)

    def to_text(self) -> str:
        lines = [f"data source   : {self.source}", f"kind          : {self.kind}"]
        lines.append(f"customers     : {self.customers:,}")
        if self.kind == "panel":
            lines.append(f"panel rows    : {self.panel_rows:,} ({self.first_month} to {self.last_month})")
        else:
            lines.append(f"columns       : {', '.join(self.columns)}")
        lines += [
            f"branches      : {len(self.branches)} ({', '.join(self.branches) or 'none mapped'})",
            f"events        : {self.closures:,} customers left"
            + (f" ({self.closures / max(self.customers, 1):.1%})" if self.customers else ""),
            f"entered late  : {self.left_truncated:,} customers already on book at the window start"
            " (left truncation, handled)",
        ]
        for note in self.notes:
            lines.append(f"note          : {note}")
        if len(self.exclusions):
            lines.append(f"exclusions    : {len(self.exclusions):,} customers")
            for reason, n in self.exclusions["reason"].value_counts().items():
                lines.append(f"  - {n:,}: {reason}")
        else:
            lines.append("exclusions    : none")
        lines.append("status        : OK")
        return "\n".join(lines)


def validate_source(data: str | Path = "synthetic") -> ValidationSummary:
    """Load and check a data source without rendering anything; raise on bad data."""
    p = load_source(data)
    if p.kind == "snapshot":
        snap = p.snapshot
        return ValidationSummary(
            source=p.source,
            customers=len(snap),
            panel_rows=0,
            first_month="",
            last_month="",
            branches=p.branches,
            closures=int(snap["event"].sum()),
            left_truncated=int((snap["entry"] > 0).sum()),
            exclusions=p.exclusions,
            kind="snapshot",
            notes=list(p.notes),
            columns=[c for c in snap.columns if c not in ("customer_id",)],
        )
    first = p.panel.groupby("customer_id", sort=False).head(1)
    return ValidationSummary(
        source=p.source,
        customers=len(p.customers),
        panel_rows=len(p.panel),
        first_month=f"{p.window_start:%Y-%m}",
        last_month=f"{p.window_end:%Y-%m}",
        branches=p.branches,
        closures=int(p.panel["closed"].sum()),
        left_truncated=int((first["tenure_months"] > 0).sum()),
        exclusions=p.exclusions,
        notes=list(p.notes),
    )
