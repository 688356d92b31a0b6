"""Key findings of the early-warning report in plain words.

Each wording rule is a small function of plain numbers (unit-tested in
``tests/test_findings_early_warning.py``): the model is said to *beat* a rule only when the
interval of the difference (customers resampled) excludes zero.
"""

from __future__ import annotations

import numpy as np

from analysis.config import ci_label
from analysis.errors import NOT_ESTIMABLE
from analysis.i18n import format_money, tr
from analysis.studies.early_warning.estimate import EarlyWarning, method_labels
from analysis.studies.early_warning.features import month_text

__all__ = ["key_findings", "compare_sentence", "oracle_sentence", "list_size_sentence",
           "list_sentence", "recommendation", "METHOD_WORDS", "ORACLE_TOLERANCE"]

#: The model's top-decile lift counts as "close to the best possible" within this relative gap.
ORACLE_TOLERANCE = 0.10
METHOD_WORDS = {"model": "the risk model", "random": "a random list",
                "oracle": "the true-risk ranking"}


def _name(method: str, rule_words: dict) -> str:
    if method in METHOD_WORDS:
        return tr(METHOD_WORDS[method])
    return tr("the rule \u201c{rule}\u201d", rule=rule_words.get(method, method))


def _note(text: str) -> str:
    """A note in the report's language (its ``Not estimable:`` prefix too)."""
    prefix = NOT_ESTIMABLE + ": "
    if text.startswith(prefix):
        return tr("Not estimable: {why}", why=tr(text[len(prefix):]))
    return tr(text)


def compare_sentence(method_words: str, diff: float, lo: float, hi: float,
                     what: str = "departing profit") -> str:
    """The model against one other method on value captured (shares, model minus other).

    >>> compare_sentence("largest AUM first", 0.12, 0.05, 0.2)
    'The risk model **beats** largest AUM first: its list held 12 points more of the departing profit (95% CI 5 to 20).'
    >>> compare_sentence("largest AUM first", 0.03, -0.04, 0.1)
    'The risk model and largest AUM first held about the same share of the departing profit (difference 3 points, 95% CI -4 to 10): no clear winner.'
    """
    ci = tr("{ci} {lo} to {hi}", ci=ci_label(), lo=f"{100 * lo:.0f}", hi=f"{100 * hi:.0f}")
    what = tr(what)
    if lo > 0:
        return tr("The risk model **beats** {method}: its list held {points} points more of the "
                  "{what} ({ci}).", method=method_words, points=f"{100 * diff:.0f}", what=what,
                  ci=ci)
    if hi < 0:
        return tr("The risk model did **worse** than {method}: its list held {points} points "
                  "less of the {what} ({ci}).", method=method_words, points=f"{100 * -diff:.0f}",
                  what=what, ci=ci)
    return tr("The risk model and {method} held about the same share of the {what} (difference "
              "{points} points, {ci}): no clear winner.", method=method_words,
              points=f"{100 * diff:.0f}", what=what, ci=ci)


def oracle_sentence(model_lift: float, oracle_lift: float,
                    tolerance: float = ORACLE_TOLERANCE) -> str:
    """The model's top-decile lift against the ranking by true risk (synthetic data).

    >>> oracle_sentence(2.9, 3.0)
    "Ranking by the model's risk, the top tenth of customers held 2.9 times the average share of leavers; ranking by the true risk, 3.0 times: the model is within 10% of the best possible."
    >>> oracle_sentence(2.0, 3.0).endswith("the model falls 33% short of the best possible.")
    True
    """
    gap = 1 - model_lift / oracle_lift
    head = tr("Ranking by the model's risk, the top tenth of customers held {model} times the "
              "average share of leavers; ranking by the true risk, {oracle} times: ",
              model=f"{model_lift:.1f}", oracle=f"{oracle_lift:.1f}")
    if gap <= tolerance:
        return head + tr("the model is within {tolerance} of the best possible.",
                         tolerance=f"{tolerance:.0%}")
    return head + tr("the model falls {gap} short of the best possible.", gap=f"{gap:.0%}")


def list_size_sentence(best: int, current: int) -> str:
    """Which list size per branch maximises the expected profit of the calls.

    >>> list_size_sentence(0, 20)
    'At these costs and success rate no list pays for its calls: every list size loses money in the backtest.'
    >>> list_size_sentence(14, 20)
    'Expected profit is highest with **14 customers per branch a month** (the list now holds 20).'
    """
    if best <= 0:
        return tr("At these costs and success rate no list pays for its calls: every list size "
                  "loses money in the backtest.")
    return tr("Expected profit is highest with **{best} customers per branch a month** (the "
              "list now holds {current}).", best=best, current=current)


