"""Report studies: each a thin composition of the statistics (estimate, findings, headline)."""
