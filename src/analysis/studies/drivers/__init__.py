"""Report 03: what drives attrition."""
