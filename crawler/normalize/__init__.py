"""Pure normalisation of scraped listing fields (prices, counts, text)."""
