from __future__ import annotations

import math
from pathlib import Path

import pytest

from driftloop.exceptions import RegistryError, RegistryUnavailable
from driftloop.registry import Registry, VersionLineage

UNREACHABLE = "postgresql+psycopg2://postgres:s3cret@127.0.0.1:1/registry"


def test_an_unreachable_database_is_retryable_and_hides_the_password(
    lineage: VersionLineage,
) -> None:
    registry = Registry(url=UNREACHABLE)
    calls = [
        registry.upgrade,
        registry.list_models,
        lambda: registry.register_version("m", run_key="r", lineage=lineage, created_by="t"),
        lambda: registry.move_alias("m", "champion", 1, actor="t", reason="r"),
    ]
    for call in calls:
        with pytest.raises(RegistryUnavailable) as caught:
            call()
        message = str(caught.value)
        assert "127.0.0.1:1" in message
        assert "Connection refused" in message or "connect" in message
        assert "s3cret" not in message
        assert caught.value.url == "postgresql+psycopg2://postgres:***@127.0.0.1:1/registry"
    assert "s3cret" not in repr(registry)


def test_a_sqlite_file_whose_folder_cannot_exist_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(RegistryUnavailable, match="cannot create the folder"):
        Registry(url=f"sqlite:///{blocker / 'registry.db'}")


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(RegistryError, match="unsupported registry database"):
        Registry(url="mysql+pymysql://root:pw@127.0.0.1/registry")


def test_a_failed_registration_leaves_no_model_behind(
    registry: Registry, lineage: VersionLineage
) -> None:
    unstorable = lineage.model_copy(update={"metrics": {"auc": math.nan}})

    with pytest.raises(RegistryError, match="JSON"):
        registry.register_version("credit_risk", run_key="r1", lineage=unstorable, created_by="t")

    assert registry.list_models() == []


def test_a_failed_move_leaves_the_alias_and_the_log_untouched(
    registry: Registry, lineage: VersionLineage
) -> None:
    for run in ("r1", "r2"):
        registry.register_version("credit_risk", run_key=run, lineage=lineage, created_by="t")
    registry.move_alias("credit_risk", "champion", 1, actor="t", reason="first")

    with pytest.raises(RegistryError, match="JSON"):
        registry.move_alias(
            "credit_risk", "champion", 2, actor="t", reason="r", evidence={"gain": math.inf}
        )

    assert registry.aliases("credit_risk") == {"champion": 1}
    assert len(registry.audit_log("credit_risk")) == 1