def list_sentence(month, n: int, per_branch: int, aum: float, profit: float, at_risk: float,
                  horizon: int) -> str:
    """This month's list in one sentence.

    >>> import pandas as pd
    >>> list_sentence(pd.Timestamp("2025-12-01"), 120, 20, 3.2e8, 4.6e6, 9.1e4, 3)
    'For December 2025 the list holds **120 customers** (up to 20 per branch) with AUM 320,000,000 yuan and annual profit 4,600,000 yuan; the profit expected to leave with them within 3 months is 91,000 yuan.'
    """
    return tr("For {month} the list holds **{n} customers** (up to {per_branch} per branch) with "
              "AUM {aum} and annual profit {profit}; the profit expected to leave with them "
              "within {horizon} months is {at_risk}.", month=month_text(month), n=f"{n:,}",
              per_branch=per_branch, aum=format_money(aum), profit=format_money(profit),
              horizon=horizon, at_risk=format_money(at_risk))


def recommendation(captured: dict, differences: dict, names: dict | None = None) -> str:
    """Which list to use: the model when it clearly beats every rule on value captured, else
    the best by value captured, said to be no clear winner.

    ``captured``: method -> value captured; ``differences``: rule -> (diff, lo, hi) of the model
    minus that rule; ``names``: method -> words for the reader (default: the method's name).

    >>> recommendation({"model": 0.4, "a": 0.1}, {"a": (0.3, 0.2, 0.4)})
    'Use the risk model\u2019s list: it clearly captured more of the departing profit than every rule.'
    >>> recommendation({"model": 0.4, "a": 0.38}, {"a": (0.02, -0.03, 0.07)})
    'The risk model\u2019s list captured the most departing profit, but not clearly more than every rule.'
    """
    if all(lo > 0 for _, lo, _ in differences.values()):
        return tr("Use the risk model\u2019s list: it clearly captured more of the departing "
                  "profit than every rule.")
    best = max(captured, key=captured.get)
    if best == "model":
        return tr("The risk model\u2019s list captured the most departing profit, but not "
                  "clearly more than every rule.")
    return tr("The list \u201c{best}\u201d captured the most departing profit; the risk model "
              "does not clearly beat it.", best=(names or {}).get(best, best))


def key_findings(ew: EarlyWarning) -> str:
    """The report's key findings (Markdown bullet lines)."""
    lines = []
    if ew.current.ok:
        cur = ew.current.value
        lines.append(list_sentence(ew.as_of or ew.study.as_of or np.datetime64("NaT"), len(cur),
                                   ew.list_size, float(cur["aum"].sum()),
                                   float(cur["annual_profit"].sum()),
                                   float(cur["value_at_risk"].sum()), ew.horizon))
    else:
        lines.append(_note(ew.current.note))
    if not ew.backtest.ok:
        lines.append(_note(ew.backtest.note))
        return "\n".join(f"- {x}" for x in lines)
    bt = ew.backtest.value
    h = ew.horizon
    t = bt.table[bt.table["horizon"] == h].set_index("method")
    d = bt.differences[(bt.differences["horizon"] == h)
                       & (bt.differences["metric"] == "value_captured")].set_index("method")
    words = ew.rule_words()
    rules = [m for m in bt.methods if m not in ("model", "oracle")]
    lines.append(recommendation({m: t.loc[m, "value_captured"] for m in ["model", *rules]},
                                {m: tuple(d.loc[m, ["diff", "ci_low", "ci_high"]]) for m in rules},
                                names=method_labels(ew)))
    for m in rules:
        lines.append(compare_sentence(_name(m, words), *d.loc[m, ["diff", "ci_low", "ci_high"]]))
    model = t.loc["model"]
    lines.append(tr("Of those the model listed, {precision} left within {h} months (all "
                    "customers: {base}); they were first listed a median {lead} months before "
                    "leaving.", precision=f"{model['precision_at_k']:.0%}", h=h,
                    base=f"{model['departures'] / model['n_scored']:.1%}",
                    lead=f"{model['median_lead_months']:.1f}"))
    if "oracle" in t.index:
        lines.append(oracle_sentence(t.loc["model", "lift_top_decile"],
                                     t.loc["oracle", "lift_top_decile"]))
    lines.append(list_size_sentence(bt.best_list_size.get("model", 0), ew.list_size))
    return "\n".join(f"- {x}" for x in lines)
