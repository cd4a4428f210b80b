# The dxw image for every Airflow service of docker-compose.yml (and the source simulator). The
# image's own entrypoint stays: it waits for the metadata database and runs `airflow <command>`.
FROM apache/airflow:3.3.2-python3.11

ENV DXW_PROJECT_DIR=/opt/dxw \
    DXW_HOME=/opt/dxw/.dxw \
    DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False

# Every path docker-compose.yml mounts a named volume on exists here, owned by airflow (uid 50000,
# gid 0): a new volume starts as a copy of it, so the services (uid 50000) can write to it.
# airflow-init chowns them again for volumes that already exist or another AIRFLOW_UID.
USER root
RUN mkdir -p /opt/dxw/.dxw /opt/dxw/uploads /opt/dxw/dbt_project/target /opt/airflow/logs /opt/airflow/auth \
    && chown -R airflow:root /opt/dxw /opt/airflow/logs /opt/airflow/auth
USER airflow

# Dependencies first (cached layer), from the same lock file as `make install`: every package at
# the version uv.lock pins (Airflow, the Celery provider, celery and kombu included), installed
# over the base image's own and checked, so that no pin of the base image's constraints survives.
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/dxw/
COPY --chown=airflow:root deploy/check_lock.py /opt/dxw/deploy/
RUN pip install --no-cache-dir "uv==0.13.8" \
    && cd /opt/dxw \
    && uv export --frozen --no-dev --no-hashes --no-emit-project -o /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && python deploy/check_lock.py /tmp/requirements.txt

# The code. .dockerignore keeps .venv, .dxw, dbt_project/target and caches out. The dbt manifest
# is not built here: airflow-init builds it at start from the dbt project the services mount.
COPY --chown=airflow:root . /opt/dxw
RUN pip install --no-cache-dir --no-deps -e /opt/dxw

WORKDIR /opt/dxw
