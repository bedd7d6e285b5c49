"""Serving without a server: the request contract, the champion handle, scoring, profiles.

- :mod:`~driftloop.serving.contract`: request and response models from the dataset spec;
- :mod:`~driftloop.serving.batch`: a request's rows (records or columns) checked and encoded
  a block at a time;
- :mod:`~driftloop.serving.limits`: the suite's learned ranges and signs, and the per-row
  input warnings checked against them;
- :mod:`~driftloop.serving.metrics`: the service's Prometheus metrics (input warnings);
- :mod:`~driftloop.serving.handle`: a loaded model version, and loading the champion;
- :mod:`~driftloop.serving.watcher`: swap the handle when the champion alias moves;
- :mod:`~driftloop.serving.scoring`: encode and predict, alone or coalesced;
- :mod:`~driftloop.serving.profiles`: whylogs profiles of what the service scores.

``bento/`` serves these over HTTP; nothing here imports BentoML.
"""
