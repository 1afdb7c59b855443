"""The alert receiver's settings (deployments/alerts.yaml): token variable, body limit, dedupe file,
the Prefect API it posts to, and the label routes from alerts to failover plans."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from multicloud.config.loading import http_url, load_yaml_model
from multicloud.core.alerts import PLAN_PATTERN


class AlertRoute(BaseModel):
    """Alerts whose labels carry every `match` label with the same value start `plan`."""

    model_config = ConfigDict(extra="forbid")

    match: dict[str, str] = Field(min_length=1, description="Labels an alert must carry, all of them, "
                                  "with these exact values (commonLabels merged with the alert's labels).")
    plan: str = Field(pattern=PLAN_PATTERN, description="Failover plan name: lowercase, digits, dashes.")


class ReceiverConfig(BaseModel):
    """Settings of the alert receiver (deployments/alerts.yaml)."""

    model_config = ConfigDict(extra="forbid")

    token_env: str = Field(default="MULTICLOUD_ALERT_TOKEN", min_length=1,
                           description="Environment variable holding the bearer token Alertmanager sends.")
    max_body_bytes: int = Field(default=1 << 20, gt=0, description="Largest request body accepted (413 above).")
    database: Path = Field(default=Path(".local/alerts/receiver.sqlite3"),
                           description="SQLite file of the durable dedupe; relative paths are under the repo root.")
    cancel_on_resolved: bool = Field(default=True, description="On a resolved alert, also set the Prefect "
                                     "variable failover-cancel-<incident> to 'resolved' so the flow stops before DNS.")
    prefect_api_url: str | None = Field(default=None, description="Prefect API (…/api) the events go to; "
                                        "unset: PREFECT_API_URL from the environment or the Prefect profile.")
    prefect_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of each call to the Prefect API.")
    routes: list[AlertRoute] = Field(default_factory=list, description="Label matches to plans; first match wins.")

    @field_validator("prefect_api_url")
    @classmethod
    def _prefect_api_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    def database_path(self, root: Path) -> Path:
        """The dedupe file, a relative `database` taken under `root` (the repository)."""
        return self.database if self.database.is_absolute() else root / self.database



def load_receiver_config(path: str | Path) -> ReceiverConfig:
    """Read and validate the receiver config. Raises InvalidInput naming the file and field."""
    return load_yaml_model(path, ReceiverConfig, "alert receiver config")
