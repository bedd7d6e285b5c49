"""``driftloop models show``: a version's history, with the moves the registry refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop.exceptions import AliasMoved
from driftloop.launcher.cli import main
from driftloop.registry import Registry, open_registry
from tests.support.registry import sample_lineage

MODEL = "credit_risk"  # the name in the project's expectations/credit_risk.yaml


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The CLI's registry, with versions 1-3 and champion moved 1 -> 2."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("DRIFTLOOP_REGISTRY_URL", url)
    registry = open_registry(url)
    for run in ("run-1", "run-2", "run-3"):
        registry.register_version(MODEL, run_key=run, lineage=sample_lineage(), created_by="t")
    registry.move_alias(MODEL, "champion", 1, actor="dag", reason="first", expected=None)
    registry.move_alias(MODEL, "champion", 2, actor="cli:ana", reason="manual", expected=1)
    return registry


def _show(version: int, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["models", "show", str(version)]) == 0
    return json.loads(capsys.readouterr().out)


def test_show_prints_refused_moves_under_the_alias_moves(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "refused_moves" not in _show(3, capsys)
    with pytest.raises(AliasMoved):
        registry.move_alias(
            MODEL, "champion", 3, actor="dag", reason="approved", run_key="r-7", expected=1
        )

    shown = _show(3, capsys)

    assert list(shown) == ["version", "decisions", "alias_moves", "refused_moves"]
    (refused,) = shown["refused_moves"]
    assert {k: refused[k] for k in ("expected_version", "actual_version", "to_version")} == {
        "expected_version": 1,
        "actual_version": 2,
        "to_version": 3,
    }
    assert (refused["actor"], refused["reason"], refused["run_key"]) == ("dag", "approved", "r-7")
    # the versions it names show it too (it expected 1, found 2); others do not
    assert len(_show(1, capsys)["refused_moves"]) == 1
    registry.register_version(MODEL, run_key="run-4", lineage=sample_lineage(), created_by="t")
    assert "refused_moves" not in _show(4, capsys)


def test_promote_and_rollback_act_only_against_the_champion_the_user_saw(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    # the user looked when version 1 was champion; champion is 2 now
    assert main(["models", "promote", "3", "--expected-champion", "1"]) == 1
    assert "points at version 2, not 1" in capsys.readouterr().err
    assert main(["models", "rollback", "--expected-champion", "1", "--reason", "bad"]) == 1
    assert registry.get_alias(MODEL, "champion").version == 2
    refused = registry.refused_moves(MODEL)
    assert [(r.to_version, r.expected_version, r.reason) for r in refused] == [
        (1, 1, "bad"),
        (3, 1, "manual promotion"),
    ]
    assert all(r.actor.startswith("cli:") for r in refused)

    # without the flag, the move is checked against the champion the command read
    assert main(["models", "promote", "3", "--expected-champion", "2"]) == 0
    assert main(["models", "rollback"]) == 0
    assert "champion rolled back: 3 -> 2" in capsys.readouterr().out
    assert main(["models", "promote", "3"]) == 0
    assert [m.from_version for m in registry.audit_log(MODEL)][-3:] == [2, 3, 2]
    assert len(registry.refused_moves(MODEL)) == 2


def test_show_lists_the_versions_quality_over_time_with_a_table(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from driftloop.monitoring.quality import QualityStore
    from tests.support.quality import scored

    assert "quality" not in _show(2, capsys)
    store = QualityStore(url=f"sqlite:///{tmp_path / 'registry.db'}")
    for day, auc in ((2, 0.78), (3, 0.61)):
        store.record(scored(2, day, roc_auc=auc))
    store.close()

    assert main(["models", "show", "2"]) == 0
    out = capsys.readouterr()
    shown = json.loads(out.out)

    assert [q["batch"] for q in shown["quality"]] == ["2026-03-02T0000Z", "2026-03-03T0000Z"]
    lines = out.err.strip().splitlines()[-3:]
    assert lines[0].split()[:3] == ["batch", "labelled", "roc_auc"]
    assert lines[2].startswith("2026-03-03T0000Z  900/1000  0.610 [0.580, 0.640]")
    assert "quality" not in _show(1, capsys)
