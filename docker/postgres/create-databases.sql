-- driftloop's three databases on one PostgreSQL server, each owned by its own role:
--   airflow             Airflow's metadata (and the Celery result backend)
--   driftloop_registry  the model registry (schema: `driftloop registry upgrade`, Alembic)
--   lakefs              lakeFS's metadata (repositories, refs, commits, users)
-- and driftloop_serving, the BentoML service's role: it reads the registry and writes nothing
-- (registry-reader.sql).
-- Run once by initdb.sh, on the first start of an empty data volume. The passwords are read
-- from the compose secrets by psql itself, so they appear on no command line.

\set airflow_password `cat /run/secrets/airflow_db_password`
\set registry_password `cat /run/secrets/registry_db_password`
\set serving_registry_password `cat /run/secrets/serving_registry_db_password`
\set lakefs_password `cat /run/secrets/lakefs_db_password`

CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;

CREATE ROLE driftloop LOGIN PASSWORD :'registry_password';
CREATE DATABASE driftloop_registry OWNER driftloop;
CREATE ROLE driftloop_serving LOGIN PASSWORD :'serving_registry_password';

CREATE ROLE lakefs LOGIN PASSWORD :'lakefs_password';
CREATE DATABASE lakefs OWNER lakefs;

-- A new database lets every role connect; here each role reaches its own database only.
REVOKE CONNECT, TEMPORARY ON DATABASE airflow, driftloop_registry, lakefs FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE airflow TO airflow;
GRANT CONNECT, TEMPORARY ON DATABASE driftloop_registry TO driftloop;
GRANT CONNECT ON DATABASE driftloop_registry TO driftloop_serving;
GRANT CONNECT, TEMPORARY ON DATABASE lakefs TO lakefs;

-- Schema privileges live in each database: the reader's grants are made inside the registry's.
\connect driftloop_registry
\set owner driftloop
\set reader driftloop_serving
\ir registry-reader.sql
