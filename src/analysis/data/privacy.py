"""Keep customers' identities out of messages and reports.

Two rules:

- **Ids are masked in messages.** A validation error names rows (file row numbers) and, where an
  id helps (duplicates, unknown customers), a short salted hash ``id#1a2b3c4d`` instead of the
  id: two rows with the same id show the same hash, the id itself never reaches a terminal or a
  log. The salt is random per process, so hashes cannot be looked up in a table; set the
  environment variable ``ANALYSIS_ID_SALT`` to get the same hashes across runs.
- **No personal column as a group or branch.** A column whose name says it is personal (name,
  surname, phone, mobile, e-mail, address, passport, id number, and the Chinese 姓名, 电话, 手机,
  身份证, 地址, 邮箱) or that holds nearly one level per customer (more than
  :data:`MAX_DISTINCT_SHARE` of the rows distinct, over at least :data:`MIN_ROWS_FOR_SHARE` rows)
  is refused as a ``groups`` or ``branch`` column, because every level of such a column is
  printed in the reports. A mapping lists the exceptions with ``allow_personal: [column]``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets

import pandas as pd

from analysis.data.messages import short

__all__ = ["mask_id", "personal_reason", "personal_problems", "MAX_DISTINCT_SHARE", "MIN_ROWS_FOR_SHARE"]

MAX_DISTINCT_SHARE = 0.5  # above this share of distinct levels a column is an identifier
MIN_ROWS_FOR_SHARE = 20  # below this many rows the share says nothing (a 4-row test extract)

_SALT = hashlib.sha256(os.environ.get("ANALYSIS_ID_SALT", "").encode() or secrets.token_bytes(16)).digest()

# Names (lower case, separators and the qualifiers below removed) that mean a personal field.
_PERSONAL = {
    "name", "surname", "forename", "username", "nickname",
    "phone", "phonenumber", "phoneno", "telephone", "tel", "telno", "mobile", "mobileno",
    "mobilenumber", "mobilephone", "cellphone", "email", "emailaddress",
    "address", "passport", "passportno", "passportnumber", "ssn", "idnumber", "idno", "idcard",
    "idcardno", "idcardnumber", "nationalid", "nationalidnumber",
}
# Words that qualify a personal field without changing what it is ("customer first name").
_QUALIFIERS = {
    "customer", "client", "cust", "first", "last", "given", "family", "full", "middle", "maiden",
    "home", "work", "office", "contact", "primary", "secondary", "personal", "postal", "mailing",
    "street", "holder", "owner", "of", "the",
}
_CHINESE = ("姓名", "电话", "手机", "身份证", "地址", "邮箱")


def mask_id(value) -> str:
    """A short salted hash of an id, for messages (see the module docstring).

    >>> mask_id("C-0001") == mask_id("C-0001"), mask_id("C-0001") == mask_id("C-0002")
    (True, False)
    >>> mask_id("C-0001")[:3], len(mask_id("C-0001"))
    ('id#', 11)
    """
    digest = hashlib.blake2s(str(value).encode("utf-8", "surrogatepass"), digest_size=4, key=_SALT)
    return "id#" + digest.hexdigest()


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)  # CustomerName -> Customer Name
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def personal_reason(name) -> str | None:
    """Why a column name looks personal, or ``None``.

    >>> [personal_reason(n) for n in ("Surname", "customer_first_name", "E-mail", "ID number")]
    ['surname', 'name', 'email', 'idnumber']
    >>> personal_reason("客户姓名"), personal_reason("PhoneService"), personal_reason("Branch name")
    ('姓名', None, None)
    """
    text = str(name)
    for word in _CHINESE:
        if word in text:
            return word
    core = "".join(w for w in _words(text) if w not in _QUALIFIERS)
    if core in _PERSONAL:
        return core
    if core.endswith(("name", "surname")) and core[: -len("name")] in {"first", "last", "given", "full", "sur"}:
        return "name"  # firstname, lastname, fullname written as one word
    return None


def personal_problems(frame: pd.DataFrame, roles: dict[str, str], allow: list[str]) -> list[str]:
    """Problem lines for group/branch columns that are personal (see the module docstring).

    Parameters
    ----------
    frame : DataFrame
        The extract as read.
    roles : dict
        ``{column: key}`` of the columns to check and the mapping key that uses them
        (``"groups"``, ``"branch"``).
    allow : list of str
        Columns the mapping lists under ``allow_personal``.
    """
    problems = []
    for column, key in roles.items():
        if column in allow or column not in frame:
            continue
        fix = f"use another column, or list it under 'allow_personal: [{short(str(column))[1:-1]}]' if it is not personal"
        reason = personal_reason(column)
        if reason is not None:
            problems.append(
                f"column {short(str(column))} (key '{key}'): named like a personal field ({reason}); its "
                f"values would be printed in every report: {fix}"
            )
            continue
        n = int(frame[column].notna().sum())
        levels = int(frame[column].nunique())
        if n >= MIN_ROWS_FOR_SHARE and levels > MAX_DISTINCT_SHARE * n:
            problems.append(
                f"column {short(str(column))} (key '{key}'): {levels:,} distinct values in {n:,} rows, "
                f"nearly one per customer, so reports would list customers one by one: {fix}"
            )
    return problems
