#!/bin/sh
# Writes .env for docker-compose.yml with new random secrets, once: an existing .env is kept
# (the warehouse and metadata volumes remember the passwords they were created with).
#   sh deploy/new-env.sh [path]        # default: .env beside docker-compose.yml
set -eu
env_file=${1:-$(dirname "$0")/../.env}
if [ -e "$env_file" ]; then
  echo "$env_file exists: kept as it is (delete it first to make new secrets)" >&2
  exit 0
fi
command -v openssl >/dev/null || { echo "new-env.sh needs openssl to make random secrets" >&2; exit 1; }
secret() { openssl rand -hex "$1"; }
admin_password=$(secret 12)
umask 077
cat >"$env_file" <<ENV
# docker-compose.yml's secrets (sh deploy/new-env.sh). Keep this file out of version control.
AIRFLOW_UID=50000
AIRFLOW_JWT_SECRET=$(secret 32)
AIRFLOW_API_SECRET_KEY=$(secret 32)
AIRFLOW_FERNET_KEY=$(openssl rand -base64 32 | tr '+/' '-_')
AIRFLOW_ADMIN_USER=admin
AIRFLOW_ADMIN_PASSWORD=$admin_password
DXW_WAREHOUSE_PASSWORD=$(secret 16)
DXW_BI_PASSWORD=$(secret 16)
DXW_LOADER_PASSWORD=$(secret 16)
ENV
echo "Wrote $env_file. Airflow UI login: admin / $admin_password"
