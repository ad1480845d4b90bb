# Backstop in one container: the admin, public pages, API and background jobs in one process,
# with its SQLite files in the /data volume.
#
#   docker build -t backstop .
#   docker run -d --name backstop -p 8750:8750 -v backstop-data:/data backstop
#
# Builds without internet access (packaging/README.md) pass ready-made wheels with
#   --build-arg PIP_OPTIONS="--no-index --find-links http://127.0.0.1:PORT/"

FROM debian:bookworm-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 python3-venv=3.11.2-1+b1 \
        binutils=2.40-2 \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/backstop
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backstop ./backstop
COPY jobs ./jobs
COPY ui ./ui
ARG PIP_OPTIONS=""
COPY packaging/slim_venv.py /tmp/slim_venv.py
# Faker (25 MB) arrives with Litestar's test-data helpers; Backstop never generates OpenAPI
# examples, so it stays out of the image, with pip itself. slim_venv.py drops the AWS models
# of services Backstop never calls, strips the extensions' symbols (binutils stays in this
# stage) and keeps bytecode only for what a server start imports.
RUN /opt/backstop/bin/pip install --no-cache-dir $PIP_OPTIONS . \
    && /opt/backstop/bin/pip uninstall --yes faker setuptools pip \
    && /opt/backstop/bin/python /tmp/slim_venv.py /opt/backstop

FROM debian:bookworm-slim
COPY --from=build /opt/backstop /opt/backstop
COPY packaging/healthcheck.py /opt/backstop/healthcheck.py
COPY packaging/slim_venv.py /tmp/slim_venv.py
# Debian compiles the whole standard library when python3 is installed; in the same step,
# keep only the bytecode of what a server start imports (slim_venv.py --stdlib).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 \
    && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
    && /opt/backstop/bin/python /tmp/slim_venv.py --stdlib /opt/backstop \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin backstop \
    && mkdir /data \
    && chown backstop:backstop /data
ENV PATH=/opt/backstop/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BACKSTOP_DATA_DIR=/data \
    BACKSTOP_HOST=0.0.0.0 \
    BACKSTOP_PORT=8750
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8750
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "/opt/backstop/healthcheck.py"]
# uvicorn finishes requests in flight and the jobs consumer stops between tasks on SIGINT.
STOPSIGNAL SIGINT
CMD ["backstop", "serve"]
