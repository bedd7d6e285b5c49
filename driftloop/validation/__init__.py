"""Validation with Great Expectations: suites learned from a sample, batches checked in one call.

- :mod:`~driftloop.validation.suites`: build, write and load the baseline suite;
- :mod:`~driftloop.validation.runner`: validate a batch, keep GX's result and Data Docs;
- :mod:`~driftloop.validation.datadocs`: Data Docs pages on vendored CSS and JS, no CDN;
- :mod:`~driftloop.validation.messages`: failed expectations told in words;
- :mod:`~driftloop.validation.report`: the report a validation returns.
"""
