#!/bin/sh
# Creates driftloop's databases and roles (create-databases.sql) on the first start of an empty
# data volume: the postgres image runs the scripts in /docker-entrypoint-initdb.d only then.
# Stops the start with an error when a password secret is missing, rather than create a role
# nobody can log in as.

for name in airflow_db_password registry_db_password serving_registry_db_password lakefs_db_password; do
    if [ ! -s "/run/secrets/$name" ]; then
        echo "initdb: the secret $name is missing or empty (run docker/secrets/make-secrets.sh)" >&2
        exit 1
    fi
done

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -f /etc/driftloop/create-databases.sql || exit 1
