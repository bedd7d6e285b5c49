"""driftloop's model against a plain ``xgboost.XGBClassifier()`` on the real tables of the corpus.

Per table of ``tests/support/corpus.py``, all of its rows: the spec is inferred from the whole
table (as ``driftloop init`` does) and the rows conformed to it (as ingestion stores them).
driftloop trains through its core with its defaults (``TrainingParams()``: 400 rounds at most,
early stopping on its validation split, native categoricals) on the split by id hash. The plain
classifier, with default settings (100 rounds, no early stopping), learns from the same training
rows (driftloop's train split; it has no use for the validation split), with text features
one-hot encoded over the spec's categories. Both are scored on the same holdout rows.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

AUC_MARGIN = 0.01
"""How far below the plain classifier's ROC AUC counts as worse, not noise."""


@dataclass(frozen=True)
class Score:
    """Both models on one table's holdout rows."""

    table: str
    rows: int
    columns: int
    positive_share: float
    holdout_rows: int
    driftloop_auc: float
    plain_auc: float
    driftloop_log_loss: float
    plain_log_loss: float

    @property
    def behind(self) -> bool:
        """Whether driftloop's ROC AUC is more than ``AUC_MARGIN`` below the plain one's."""
        return self.plain_auc - self.driftloop_auc > AUC_MARGIN


def score_table(name: str) -> Score:
    """Train both models on one table of the corpus and score them on its holdout rows."""
    import xgboost
    from sklearn import metrics

    from driftloop.data.conform import conform_frame
    from driftloop.spec import SourceSpec
    from driftloop.spec.learn import infer_spec
    from driftloop.training import TrainingParams, evaluate, holdout_rows, train_model
    from driftloop.training.features import labels, model_frame, split_assignment
    from tests.support.corpus import load, table

    entry = table(name)
    raw = load(entry, rows=None)
    spec = infer_spec(
        raw,
        name=entry.name,
        source=SourceSpec(kind="file", path=f"{entry.name}.csv"),
        target=entry.target,
        id_column=entry.id_column,
    )
    frame = conform_frame(raw, spec)
    split = split_assignment(frame, spec)
    params = TrainingParams()
    trained = train_model(frame, spec, params, split=split)
    ours = evaluate(trained.booster, holdout_rows(frame, spec, split=split), spec, threshold=0.5)

    y = labels(frame, spec)
    onehot = pd.get_dummies(model_frame(frame, spec), dtype=np.float32)
    learn, holdout = split == "train", split == "holdout"
    plain = xgboost.XGBClassifier().fit(onehot[learn], y[learn])
    probability = plain.predict_proba(onehot[holdout])[:, 1]
    return Score(
        table=entry.name,
        rows=len(frame),
        columns=len(spec.features),
        positive_share=float(y.mean()),
        holdout_rows=ours.rows,
        driftloop_auc=ours.roc_auc,
        plain_auc=float(metrics.roc_auc_score(y[holdout], probability)),
        driftloop_log_loss=ours.log_loss,
        plain_log_loss=float(metrics.log_loss(y[holdout], probability, labels=[0, 1])),
    )


def print_scores(scores: list[Score]) -> None:
    """Print one line per table, flagging those where driftloop is behind."""
    print("\n## corpus: driftloop vs plain XGBClassifier() on the same holdout rows")
    print(
        f"{'table':<14} {'rows':>6} {'features':>8} {'positive':>8} {'holdout':>7} "
        f"{'AUC ours':>8} {'AUC plain':>9} {'logloss ours':>12} {'logloss plain':>13}"
    )
    for s in scores:
        flag = f"  behind by {s.plain_auc - s.driftloop_auc:.3f} AUC" if s.behind else ""
        print(
            f"{s.table:<14} {s.rows:>6,} {s.columns:>8} {s.positive_share:>8.1%} "
            f"{s.holdout_rows:>7,} {s.driftloop_auc:>8.3f} {s.plain_auc:>9.3f} "
            f"{s.driftloop_log_loss:>12.4f} {s.plain_log_loss:>13.4f}{flag}"
        )


def run(names: list[str] | None = None) -> list[Score]:
    """Score every table of the corpus (or the named ones) and print the table."""
    from tests.support.corpus import TABLES

    scores = [score_table(name) for name in names or [entry.name for entry in TABLES]]
    print_scores(scores)
    return scores


if __name__ == "__main__":
    run(sys.argv[1:])
