"""Key findings of the customer-value report in plain words.

Each wording rule is a small function of plain numbers (unit-tested in
``tests/test_findings_value.py``): a scenario "gains" or "loses" only when its interval
excludes zero; a tier is "worth the most" only when its interval lies above every other tier's.
Every money figure carries its assumptions (unit, horizon, discount rate) next to it.
"""

from __future__ import annotations

import numpy as np

from analysis.config import ci_label
from analysis.errors import NOT_ESTIMABLE
from analysis.i18n import format_money, tr
from analysis.studies.value.estimate import Assumptions, CustomerValue, top_share_at_risk

__all__ = ["key_findings", "assumption_words", "tier_sentence", "risk_sentence",
           "gain_sentence", "waiver_sentence", "contact_sentence", "replacement_sentence",
           "holdout_sentence", "money_ci"]


def assumption_words(a: Assumptions) -> str:
    """The assumptions behind a lifetime value, for the text next to it.

    >>> assumption_words(Assumptions(horizon=60, discount_rate=0.08))
    'over the next 60 months, discounted at 8% a year'
    """
    return tr("over the next {months} months, discounted at {rate} a year",
              months=a.horizon, rate=f"{100 * a.discount_rate:g}%")


def money_ci(est: float, lo: float, hi: float) -> str:
    """An amount with its interval.

    >>> money_ci(1200, 1000, 1400)
    '1,200 yuan (95% CI 1,000 yuan to 1,400 yuan)'
    """
    return tr("{est} ({ci} {lo} to {hi})", est=format_money(est), ci=ci_label(),
              lo=format_money(lo), hi=format_money(hi))


def tier_sentence(tiers: list, est: list, lo: list, hi: list, words: str) -> str:
    """Lifetime value of the highest tier against the others.

    >>> tier_sentence([1, 5], [300, 9000], [250, 8000], [350, 10000], "w")
    'A tier 5 customer is worth **the most**: 9,000 yuan (95% CI 8,000 yuan to 10,000 yuan; w), 30 times a tier 1 customer (300 yuan).'
    >>> tier_sentence([1, 5], [300, 9000], [250, 200], [350, 20000], "w")
    'A tier 5 customer is worth 9,000 yuan (95% CI 200 yuan to 20,000 yuan; w) and a tier 1 customer 300 yuan; the interval is too wide to rank them.'
    """
    top = int(np.argmax(est))
    low = int(np.argmin(est))
    ci = tr("{ci} {lo} to {hi}", ci=ci_label(), lo=format_money(lo[top]),
            hi=format_money(hi[top]))
    clear = all(lo[top] > hi[j] for j in range(len(tiers)) if j != top)
    if clear:
        return tr("A tier {top} customer is worth **the most**: {value} ({ci}; {words}), {times} "
                  "times a tier {low} customer ({low_value}).", top=tiers[top],
                  value=format_money(est[top]), ci=ci, words=words,
                  times=f"{est[top] / est[low]:,.0f}" if est[low] > 0 else "\u2013",
                  low=tiers[low], low_value=format_money(est[low]))
    return tr("A tier {top} customer is worth {value} ({ci}; {words}) and a tier {low} customer "
              "{low_value}; the interval is too wide to rank them.", top=tiers[top],
              value=format_money(est[top]), ci=ci, words=words, low=tiers[low],
              low_value=format_money(est[low]))


def risk_sentence(departures: float, est: float, lo: float, hi: float, top20: float,
                  what: str = "profit") -> str:
    """The profit (or the data's value) at risk over the next 12 months and how concentrated
    it is.

    >>> risk_sentence(446.3, 386000, 338000, 434000, 0.72)
    'About 446 customers are expected to leave in the next 12 months, taking **386,000 yuan** of profit with them over those months (95% CI 338,000 yuan to 434,000 yuan; undiscounted); the top 20% of customers by profit hold 72% of it.'
    """
    return tr("About {n} customers are expected to leave in the next 12 months, taking **{value}** "
              "of {what} with them over those months ({ci} {lo} to {hi}; undiscounted); the top "
              "20% of customers by {what} hold {share} of it.", n=f"{departures:,.0f}",
              value=format_money(est), ci=ci_label(), lo=format_money(lo), hi=format_money(hi),
              share=f"{top20:.0%}", what=tr(what) if what == "profit" else what)


