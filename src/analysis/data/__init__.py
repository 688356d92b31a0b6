"""Data layer: synthetic portfolio, schemas, loaders, attrition definitions."""

from analysis.data.portfolio import Portfolio
from analysis.data.synthetic import generate_portfolio, write_portfolio
from analysis.data.loaders import (ensure_default_data, list_branches, load_source, validate_source,
                                   write_validated)
from analysis.data.value_truth import customer_value_truth, value_truth, value_truth_table

__all__ = [
    "Portfolio",
    "generate_portfolio",
    "write_portfolio",
    "ensure_default_data",
    "list_branches",
    "load_source",
    "validate_source",
    "write_validated",
    "value_truth",
    "customer_value_truth",
    "value_truth_table",
]
