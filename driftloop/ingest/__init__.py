"""Write-audit-publish: a batch is staged on its branch, validated, and merged to ``main``.

- :mod:`~driftloop.ingest.batch`: batch keys, branches, paths and the staged record;
- :mod:`~driftloop.ingest.steps`: stage, validate, publish (one Airflow task each);
- :mod:`~driftloop.ingest.quarantine`: a rejected batch's reasons, kept on its branch.
"""
