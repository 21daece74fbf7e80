"""Data-flow diagrams: model -> DOT (through `diagrams`) -> Graphviz -> self-contained SVG."""
