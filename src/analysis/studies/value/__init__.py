"""Report 05: what attrition costs and what keeping a customer is worth (lifetime value, value
at risk, retention economics, scenarios, tier migration)."""
