-- The BentoML service's role on the model registry: it reads the champion and its lineage and
-- writes nothing. Run connected to the registry's database by a superuser, with two psql
-- variables: :owner, the role that owns the registry's tables (`driftloop registry upgrade`
-- runs the migrations as it), and :reader, the role that may only read them. create-databases.sql
-- runs it on the first start; tests/deployment/test_registry_reader.py runs it on a scratch
-- database and checks what each role can do.

-- Only the owner creates tables; on PostgreSQL before 15 every role could create them in public.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"reader";

-- SELECT on the tables that exist, and on every table the owner creates later: on the first start
-- there are none yet, the migrations run afterwards (airflow-init).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";

-- Read-only transactions by default too, so even a privilege granted by mistake writes nothing.
ALTER ROLE :"reader" SET default_transaction_read_only = on;
