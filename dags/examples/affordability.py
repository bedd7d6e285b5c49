"""An operator a data engineer writes on driftloop: derive affordability features.

It reads the newest commit of ``main``, computes each application's monthly loan payment
and its share of monthly income, writes the feature table to its own branch, checks it with
Great Expectations and merges it into ``main`` beside the data it came from.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from airflow.sdk.exceptions import AirflowFailException

from driftloop.data.published import read_published
from driftloop.data.sources import to_parquet_bytes
from driftloop_provider.base import DriftloopBaseOperator


def affordability(applications: pd.DataFrame) -> pd.DataFrame:
    """Monthly payment of an annuity loan, and that payment over monthly income.

    ``interest_rate`` is a yearly rate in percent; ``income`` is yearly.
    """
    rate = applications["interest_rate"] / 100 / 12
    months = applications["loan_term_months"]
    payment = applications["loan_amount"] * rate / (1 - (1 + rate) ** -months)
    return pd.DataFrame(
        {
            "application_id": applications["application_id"],
            "monthly_payment": payment.round(2),
            "payment_to_income": (payment / (applications["income"] / 12)).round(4),
        }
    )


def check(features: pd.DataFrame) -> list[str]:
    """What is wrong with the feature table, by Great Expectations; empty when all is well."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("features")
        .add_dataframe_asset("affordability")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": features})
    )
    expectations = [
        gx.expectations.ExpectColumnValuesToBeUnique(column="application_id"),
        gx.expectations.ExpectColumnValuesToBeBetween(column="monthly_payment", min_value=0),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="payment_to_income", min_value=0, max_value=2, mostly=0.99
        ),
    ]
    results = [batch.validate(e) for e in expectations]
    return [
        f"{r.expectation_config.type} on {r.expectation_config.kwargs['column']}"
        for r in results
        if not r.success
    ]


class AffordabilityFeaturesOperator(DriftloopBaseOperator):
    """Derive affordability features from ``main``'s newest commit and merge them into it.

    The feature table goes to ``features/<dataset>/affordability.parquet``. Re-running on the
    same commit changes nothing.
    """

    def execute(self, context: Any) -> dict[str, Any]:
        """Derive, check, merge; return the merged commit and the number of rows."""
        main = self.settings.main_branch
        head = self.store.resolve(main)
        features = affordability(read_published(self.store, self.spec, head))
        problems = check(features)
        if problems:
            raise AirflowFailException(f"affordability features failed: {', '.join(problems)}")
        path = f"features/{self.spec.name}/affordability.parquet"
        branch = f"features-{head[:12]}"
        with self.transact(branch, source_ref=head, message="Affordability features") as tx:
            tx.write_if_changed(path, to_parquet_bytes(features))
        merged = self.store.merge(branch, main, message=f"Merge {branch}")
        self.store.delete_branch(branch)
        stored = pd.read_parquet(io.BytesIO(self.store.read_object(merged, path)))
        return {"commit": merged, "rows": len(stored)}
