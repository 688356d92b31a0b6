"""The operational list for relationship managers: pseudonymous keys, CSV (UTF-8 with BOM, so
Excel opens Chinese text) and Parquet.

Keys are an HMAC-SHA256 of the customer id with the bank's secret from the environment variable
:data:`analysis.config.WATCHLIST_SECRET_ENV`: stable month to month, and only the bank can link
them back. Without the secret the keys come from a one-off random secret (they change every run)
and real ids are refused. Real ids are written only on an explicit request, to a separate folder
(``restricted-ids/``, mode 0700, files 0600) that the reports index never links.

Language: the column names (:data:`COLUMNS`) and the data labels (tier, segment) stay as they
are in every language: they are the file's interface for the bank's systems. The reasons and
the suggested action are written for the relationship manager, in the language of the run
(:func:`analysis.i18n.set_language`: the report's ``lang``; English for ``analysis watchlist``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd

from analysis.config import WATCHLIST_SECRET_ENV
from analysis.studies.early_warning.estimate import EarlyWarning, early_warning
from analysis.studies.population import prepare_study

__all__ = ["pseudonym", "watchlist_frame", "write_watchlist", "watchlist_command",
           "RESTRICTED_DIR"]

RESTRICTED_DIR = "restricted-ids"
COLUMNS = ["key", "branch", "rank", "tier", "segment", "aum", "annual_profit", "risk_3m",
           "risk_6m", "value_at_risk", "reasons", "suggested_action"]


def pseudonym(ids: pd.Series, secret: bytes) -> pd.Series:
    """HMAC-SHA256 of each id with ``secret``, first 16 hex digits.

    >>> pseudonym(pd.Series(["C0000001"]), b"bank secret").tolist()
    ['e5f73b881852f527']
    """
    return ids.astype(str).map(
        lambda i: hmac.new(secret, i.encode("utf-8"), hashlib.sha256).hexdigest()[:16])


def watchlist_frame(ew: EarlyWarning, secret: bytes) -> pd.DataFrame:
    """The list with pseudonymous keys in place of ids (columns :data:`COLUMNS` present)."""
    if not ew.current.ok:
        raise ValueError(f"no list for {ew.as_of}: {ew.current.note}")
    cur = ew.current.value.copy()
    cur.insert(0, "key", pseudonym(cur["customer_id"], secret))
    return cur[[c for c in COLUMNS if c in cur]]


def _private_write(path: Path, writer) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        writer(fh)
    os.chmod(path, 0o600)


def write_watchlist(ew: EarlyWarning, out_dir, *, with_ids: bool = False,
                    secret: str | None = None) -> list[Path]:
    """Write ``watchlist_<as-of>_<scope>.csv`` and ``.parquet`` under ``out_dir``.

    With ``with_ids`` also ``restricted-ids/watchlist_..._ids.csv/.parquet`` (key and id);
    that needs the bank's secret (argument or environment), else :class:`PermissionError`.
    """
    secret = secret or os.environ.get(WATCHLIST_SECRET_ENV)
    if with_ids and not secret:
        raise PermissionError(
            f"refusing to write real customer ids without the bank's secret: set the "
            f"environment variable {WATCHLIST_SECRET_ENV} (the pseudonymous keys are derived "
            "from it, so the id file and the list can be matched)")
    key = secret.encode("utf-8") if secret else secrets.token_bytes(32)
    frame = watchlist_frame(ew, key)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"watchlist_{ew.as_of:%Y-%m-%d}_{ew.scope}".replace(" ", "_")
    paths = [out / f"{stem}.csv", out / f"{stem}.parquet"]
    frame.to_csv(paths[0], index=False, encoding="utf-8-sig")
    frame.to_parquet(paths[1], index=False)
    if with_ids:
        private = out / RESTRICTED_DIR
        private.mkdir(mode=0o700, exist_ok=True)
        os.chmod(private, 0o700)
        ids = frame[["key"]].assign(customer_id=ew.current.value["customer_id"].to_numpy())
        csv, pq = private / f"{stem}_ids.csv", private / f"{stem}_ids.parquet"
        _private_write(csv, lambda fh: fh.write(ids.to_csv(index=False).encode("utf-8-sig")))
        _private_write(pq, lambda fh: ids.to_parquet(fh, index=False))
        paths += [csv, pq]
    return paths


def watchlist_command(data, *, as_of=None, branch=None, out_dir, with_ids: bool = False,
                      attrition: str = "closure") -> list[Path]:
    """What ``analysis watchlist`` runs: this month's list (no backtest), written to files."""
    study = prepare_study(data, branch=branch, attrition=attrition, as_of=as_of)
    ew = early_warning(study, backtest=False)
    return write_watchlist(ew, out_dir, with_ids=with_ids)
