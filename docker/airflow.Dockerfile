# syntax=docker/dockerfile:1
# The driftloop image: Airflow 3.3.2 with driftloop, its Airflow provider (operators/), the DAGs,
# the dataset specs and the BentoML service. Every Airflow component and the BentoML service run
# from it (docker/compose.yaml). Secrets reach the containers at run time as files under
# /run/secrets; nothing secret is passed to or stored by this build.
#
# Build from the repository root:
#   docker build -f docker/airflow.Dockerfile -t driftloop:0.1.0 .
#
# The base image by tag; pin it by digest with --build-arg AIRFLOW_IMAGE=<tag>@sha256:<digest>
# (compose: AIRFLOW_IMAGE in docker/.env), the digest read as docker/README.md shows.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER root
# XGBoost's wheels load the system's OpenMP runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
COPY --chmod=0755 docker/read-secret.sh /usr/local/bin/read-secret
# Mount points of the named volumes: a new volume takes this ownership, so the airflow user
# (uid 50000, gid 0) can write to it.
RUN mkdir -p /opt/driftloop /opt/airflow/driftloop /opt/airflow/landing /opt/airflow/auth \
    && chown airflow:0 /opt/driftloop /opt/airflow/driftloop /opt/airflow/landing /opt/airflow/auth
USER airflow

# Every package comes from a lock with hashes (`make lock`), checked with --require-hashes.
WORKDIR /opt/driftloop
COPY --chown=airflow:0 requirements-uv.lock requirements-runtime.lock ./

# uv at the Makefile's version, installed beside the virtualenv that `uv pip sync` rewrites.
RUN python -m pip install --no-cache-dir --require-hashes --no-deps --target /home/airflow/uv \
        -r requirements-uv.lock

# requirements-runtime.lock is requirements.lock without the dev extra (no pytest, ruff,
# schemathesis, playwright, mlflow), at the same versions: what the test suite ran with (numpy<2,
# pandas<3, pyarrow<26 for whylogs among them). It decides every version, Airflow included. The
# base image holds Airflow 3.3.2 resolved against Airflow's own constraints together with some
# thirty providers and their dependencies. Installing the lock on top (`pip install -r`) would
# downgrade shared libraries under those providers and leave them running versions nobody
# tested; Airflow's constraints approach does not apply because the lock, not the constraints
# file, must win. `uv pip sync` into the image's virtualenv makes the environment exactly the
# lock: pinned versions in, everything else out.
RUN /home/airflow/uv/bin/uv pip sync --python "${VIRTUAL_ENV}/bin/python" --no-cache \
        --require-hashes --compile-bytecode requirements-runtime.lock

# driftloop and its provider, editable: Airflow imports, and `bentoml build` in the train DAG's
# package step packs, the same files that sit in /opt/driftloop.
COPY --chown=airflow:0 pyproject.toml README.md ./
# driftloop/ holds the Data Docs assets (CSS, JS, fonts) that `make install` vendors from npm
# (vendor/package-lock.json): node is not in this image, so build after `make install`.
COPY --chown=airflow:0 driftloop ./driftloop
RUN test -f driftloop/validation/datadocs_assets/.installed \
    || { echo "driftloop/validation/datadocs_assets/ is missing: run make install" >&2; exit 1; }
COPY --chown=airflow:0 operators ./operators
RUN /home/airflow/uv/bin/uv pip install --python "${VIRTUAL_ENV}/bin/python" --no-cache --no-deps \
        --editable /opt/driftloop

COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 plugins ./plugins
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 bento ./bento
RUN python -m compileall -q driftloop operators dags plugins bento

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/driftloop/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/driftloop/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DRIFTLOOP_PROJECT_DIR=/opt/driftloop \
    DRIFTLOOP_CONFIG=/opt/driftloop/driftloop.yaml \
    DRIFTLOOP_HOME=/opt/airflow/driftloop \
    DRIFTLOOP_LANDING=/opt/airflow/landing \
    GX_ANALYTICS_ENABLED=False \
    BENTOML_DO_NOT_TRACK=True \
    WHYLOGS_NO_ANALYTICS=1 \
    SCARF_ANALYTICS=false \
    DO_NOT_TRACK=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False