def gain_sentence(what: str, months: tuple, profit: tuple, words: str) -> str:
    """A scenario's months kept and profit gained; "keeps"/"gains" only when the interval of the
    profit excludes zero.

    >>> gain_sentence("One more product", (2.4, 1.4, 3.4), (1246, 449, 2043), "w")
    'One more product **gains** 1,246 yuan per customer (95% CI 449 yuan to 2,043 yuan; w) and keeps them 2.4 more months on book (95% CI 1.4 to 3.4).'
    >>> gain_sentence("One more product", (0.4, -1.0, 1.8), (100, -300, 500), "w")
    'One more product: no clear gain (100 yuan per customer, 95% CI -300 yuan to 500 yuan; w; 0.4 months, 95% CI -1.0 to 1.8).'
    """
    m, mlo, mhi = months
    p, plo, phi = profit
    if plo > 0 or phi < 0:
        verb = tr("**gains**") if plo > 0 else tr("**loses**")
        return tr("{what} {verb} {value} per customer ({ci} {lo} to {hi}; {words}) and keeps "
                  "them {months} more months on book ({ci} {mlo} to {mhi}).", what=tr(what),
                  verb=verb, value=format_money(abs(p)) if plo > 0 else format_money(-p),
                  ci=ci_label(), lo=format_money(plo), hi=format_money(phi), words=words,
                  months=f"{m:.1f}", mlo=f"{mlo:.1f}", mhi=f"{mhi:.1f}")
    return tr("{what}: no clear gain ({value} per customer, {ci} {lo} to {hi}; {words}; {months} "
              "months, {ci} {mlo} to {mhi}).", what=tr(what), value=format_money(p),
              ci=ci_label(), lo=format_money(plo), hi=format_money(phi), words=words,
              months=f"{m:.1f}", mlo=f"{mlo:.1f}", mhi=f"{mhi:.1f}")


def waiver_sentence(r: float | None, lo: float | None, hi: float | None, cost: float,
                    tiers: list) -> str:
    """What a fee waiver must achieve to pay for itself (the data hold no waiver history).

    >>> waiver_sentence(0.72, 0.68, 0.77, 600, [4, 5])
    'A fee waiver for tier 4-5 customers costing 600 yuan a customer-year pays for itself only if it cuts their risk of leaving by at least 28% (hazard ratio 0.72, 95% CI 0.68 to 0.77). The data hold no waiver history, so whether a waiver does that is unknown: test it before rolling it out.'
    """
    tiers_text = f"{min(tiers)}-{max(tiers)}"
    if r is None or not np.isfinite(r):
        return tr("A fee waiver for tier {tiers} customers costing {cost} a customer-year does not "
                  "pay for itself even if it removed nearly all their risk of leaving.",
                  tiers=tiers_text, cost=format_money(cost))
    return tr("A fee waiver for tier {tiers} customers costing {cost} a customer-year pays for "
              "itself only if it cuts their risk of leaving by at least {cut} (hazard ratio "
              "{r}, {ci} {lo} to {hi}). The data hold no waiver history, so whether a waiver "
              "does that is unknown: test it before rolling it out.", tiers=tiers_text,
              cost=format_money(cost), cut=f"{1 - r:.0%}", r=f"{r:.2f}", ci=ci_label(),
              lo="\u2013" if lo is None or not np.isfinite(lo) else f"{lo:.2f}",
              hi="\u2013" if hi is None or not np.isfinite(hi) else f"{hi:.2f}")


def contact_sentence(tiers: list, rates: list, assumed: float, contact: float,
                     offer: float) -> str:
    """Break-even success rates of a retention contact by tier.

    >>> contact_sentence([1, 5], [0.04, 0.0003], 0.3, 50, 200)
    'A retention contact (50 yuan, offer 200 yuan) pays for itself when at least 4.0% of contacted leavers stay in tier 1 and 0.03% in tier 5; the assumed success rate is 30%.'
    """
    def pct(x):
        return "\u2013" if x is None or not np.isfinite(x) else (
            f"{100 * x:.1f}%" if x >= 0.001 else f"{100 * x:.2f}%")
    return tr("A retention contact ({contact}, offer {offer}) pays for itself when at least "
              "{low} of contacted leavers stay in tier {t_low} and {high} in tier {t_high}; the "
              "assumed success rate is {assumed}.", contact=format_money(contact),
              offer=format_money(offer), low=pct(rates[0]), t_low=tiers[0],
              high=pct(rates[-1]), t_high=tiers[-1], assumed=f"{assumed:.0%}")


def replacement_sentence(r: dict) -> str:
    """Replacing the expected departures by acquisition against keeping them by contacts.

    >>> replacement_sentence({"departures": 446.3, "replace_cost": 669000.0, "retain_cost": 164000.0, "acquisition_cost": 1500.0, "cost_per_kept": 366.7})
    'Replacing the 446 expected departures by new customers would cost about 669,000 yuan (1,500 yuan each, an assumption); keeping them by retention contacts about 164,000 yuan (367 yuan per customer kept).'
    """
    return tr("Replacing the {n} expected departures by new customers would cost about {replace} "
              "({each} each, an assumption); keeping them by retention contacts about {retain} "
              "({per} per customer kept).", n=f"{r['departures']:,.0f}",
              replace=format_money(r["replace_cost"]), each=format_money(r["acquisition_cost"]),
              retain=format_money(r["retain_cost"]), per=format_money(r["cost_per_kept"]))


