"""Customer-retention survival analysis for retail banking.

Data flows one way: ``data`` -> ``frames`` -> ``survival`` / ``models`` -> ``plots`` -> ``report``.
"""

__version__ = "0.1.0"
