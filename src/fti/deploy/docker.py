"""The Dockerfile of an exported deployment: a slim Python image running ``fti serve`` as a non-root user.

The image installs fti (with the serving, store-driver and scikit-learn/XGBoost/LightGBM extras) and the
pip requirements recorded with the served model versions, copies the container's ``fti.yaml`` (and the
baked model files, when baked), and runs ``fti serve --project /app``. Secrets are never in the image:
the server reads them from its environment (``docker run --env-file``, a Kubernetes secret). Its health
check asks ``/v2/health/ready``, which stays 503 while a served model version fails to load.
"""

from __future__ import annotations

__all__ = ["USER_ID", "dockerfile"]

#: the unprivileged user the server runs as (a number, so Kubernetes can check runAsNonRoot)
USER_ID = 10001


def dockerfile(deployment: str, project: str, python: str, fti_package: str, bake_models: bool) -> str:
    """The Dockerfile text.

    Args:
        deployment: the deployment served.
        project: the project's name.
        python: the Python version of the base image (``"3.11"``), the one the models were saved with.
        fti_package: what pip installs for fti (override at build time with ``--build-arg FTI_PACKAGE=...``).
        bake_models: copy the baked model files (``models/``) into the image.
    """
    baked = "COPY models/ /app/models/\n" if bake_models else ""
    probe = (
        "import sys, urllib.request; "
        "sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/v2/health/ready', timeout=2).status == 200 else 1)"
    )
    return f"""# Model server for deployment '{deployment}' of project '{project}'.
# Written by `fti deployments export`; build it with `docker build -t IMAGE .` in this folder.
FROM python:{python}-slim

ARG FTI_PACKAGE="{fti_package}"
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install "$FTI_PACKAGE" -r /app/requirements.txt
COPY fti.yaml /app/fti.yaml
{baked}RUN useradd --uid {USER_ID} --home-dir /app --no-create-home fti && chown -R {USER_ID} /app
USER {USER_ID}

EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["python", "-c", "{probe}"]
CMD ["fti", "serve", "--project", "/app"]
"""
