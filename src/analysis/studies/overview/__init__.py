"""Report 01: attrition overview."""
