"""Report 04: who to call this month (early-warning list) and the backtest that proves it."""
