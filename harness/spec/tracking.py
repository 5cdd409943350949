"""`tracking:` in a suite: where a run is logged as experiment runs (MLflow).

    tracking:
      mlflow: http://127.0.0.1:5000     # an MLflow tracking URI
      experiment: policy-qa             # default: the suite's name

`adaptbench run SUITE --mlflow URI` does the same without the block. The logging itself is in
harness/reports/tracking.py. Credentials never go in the URI or the suite: MLflow reads them from
its environment variables (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD), and nothing here writes them anywhere.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Tracking URI schemes MLflow's client accepts: its REST server, a Databricks workspace, a local
# folder, and the SQLAlchemy databases of a server-less SQL store (`postgresql+psycopg2` too).
_SCHEMES = ("http", "https", "file", "databricks", "sqlite", "postgresql", "mysql", "mssql")
_NAMED = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def tracking_uri_problem(uri: str) -> str | None:
    """What is wrong with an MLflow tracking URI, or None when it can be used.

    A URI that carries a user name or password is refused: it would end up in results.json and
    shell histories, so credentials go in MLflow's environment variables instead.
    """
    if not uri.strip():
        return "is empty"
    if not _NAMED.match(uri):
        return None  # a plain folder: MLflow's local file store
    parts = urlsplit(uri)
    if parts.scheme.split("+", 1)[0].lower() not in _SCHEMES:
        return (
            f"has scheme {parts.scheme!r}; use http(s)://HOST:PORT (an MLflow server), "
            "databricks, file:///FOLDER or a database URI (sqlite:///FILE)"
        )
    if parts.username or parts.password:
        return (
            "carries credentials (not shown); remove them and set MLFLOW_TRACKING_TOKEN (or "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) in the environment"
        )
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        return "names no host (expected http://HOST:PORT)"
    return None


class TrackingSpec(BaseModel):
    """`tracking:`: log every run of the suite to an MLflow tracking server."""

    # The same rules as harness.spec.config.Strict (which imports this module).
    model_config = ConfigDict(extra="forbid", strict=True)

    mlflow: str = Field(description="MLflow tracking URI, e.g. http://127.0.0.1:5000")
    experiment: str | None = Field(
        None, min_length=1, max_length=500, description="MLflow experiment (default: suite name)"
    )

    @field_validator("mlflow")
    @classmethod
    def _usable_uri(cls, uri: str) -> str:
        problem = tracking_uri_problem(uri)
        if problem:
            raise ValueError(f"tracking URI {redact_uri(uri)!r} {problem}")
        return uri


def redact_uri(uri: str) -> str:
    """The URI with any user name and password replaced by `***`, for messages."""
    parts = urlsplit(uri) if _NAMED.match(uri) else None
    if parts is None or not (parts.username or parts.password):
        return uri
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()
