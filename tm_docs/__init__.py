"""tm-docs: threat models as code, published as a site."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tm-docs")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
