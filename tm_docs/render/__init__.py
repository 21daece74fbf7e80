"""Turn analysed models into Markdown pages and data files (no MkDocs here)."""
