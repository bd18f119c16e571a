# syntax=docker/dockerfile:1
# One image for every role of the platform (see README, Deployment):
#   docker run IMAGE                       -> mpc serve (role from NODE_TYPE: coordinator = API +
#                                             coordinator worker, participant = participant worker)
#   docker run IMAGE api | worker coordinator | worker participant | migrate up | tokens create ...
# No secret is baked in: every secret comes from the environment or a mounted file at run time.
# Base images are pinned by tag; pin them by digest in your registry mirror for reproducible builds.

# ---- build: a virtualenv with the project and its dependencies ------------------------------------
FROM python:3.11-slim-trixie AS build
# pip compiles the .pyc files at install time, so the read-only runtime never writes bytecode
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# compilers and headers only for dependencies without a wheel for this platform (gmpy2, coincurve)
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libgmp-dev libmpfr-dev libmpc-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# dependencies first (their layer is reused while pyproject.toml is unchanged)
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY api ./api
COPY activities ./activities
COPY mpc ./mpc
COPY tss ./tss
COPY workers ./workers
COPY workflows ./workflows
RUN pip install --no-deps .

# ---- runtime: slim, no compilers, non-root -------------------------------------------------------
# postgresql-client: pg_dump and psql for the backup workflow and `mpc backup restore` (on PATH)
FROM python:3.11-slim-trixie AS runtime
LABEL org.opencontainers.image.title="mpc-signer" \
      org.opencontainers.image.description="Threshold-signing (MPC) platform: API, coordinator and participant workers" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgmp10 tini postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mpc \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin mpc \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/mpc /var/lib/mpc/shares /var/lib/mpc/backups /run/secrets/mpc \
    && install -d -m 0755 /etc/mpc
COPY --from=build /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/mpc-entrypoint
COPY --chmod=0755 deploy/healthcheck.py /usr/local/bin/mpc-healthcheck
COPY --chmod=0755 deploy/vault_login.py /usr/local/bin/mpc-vault-login
# no setting is fixed here: an ENV would override the config file (settings: env > file > default).
# MPC_REQUIRE_ENVIRONMENT is no setting: it makes every process refuse to start unless the deployment
# sets ENVIRONMENT (environment variable or config file) explicitly (SECURITY.md A6).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPC_REQUIRE_ENVIRONMENT=1
WORKDIR /var/lib/mpc
USER 10001:10001
EXPOSE 8080 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/mpc-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/mpc-entrypoint"]
CMD ["serve"]
