"""Report 02: the product-count retention effect."""
