"""The train operators turn refusals that a retry cannot heal into failures without retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from driftloop.config import get_settings
from driftloop.training.steps import Candidate
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop_provider.train import RegisterModelOperator, TrainModelOperator

QUARANTINE = "ingest-2026-04-02"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VersionStore:
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    store = open_store(get_settings())
    store.ensure_repository("main")
    return store


def _quarantined(store: VersionStore) -> dict[str, str]:
    store.create_branch(QUARANTINE, "main")
    store.write_object(QUARANTINE, "quarantine/reasons.json", b"{}")
    return {"data_ref": QUARANTINE, "data_commit": store.commit(QUARANTINE, "quarantine").id}


def _train(data: dict[str, str], **kwargs: Any) -> Any:
    operator = TrainModelOperator(task_id="train", data=data, **kwargs)
    return operator.execute({"run_id": "manual__1"})  # type: ignore[arg-type]


def test_training_off_main_fails_without_retry(store: VersionStore) -> None:
    data = _quarantined(store)

    with pytest.raises(AirflowFailException, match="is not on 'main'") as caught:
        _train(data)

    assert QUARANTINE in str(caught.value) and data["data_commit"] in str(caught.value)
    assert "the champion stays where it was" in str(caught.value)


def test_the_override_must_render_to_a_boolean(store: VersionStore) -> None:
    with pytest.raises(AirflowFailException, match="allow_unpublished_data must be true or false"):
        _train(_quarantined(store), allow_unpublished_data="yes")


def test_a_reused_run_key_with_another_model_fails_registration_without_retry(
    store: VersionStore,
) -> None:
    head = store.resolve("main")
    candidate = Candidate(
        run_key="manual__1",
        data_ref="main",
        data_commit=head,
        rows=100,
        params={"seed": 42},
        metrics={"roc_auc": 0.8},
        champion_version=None,
        champion_metrics=None,
        artifact_uri="models/credit_risk/manual__1/model.ubj",
        artifact_commit=head,
        artifact_sha256="1" * 64,
        files=[],
        reference_profile_uri="monitoring/credit_risk/reference/manual__1.bin",
    )
    first = RegisterModelOperator(task_id="register", candidate=candidate.model_dump())
    assert first.execute({})["version"] == 1  # type: ignore[arg-type]
    retried = RegisterModelOperator(task_id="register", candidate=candidate.model_dump())
    assert retried.execute({})["version"] == 1  # type: ignore[arg-type]

    other = candidate.model_copy(update={"artifact_sha256": "2" * 64}).model_dump()
    with pytest.raises(AirflowFailException, match=r"run key 'manual__1' already registered"):
        RegisterModelOperator(task_id="register", candidate=other).execute({})  # type: ignore[arg-type]


def test_an_unknown_engine_fails_without_retry(store: VersionStore) -> None:
    data = {"data_ref": "main", "data_commit": store.resolve("main")}
    with pytest.raises(AirflowFailException, match="engine 'spark' is not one of local, dask"):
        _train(data, engine="spark")


def test_an_unreachable_dask_scheduler_is_retried(
    store: VersionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftloop.exceptions import ClusterUnavailable
    from tests.support.serving import free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("DRIFTLOOP_DASK__SCHEDULER_ADDRESS", address)
    monkeypatch.setenv("DRIFTLOOP_DASK__CONNECT_TIMEOUT_SECONDS", "1")
    data = {"data_ref": "main", "data_commit": store.resolve("main")}
    # not an AirflowFailException: the task's retries may find the scheduler up
    with pytest.raises(ClusterUnavailable, match=rf"scheduler at {address} did not answer"):
        _train(data, engine="dask")
