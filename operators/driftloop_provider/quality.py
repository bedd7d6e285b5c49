"""The monitor's quality operator: score the champion on the labelled batches it has not seen.

Runs before :class:`~driftloop_provider.monitoring.ScoreDriftOperator`, whose drift report
shows its verdict; its summary also goes to
:class:`~driftloop_provider.monitoring.RetrainGateOperator` (``quality=``), which combines
it with drift under ``monitoring.retrain_on``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from driftloop_provider.base import DriftloopBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class ScoreQualityOperator(DriftloopBaseOperator):
    """Score the champion on each new labelled batch; judge its quality on the whole window.

    Calls :func:`~driftloop.training.quality.check_quality`: each batch published after the
    champion's training data, and each batch whose late labels arrived since, is scored on
    its labelled rows (the holdout's metrics and threshold, bootstrap intervals) and stored
    in the registry's database; the quality rule then judges the window pooled. Sets the
    summary as the ``extra`` of every outlet's Asset event and returns
    :meth:`QualityCheck.summary() <driftloop.training.quality.QualityCheck.summary>`:
    ``degraded``, ``reason``, ``signature``, ``model_version``, ``evidence``, ``batches``,
    ``scored``. Skips, saying why, when nothing new was scored (no champion, no new
    labelled rows, quality monitoring off).
    """

    def execute(self, context: Context) -> dict[str, Any]:
        """Check quality; return the summary."""
        from driftloop.exceptions import DataSourceError, QualityCheckSkipped, SchemaMismatch
        from driftloop.monitoring.quality import QualityStore
        from driftloop.training.quality import check_quality

        quality = QualityStore(url=self.registry_url)
        try:
            check = check_quality(self.store, self.registry, quality, self.spec, self.settings)
        except QualityCheckSkipped as skipped:
            raise AirflowSkipException(str(skipped)) from skipped
        except (DataSourceError, SchemaMismatch) as bad:
            raise AirflowFailException(f"cannot score quality: {bad}") from bad
        finally:
            quality.close()
        summary = check.summary()
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = summary
        for result in check.scored:
            self.log.info(
                "Batch %s: %s labelled rows of %s; %s",
                result.batch,
                result.labelled_rows,
                result.rows,
                ", ".join(f"{k} {v.describe()}" for k, v in result.metrics.items()),
            )
        self.log.info("%s", check.verdict.reason)
        return summary