def holdout_sentence(diff: float, lo: float, hi: float, err_projection: float,
                     err_sbg: float) -> str:
    """Which model predicted the held-out year better: "better"/"worse" only when the interval
    of the Brier-score difference (projection minus sBG) excludes zero.

    >>> holdout_sentence(-0.004, -0.006, -0.002, -0.025, -0.024)
    'On the 12 held-out months the projection predicted who stayed **better** than the shifted-beta-geometric baseline (Brier score lower by 0.0040, 95% CI 0.0020 to 0.0060); it missed the profit of those months by -2.5%, the baseline by -2.4%.'
    >>> holdout_sentence(-0.0008, -0.002, 0.0004, -0.025, -0.024).split(";")[0]
    'On the 12 held-out months the projection and the shifted-beta-geometric baseline predicted who stayed about equally well (Brier score difference -0.0008, 95% CI -0.0020 to 0.0004)'
    """
    tail = tr("; it missed the profit of those months by {p}, the baseline by {b}.",
              p=f"{err_projection:+.1%}".replace("+-", "-"), b=f"{err_sbg:+.1%}")
    if hi < 0 or lo > 0:
        word = tr("**better**") if hi < 0 else tr("**worse**")
        head = tr("On the 12 held-out months the projection predicted who stayed {word} than the "
                  "shifted-beta-geometric baseline (Brier score {side} by {d}, {ci} {lo} to "
                  "{hi})", word=word, side=tr("lower") if hi < 0 else tr("higher"),
                  d=f"{abs(diff):.4f}", ci=ci_label(),
                  lo=f"{min(abs(lo), abs(hi)):.4f}", hi=f"{max(abs(lo), abs(hi)):.4f}")
    else:
        head = tr("On the 12 held-out months the projection and the shifted-beta-geometric "
                  "baseline predicted who stayed about equally well (Brier score difference "
                  "{d}, {ci} {lo} to {hi})", d=f"{diff:.4f}", ci=ci_label(), lo=f"{lo:.4f}",
                  hi=f"{hi:.4f}")
    return head + tail


def _note(text: str) -> str:
    prefix = NOT_ESTIMABLE + ": "
    if text.startswith(prefix):
        return tr("Not estimable: {why}", why=tr(text[len(prefix):]))
    return tr(text)


def key_findings(cv: CustomerValue) -> str:
    """The report's key findings (Markdown bullet lines)."""
    if not cv.customers.ok:
        return "- " + _note(cv.customers.note)
    a = cv.assumptions
    words = assumption_words(a)
    lines = []
    t = cv.groups.get("tier")
    if t is not None and len(t) > 1:
        lines.append(tier_sentence(t["tier"].tolist(), t["estimate"].tolist(),
                                   t["ci_low"].tolist(), t["ci_high"].tolist(), words))
    var = cv.groups.get("var_all")
    if var is not None:
        dep = float(cv.groups["departs_all"]["estimate"].iloc[0])
        r = var.iloc[0]
        lines.append(risk_sentence(dep, r["estimate"], r["ci_low"], r["ci_high"],
                                   top_share_at_risk(cv), cv.study.value_words))
    if cv.sizes.get("models") == "bank":
        lines.append(tr("Every customer of this branch is projected with the whole bank's monthly "
                        "models (fitted on the bank's model sample, with a term per branch): the "
                        "numbers of this report are the branch's rows of the bank report."))
    if cv.snapshot:
        lines.append(tr("This is a one-row-per-customer snapshot: lifetime values come from the "
                        "shifted-beta-geometric model by products held, with {what} held constant "
                        "as an annual amount; scenarios, tier migration and the held-out check need "
                        "monthly histories.", what=cv.study.value_words))
    if cv.scenarios.ok:
        sc = cv.scenarios.value
        one = sc.get("one_more_product", {})
        if "months_gained" in one:
            m, p = one["months_gained"], one["profit_gained"]
            lines.append(gain_sentence(
                "One more product for every tier 3+ customer who holds one",
                (m["estimate"], m["ci_low"], m["ci_high"]),
                (p["estimate"], p["ci_low"], p["ci_high"]), words))
        fw = sc.get("fee_waiver")
        if fw:
            b = fw.get("break_even_hr") or {}
            lines.append(waiver_sentence(b.get("estimate"), b.get("ci_low"), b.get("ci_high"),
                                         fw["cost_per_year"], fw["tiers"]))
    if cv.economics.ok:
        e = cv.economics.value["by_tier"]
        lines.append(contact_sentence(e["tier"].tolist(), e["break_even_success"].tolist(),
                                      a.success_rate, a.contact_cost, a.offer_cost))
        lines.append(replacement_sentence(cv.economics.value["replacement"]))
    if cv.holdout.ok:
        sm = cv.holdout.value["summary"]
        bd = sm["brier_difference"]
        lines.append(holdout_sentence(bd["estimate"], bd["ci_low"], bd["ci_high"],
                                      sm["projection"]["profit_error_share"],
                                      sm["sBG"]["profit_error_share"]))
    return "\n".join(f"- {line}" for line in lines)
