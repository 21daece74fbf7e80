"""Moving models between tm-docs and other tools: importers and the OTM exporter.

One module per format; `common` holds what they share: bounded, safe reading of
untrusted files, id slugs, text cleaning and the loss report.
"""
