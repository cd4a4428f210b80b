# The dxw image for every Airflow service of docker-compose.yml (and the source simulator).
FROM apache/airflow:3.3.2-python3.11

ENV DXW_PROJECT_DIR=/opt/dxw \
    DXW_HOME=/opt/dxw/.dxw \
    DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False

USER root
RUN mkdir -p /opt/dxw/.dxw && chown -R airflow:root /opt/dxw
USER airflow

# Dependencies first (cached layer), from the same lock file as `make install`.
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/dxw/
RUN pip install --no-cache-dir "uv==0.13.8" \
    && cd /opt/dxw \
    && uv export --frozen --no-dev --no-hashes --no-emit-project -o /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

COPY --chown=airflow:root . /opt/dxw
RUN pip install --no-cache-dir --no-deps -e /opt/dxw \
    && cd /opt/dxw && dxw manifest

WORKDIR /opt/dxw
