"""Pure analysis of validated models: no I/O, no MkDocs, no Graphviz."""
