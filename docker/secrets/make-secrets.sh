#!/bin/sh
# Generates the secret files that docker/compose.yaml mounts under /run/secrets.
#
#   docker/secrets/make-secrets.sh [DIR]     (DIR defaults to the folder of this script)
#
# Random values (passwords, keys, tokens) are generated once and kept: running the script again
# only fills in what is missing, so it never rotates a credential behind a running stack's back.
# The files derived from them (database and broker URLs, lakefs.yaml, seaweedfs_s3.json,
# redis.conf) are rewritten from the random values on every run.
#
# The folder is made private to its owner (0700). The files in it are 0644 because they are
# bind-mounted into containers that run as other users (airflow, postgres, lakefs, redis); the
# folder's mode keeps other users of this host away from them. Nothing is printed.
set -eu

dir=${1:-$(dirname "$0")}
mkdir -p "$dir"
chmod 0700 "$dir"
umask 022

hex() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

fernet_key() {
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n'
}

access_key_id() {
    printf 'AKIA%s' "$(hex 8 | tr 'abcdef' 'ABCDEF')"
}

# put NAME VALUE: write the file atomically, without a trailing newline.
put() {
    printf '%s' "$2" > "$dir/.$1.tmp"
    mv "$dir/.$1.tmp" "$dir/$1"
}

# keep NAME GENERATOR...: create NAME from the generator's output unless it holds a value.
keep() {
    name=$1
    shift
    if [ ! -s "$dir/$name" ]; then
        put "$name" "$("$@")"
    fi
}

value() {
    cat "$dir/$1"
}

keep postgres_password hex 24
keep airflow_db_password hex 24
keep registry_db_password hex 24
keep serving_registry_db_password hex 24
keep lakefs_db_password hex 24
keep redis_password hex 24
keep airflow_fernet_key fernet_key
keep airflow_jwt_secret hex 32
keep airflow_api_secret_key hex 32
keep airflow_flower_password hex 16
keep lakefs_encrypt_secret_key hex 32
keep s3_access_key_id access_key_id
keep s3_secret_access_key hex 20
keep driftloop_lakefs__access_key_id access_key_id
keep driftloop_lakefs__secret_access_key hex 20
keep driftloop_serving_token hex 32
# The service's own lakeFS keys. lakeFS Community has a single user, so they start as a copy of
# the admin keys; with lakeFS Enterprise, write the keys of the service's user (its policy is in
# docker/README.md) into these two files: they are kept from then on.
keep serving_lakefs__access_key_id value driftloop_lakefs__access_key_id
keep serving_lakefs__secret_access_key value driftloop_lakefs__secret_access_key

put airflow_db_url \
    "postgresql+psycopg2://airflow:$(value airflow_db_password)@postgres:5432/airflow"
put airflow_celery_result_backend \
    "db+postgresql://airflow:$(value airflow_db_password)@postgres:5432/airflow"
put airflow_celery_broker_url "redis://:$(value redis_password)@redis:6379/0"
put airflow_flower_basic_auth "flower:$(value airflow_flower_password)"
put driftloop_registry_url \
    "postgresql+psycopg2://driftloop:$(value registry_db_password)@postgres:5432/driftloop_registry"
# The service reads the registry as driftloop_serving: SELECT only (postgres/registry-reader.sql).
put serving_registry_url \
    "postgresql+psycopg2://driftloop_serving:$(value serving_registry_db_password)@postgres:5432/driftloop_registry"

put redis.conf "# Redis as Celery's broker: password required, nothing kept on disk.
requirepass $(value redis_password)
save \"\"
appendonly no
"

put lakefs.yaml "# The secret part of lakeFS's configuration; docker/compose.yaml sets the rest.
database:
  postgres:
    connection_string: \"postgres://lakefs:$(value lakefs_db_password)@postgres:5432/lakefs?sslmode=disable\"
auth:
  encrypt:
    secret_key: \"$(value lakefs_encrypt_secret_key)\"
blockstore:
  s3:
    credentials:
      access_key_id: \"$(value s3_access_key_id)\"
      secret_access_key: \"$(value s3_secret_access_key)\"
"

put seaweedfs_s3.json "{\"identities\": [{\"name\": \"lakefs\", \
\"credentials\": [{\"accessKey\": \"$(value s3_access_key_id)\", \
\"secretKey\": \"$(value s3_secret_access_key)\"}], \
\"actions\": [\"Admin\", \"Read\", \"Write\", \"List\", \"Tagging\"]}]}
"
