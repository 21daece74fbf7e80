"""The colours of the risk bands, decided once.

The stylesheet gets them as CSS variables (`--tm-critical`, ...) that the badges, the
heatmap and the charts use; drawings that must stand alone carry them as fill values.
"""

from __future__ import annotations

BAND_COLOURS = {
    "critical": "#b71c1c",
    "high": "#ef6c00",
    "medium": "#f9a825",
    "low": "#2e7d32",
    "none": "#eceff1",  # no risk left, and the empty part of a bar
}
# A band the configuration names that has no colour of its own.
OTHER_BAND = "#607d8b"


def css_variables() -> str:
    """The band colours as CSS custom properties, for the top of the stylesheet."""
    lines = [f"  --tm-{name}: {colour};" for name, colour in BAND_COLOURS.items()]
    return ":root {\n" + "\n".join(lines) + "\n}\n"
