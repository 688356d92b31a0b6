"""The glossary at the end of every report: the field's terms in plain words.

Managers read the reports without a statistics course. Each report ends with a glossary of the
terms and abbreviations it uses (``tests/test_glossary.py`` checks that every abbreviation a
notebook's text uses is explained there).
"""

from __future__ import annotations

from analysis.report.display import Markdown

__all__ = ["GLOSSARY", "GLOSSARY_ZH", "ABBREVIATIONS", "glossary"]

#: Term -> plain-words explanation (English; kept short: one or two sentences).
GLOSSARY: dict[str, str] = {
    "AFT": "Accelerated failure time model: a survival model in which a characteristic "
           "stretches or shortens the time to leaving by a factor.",
    "AUC": "Area under the ROC curve: the chance that a customer who leaves is ranked above one "
           "who stays (0.5 = guessing, 1 = perfect).",
    "Brier score": "Mean squared difference between the predicted risk and what happened "
                   "(lower is better).",
    "AUM": "Assets under management: the customer's deposits and wealth products with the bank.",
    "C-index": "Concordance: the share of customer pairs whose order of leaving the model ranks "
               "correctly (0.5 = guessing, 1 = perfect).",
    "CI": "Confidence interval (95%): the range of values compatible with the data; an "
          "effect is 'clear' only when its interval excludes no effect.",
    "CLV": "Customer lifetime value: the profit a customer is expected to bring over the "
           "coming years, allowing for the chance that they leave, discounted to today.",
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
    "sBG": "Shifted-beta-geometric model (Fader & Hardie 2007): each customer leaves with a "
           "fixed monthly chance that differs between customers, so the book's retention rate "
           "rises with tenure as the likely leavers go first.",
    "Schoenfeld residuals": "The check of whether a hazard ratio changes with tenure "
                            "(R's cox.zph test).",
    "Tenure": "Months since the customer opened their first account.",
}

#: Term -> (Chinese name, plain-words explanation in Chinese); the same terms as GLOSSARY.
#: The names follow Chinese retail-banking usage (docs/glossary_zh.md).
GLOSSARY_ZH: dict[str, tuple[str, str]] = {
    "AFT": ("加速失效时间模型（AFT）", "一种生存模型：客户特征使流失前的时间按一定倍数延长或缩短。"),
    "AUC": ("曲线下面积（AUC）", "流失客户的风险排名高于留存客户的概率（0.5为随机猜测，1为完全准确）。"),
    "Brier score": ("Brier评分", "预测风险与实际结果之差的平方的平均值，越低越好。"),
    "AUM": ("管理资产（AUM）", "客户在本行的存款和理财产品余额。"),
    "C-index": ("一致性指数（C指数）", "模型对客户流失先后顺序判断正确的客户对比例（0.5为随机，1为完全正确）。"),
    "CI": ("置信区间（CI）", "与数据相容的取值范围（95%）；只有区间不包含“无效应”时，才称效应明显。"),
    "CLV": ("客户终身价值（CLV）", "考虑客户流失的可能，客户在未来几年预期带来的利润折现到今天的价值。"),
    "Censored": ("删失", "观察结束时仍是本行客户：只知道其至少留存到那时，不知道何时流失。"),
    "Customer-year": ("客户年", "一名客户观察一年（或两名客户各观察半年）；流失率按每百客户年计。"),
    "E-value": ("E值", "一个未测量因素需要多强（与持有产品和流失的风险比），才能完全解释掉估计的效应。"),
    "EMPC": ("期望最大利润（EMPC）", "挽留活动在各种名单长度下每位客户的最佳期望利润（Verbraken等，2013）。"),
    "g-formula": ("g公式", "根据数据拟合的模型，按月模拟银行规定某一做法（如每位客户多持有一个产品）后的结果。"),
    "HR": ("风险比（HR）", "每月流失风险高出（大于1）或低于（小于1）的倍数；HR 0.80表示低20%。"),
    "IPW": ("逆概率加权（IPW）", "对客户加权，使被比较的两组在已测量的特征上相似。"),
    "Kaplan-Meier": ("Kaplan-Meier生存曲线", "按开户月数计算的仍为本行客户的比例，考虑了观察时间长短不一的客户。"),
    "Left truncation": ("左截断", "观察开始前开户的客户只有在当时仍是客户才会被看到；方法从那时起计入他们。"),
    "Lift": ("提升度", "名单中流失客户的数量是同样长度随机名单的多少倍。"),
    "Log-rank test": ("对数秩检验", "检验几条生存曲线是否有差异；p值很小说明差异明显。"),
    "MSM": ("边际结构模型（MSM）", "对所有客户实施同一做法（如每人多一个产品）的效应，用权重消除已测量的持有产品的原因。"),
    "p-value": ("p值", "若实际上没有差异，出现至少这么大差异的概率；低于0.05视为差异明显。"),
    "PH": ("比例风险（PH）", "假设风险比在各个开户月数都相同；用Schoenfeld残差检验。"),
    "RMST": ("限制平均生存时间（RMST）", "在一定期限内（如前36个月）客户平均留存的月数。"),
    "sBG": ("移位贝塔几何模型（sBG）", "每位客户每月以固定但因人而异的概率流失（Fader和Hardie，2007），因此容易流失的客户先走，整体留存率随开户时间上升。"),
    "Schoenfeld residuals": ("Schoenfeld残差", "检验风险比是否随开户月数变化（与R语言生存分析包的比例风险检验相同）。"),
    "Tenure": ("开户月数", "自客户开立第一个账户以来的月数。"),
}

#: Abbreviations whose use in a report's text requires them in its glossary.
ABBREVIATIONS: tuple[str, ...] = ("AFT", "AUC", "AUM", "CI", "CLV", "EMPC", "HR", "IPW", "MSM",
                                  "RMST", "sBG")


def glossary(*terms: str, lang: str | None = None) -> Markdown:
    """The glossary section of a report: the given terms, in the order given, in ``lang``
    (default: the report's language, :func:`analysis.i18n.language`).

    >>> "**HR**" in glossary("HR", "CI").data
    True
    >>> glossary("HR", lang="zh").data.startswith("- **风险比（HR）**：")
    True
    """
    from analysis.i18n import check_lang, language

    unknown = [t for t in terms if t not in GLOSSARY]
    if unknown:
        raise KeyError(f"not in the glossary: {', '.join(unknown)}")
    if check_lang(lang or language()) == "zh":
        return Markdown("\n".join(f"- **{GLOSSARY_ZH[t][0]}**：{GLOSSARY_ZH[t][1]}"
                                   for t in terms))
    return Markdown("\n".join(f"- **{t}**: {GLOSSARY[t]}" for t in terms))
