"""The glossary at the end of every report: the field's terms in plain words.

Managers read the reports without a statistics course. Each report ends with a glossary of the
terms and abbreviations it uses (``tests/test_glossary.py`` checks that every abbreviation a
notebook's text uses is explained there).
"""

from __future__ import annotations

from analysis.report.display import Markdown

__all__ = ["GLOSSARY", "ABBREVIATIONS", "glossary"]

#: Term -> plain-words explanation (English; kept short: one or two sentences).
GLOSSARY: dict[str, str] = {
    "AFT": "Accelerated failure time model: a survival model in which a characteristic "
           "stretches or shortens the time to leaving by a factor.",
    "AUC": "Area under the ROC curve: the chance that a customer who leaves is ranked above one "
           "who stays (0.5 = guessing, 1 = perfect).",
    "Brier score": "Mean squared difference between the predicted risk and what happened "
                   "(lower is better).",
    "C-index": "Concordance: the share of customer pairs whose order of leaving the model ranks "
               "correctly (0.5 = guessing, 1 = perfect).",
    "CI": "Confidence interval (95%): the range of values compatible with the data; an "
          "effect is 'clear' only when its interval excludes no effect.",
    "Censored": "A customer still with the bank at the end of observation: we know they stayed "
                "at least that long, not when they will leave.",
    "Customer-year": "One customer observed for one year (or two for six months each): rates "
                     "are departures per 100 customer-years.",
    "E-value": "How strong an unmeasured factor would have to be (as a risk ratio with both "
               "product holding and leaving) to explain an estimate away.",
    "EMPC": "Expected maximum profit of a retention campaign (Verbraken et al. 2013): the best "
            "expected profit per customer over list sizes.",
    "g-formula": "A simulation of the book month by month under a rule set by the bank (e.g. "
                 "everyone holds one more product), from models fitted to the data.",
    "HR": "Hazard ratio: how much higher (above 1) or lower (below 1) the monthly risk of "
          "leaving is; HR 0.80 means 20% lower.",
    "IPW": "Inverse probability weighting: customers are weighted so that the groups compared "
           "look alike in the measured characteristics.",
    "Kaplan-Meier": "The share of customers still with the bank at each month of tenure, "
                    "allowing for customers observed for different lengths of time.",
    "Left truncation": "Customers who opened before observation started are only seen if they "
                       "were still customers then; the methods count them from that point.",
    "Lift": "How many times more leavers a list holds than a random list of the same size.",
    "Log-rank test": "A test of whether survival curves differ at all; a small p-value means "
                     "they clearly do.",
    "MSM": "Marginal structural model: the effect of a rule applied to everyone (e.g. one more "
           "product each), from weights that remove the measured reasons for holding products.",
    "p-value": "The chance of a difference at least this large if there were no real "
               "difference; below 0.05 is read as a clear difference.",
    "PH": "Proportional hazards: the assumption that a hazard ratio is the same at every "
          "tenure; checked with Schoenfeld residuals.",
    "RMST": "Restricted mean survival time: the average number of months a customer stays "
            "within a horizon (e.g. the first 36 months).",
    "Schoenfeld residuals": "The check of whether a hazard ratio changes with tenure "
                            "(R's cox.zph test).",
    "Tenure": "Months since the customer opened their first account.",
}

#: Abbreviations whose use in a report's text requires them in its glossary.
ABBREVIATIONS: tuple[str, ...] = ("AFT", "AUC", "CI", "EMPC", "HR", "IPW", "MSM", "RMST")


def glossary(*terms: str) -> Markdown:
    """The glossary section of a report: the given terms, in the order given.

    >>> "**HR**" in glossary("HR", "CI").data
    True
    """
    unknown = [t for t in terms if t not in GLOSSARY]
    if unknown:
        raise KeyError(f"not in the glossary: {', '.join(unknown)}")
    return Markdown("\n".join(f"- **{t}**: {GLOSSARY[t]}" for t in terms))
