"""Cached truths of interventional estimands of the synthetic generator.

Written from :func:`analysis.data.synthetic.simulate_intervention_truth` (about 2 minutes per
configuration), keyed by :func:`analysis.data.synthetic.truth_cache_key` (a hash of the
configuration without ``n_customers``, ``seed``, ``chunk_size`` and ``window_start``). Regenerate
after changing the generator's model or defaults::

    python -c "from analysis.data.synthetic import simulate_intervention_truth as s; import json; print(json.dumps(s(), indent=1))"

and paste the result under its ``cache_key`` below. ``model_hash`` (a hash of the source of the
generator's dynamics) must match :func:`analysis.data.synthetic.model_hash`, otherwise the
entry is ignored with a warning.
"""

# simulate_intervention_truth() with its defaults (200,000 customers), generator as of f573324.
INTERVENTION_TRUTH: dict[str, dict] = {
    "c7ebb6adf7553616": {
        "iptw_marginal_hr_2plus_vs_1": 0.7163868542275145,
        "iptw_marginal_hr_2plus_vs_1_deposit": 0.7439953315597985,
        "marginal_hr_2_vs_1": 0.817457668705325,
        "details": {
            "twoplus_vs_one": {
                "hr": 0.7163868542275145,
                "log_hr": -0.33353495873011124,
                "se_log_hr_independent": 0.006280433360095535,
                "events": {
                    "twoplus": 44496,
                    "one": 58940
                },
                "by_branch": {
                    "Central": 0.7089241815308968,
                    "East": 0.7173343275967465,
                    "Harbour": 0.7184857111222841,
                    "North": 0.719368005658728,
                    "South": 0.7137912089890537,
                    "West": 0.716679991524383
                },
                "by_segment": {
                    "deposit": 0.7439953315597985,
                    "loan": 0.6822771142836954
                },
                "by_branch_segment": {
                    "Central|deposit": 0.7369732286185554,
                    "East|deposit": 0.7467970643748182,
                    "Harbour|deposit": 0.7439490265764562,
                    "North|deposit": 0.7438205605052697,
                    "South|deposit": 0.7376038821643751,
                    "West|deposit": 0.7521395773983968,
                    "Central|loan": 0.6744769946711415,
                    "East|loan": 0.6804075026491165,
                    "Harbour|loan": 0.6874048316135457,
                    "North|loan": 0.6890645919090199,
                    "South|loan": 0.683615345779745,
                    "West|loan": 0.673980184525903
                }
            },
            "two_vs_one": {
                "hr": 0.817457668705325,
                "log_hr": -0.20155615895164564,
                "se_log_hr_independent": 0.006084014433974954,
                "events": {
                    "two": 49882,
                    "one": 58940
                }
            },
            "share_2plus_at_entry": 0.788555,
            "mean_products_at_entry_twoplus_arm": 2.815655
        },
        "definition": "Cox HR (Efron, delayed entry at tenure at entry, censored at window end) of holding 2+ vs 1 product in the entry month, products evolving naturally afterwards, in the window population; 2+ arm: own count if 2+, else a twin's (same segment and tenure at entry, nearest engagement); common random numbers across arms",
        "n_customers": 200000,
        "seed": 7000001,
        "model_hash": "79a7e3a47f176271"
    }
}
