"""Database URLs written with ``${VARS}``: filled in safely, and their secrets named for masking.

A value put into a URL must not change the URL's structure: a password ``p@ss/w:rd`` put in
as it is ends the password at ``@`` and turns the rest into the host, which then shows (and
leaks the tail of the password) wherever the URL is displayed. So a value is percent-encoded
where SQLAlchemy decodes it again: the user name, the password, the database (the path) and
the query's values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Template
from urllib.parse import quote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# SQLAlchemy's own reading of the user info: the password runs from the first ':' to '@'.
_PASSWORD_AS_WRITTEN = re.compile(r"[\w+]+://[^:/]*:([^@]*)@")


class _Encoded(dict[str, str]):
    """The variables, each percent-encoded as it is looked up."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        super().__init__()
        self._variables = variables

    def __missing__(self, name: str) -> str:
        return quote(self._variables[name], safe="")


def substitute_url(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``${NAME}`` (or ``$NAME``) in a URL in from ``variables``; unknown names stay.

    Values go in percent-encoded, except in the scheme and the host and port, and except
    when the template has no ``://`` of its own (the whole URL comes from a variable).
    A variable in the path or the query is one value there, not several.
    """
    scheme, separator, rest = template.partition("://")
    if not separator:
        return Template(template).safe_substitute(variables)
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    encoded = _Encoded(variables)
    return "".join(
        [
            Template(scheme).safe_substitute(variables),
            separator,
            Template(userinfo).safe_substitute(encoded),
            at,
            Template(host).safe_substitute(variables),
            Template(rest[end:]).safe_substitute(encoded),
        ]
    )


def url_secrets(url: str) -> list[str]:
    """The URL's password, as SQLAlchemy reads it and as written (percent-encoded); longest first.

    Empty when the URL has no password or cannot be parsed.
    """
    try:
        password = make_url(url).password
    except ArgumentError:
        return []
    if not password:
        return []
    written = _PASSWORD_AS_WRITTEN.match(url)
    forms = {str(password), written.group(1) if written else str(password)}
    return sorted(forms, key=len, reverse=True)
