#!/bin/sh
# read-secret NAME: print the secret file NAME from the secrets folder (DRIFTLOOP_SECRETS_DIR,
# /run/secrets by default) without trailing newlines.
#
# Airflow's *_CMD options (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD and the like) use a command's
# output as it is: a newline that an editor left at the end of a secret file would become part
# of the database URL or of the key. Installed in the image as /usr/local/bin/read-secret.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: read-secret NAME" >&2
    exit 2
fi
case "$1" in
    */* | . | ..)
        echo "read-secret: NAME is a file name, not a path: $1" >&2
        exit 2
        ;;
esac

value=$(cat "${DRIFTLOOP_SECRETS_DIR:-/run/secrets}/$1")
printf '%s' "$value"
