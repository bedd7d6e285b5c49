"""``${VARS}`` in database URLs go in percent-encoded, and the password is named for masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from driftloop.data.urls import substitute_url, url_secrets

PASSWORD = "p@ss/w:rd?#&%"


def test_a_password_with_delimiters_stays_the_password() -> None:
    url = make_url(
        substitute_url(
            "postgresql+psycopg2://${USER}:${PW}@db.internal:5432/loans",
            {"PW": PASSWORD, "USER": "e@l"},
        )
    )

    assert (url.username, url.password) == ("e@l", PASSWORD)
    assert (url.host, url.port, url.database) == ("db.internal", 5432, "loans")


def test_database_and_query_values_are_one_value_each() -> None:
    url = make_url(
        substitute_url(
            "postgresql://u@h/${DB}?application_name=${APP}&sslmode=require",
            {"DB": "a/b?c", "APP": "x&y=z +1"},
        )
    )

    assert url.database == "a/b?c"
    assert url.query == {"application_name": "x&y=z +1", "sslmode": "require"}


def test_a_sqlite_path_from_a_variable_is_the_path(tmp_path: Path) -> None:
    home = tmp_path / "a home"

    url = make_url(
        substitute_url("sqlite:///${DRIFTLOOP_HOME}/source.db", {"DRIFTLOOP_HOME": str(home)})
    )

    assert url.database == f"{home}/source.db"


@pytest.mark.parametrize(
    ("template", "variables", "expected"),
    [
        # The whole URL, or the host and port, come from a variable as they are.
        ("${DATABASE_URL}", {"DATABASE_URL": "postgresql://u:pw@h:1/d"}, "postgresql://u:pw@h:1/d"),
        ("postgresql://u@${HOST}/d", {"HOST": "db:6432"}, "postgresql://u@db:6432/d"),
        # An unknown variable is left for the reader to see.
        ("postgresql://u:${NOPE}@h/d", {}, "postgresql://u:${NOPE}@h/d"),
    ],
)
def test_what_is_not_encoded(template: str, variables: dict[str, str], expected: str) -> None:
    assert substitute_url(template, variables) == expected


def test_the_secrets_are_the_password_as_read_and_as_written() -> None:
    url = substitute_url("postgresql://u:${PW}@h/d", {"PW": "p@ss/w:rd"})

    assert url_secrets(url) == ["p%40ss%2Fw%3Ard", "p@ss/w:rd"]
    assert url_secrets("postgresql://u:plain@h/d") == ["plain"]
    assert url_secrets("postgresql://u@h/d") == url_secrets("not a url") == []
