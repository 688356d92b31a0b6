"""A dataset nobody has seen, described only by a mapping file, renders both core reports."""

import json
import textwrap

import numpy as np
import pandas as pd
import yaml

from analysis.report.runner import render


def test_unseen_dataset_renders_overview_and_product_reports(tmp_path):
    rng = np.random.default_rng(42)
    n = 600
    products = rng.integers(1, 5, n)
    days = np.floor(rng.exponential(900 * np.exp(0.25 * products), n)).clip(0, 2500)
    left = (rng.random(n) < 0.6).astype(int)
    pd.DataFrame({
        "Nr": [f"X{i:05d}" for i in range(n)],
        "Tage": days,
        "Status": np.where(left == 1, "gekündigt", "aktiv"),
        "Sparbuch": np.where(products >= 1, "ja", "nein"),
        "Depot": np.where(products >= 2, "ja", "nein"),
        "Kredit": np.where(products >= 3, "ja", "nein"),
        "Karte": np.where(products >= 4, "ja", "nein"),
        "Region": rng.choice(["Nord", "Süd"], n),
        "Alter": rng.integers(20, 80, n),
        "Vermögen": np.round(rng.lognormal(9, 1.5, n), 2),
        "Vorname": "geheim",
    }).to_csv(tmp_path / "kunden.csv", sep=";", index=False)
    (tmp_path / "kunden.yml").write_text(textwrap.dedent("""
        format: snapshot
        path: kunden.csv
        sep: ";"
        id: Nr
        duration: Tage
        duration_unit: days
        event: {column: Status, churned: [gekündigt], active: [aktiv]}
        products: {count: {Sparbuch: [ja], Depot: [ja], Kredit: [ja], Karte: [ja]}}
        groups: [Region]
        numeric: [Alter]
        value: Vermögen
        branch: Region
        drop: [Vorname]
    """))
    sched = tmp_path / "schedule.yml"
    sched.write_text(yaml.safe_dump({"reports": [
        {"notebook": "01_attrition_overview"},
        {"notebook": "02_product_retention_effect", "per_branch": True},
    ]}))
    result = render(sched, data=str(tmp_path / "kunden.yml"), out_dir=tmp_path / "out", jobs=2,
                    progress=False, as_of="2026-03-31")
    assert result.ok, [(r.name, r.error) for r in result.failed]
    folder = tmp_path / "out" / "2026-03-31"
    names = sorted(p.stem for p in folder.glob("*.html"))
    assert names == [
        "01_attrition_overview__bank",
        "02_product_retention_effect__bank",
        "02_product_retention_effect__branch-Nord",
        "02_product_retention_effect__branch-Süd",
    ]
    over = json.loads((folder / "01_attrition_overview__bank.json").read_text())["overview"]
    assert over["n"] == n and over["events"] == int(left.sum())
    page = (folder / "01_attrition_overview__bank.html").read_text()
    assert "geheim" not in page and "X00001" not in page  # no names, no raw ids
