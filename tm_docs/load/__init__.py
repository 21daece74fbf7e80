"""Reading what tm-docs is given: YAML model and rule files, git history and revisions.

Everything here is about getting untrusted input safely into typed data;
nothing here decides what the data means (that is analysis/).
"""
