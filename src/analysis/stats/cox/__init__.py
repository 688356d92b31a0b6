"""The Cox model: one Efron risk-set engine, fits, residuals, the PH test."""
