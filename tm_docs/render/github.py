"""Problems as GitHub Actions workflow commands (annotations on a pull request).

A workflow command is one log line, ``::error file=F,line=L,col=C,title=T::MESSAGE``.
The runner decodes a few percent escapes in it, so data is encoded the same
way: in the message '%', CR and LF; in the properties also ':' and ',', which
would otherwise end the property list or a property.
"""

from __future__ import annotations

from ..problems import Problem

_MESSAGE_ESCAPES = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = (*_MESSAGE_ESCAPES, (":", "%3A"), (",", "%2C"))


def escape_message(text: str) -> str:
    for char, escape in _MESSAGE_ESCAPES:  # '%' first, so no escape is escaped again
        text = text.replace(char, escape)
    return text


def escape_property(text: str) -> str:
    for char, escape in _PROPERTY_ESCAPES:
        text = text.replace(char, escape)
    return text


def annotation(problem: Problem, title: str | None = None) -> str:
    """The workflow command that shows `problem` on its file and line."""
    level = "error" if problem.is_error else "warning"
    properties = [
        f"file={escape_property(problem.file)}",
        f"line={problem.line}",
        f"col={problem.column}",
    ]
    if title:
        properties.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(properties)}::{escape_message(problem.message)}"
