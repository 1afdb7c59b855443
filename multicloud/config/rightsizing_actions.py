"""Where rightsizing actions reach each cloud: which connection of the profile, the management
endpoints (empty: the cloud's own), and how often long-running operations are polled."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ActionTargets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connections: dict[str, str] = Field(default_factory=dict, description="Cloud -> connection name in the "
                                        "profile (aws, azure, gcp); a cloud not named uses its first connection.")
    azure_arm_url: str | None = Field(default=None, description="Azure Resource Manager base URL; empty: ARM's own "
                                      "(a local fake needs 'emulator' credentials).")
    gcp_compute_url: str | None = Field(default=None, description="Compute Engine base URL; empty: Google's own.")
    poll_seconds: float = Field(default=2.0, gt=0, le=60, description="Wait between polls of a long-running "
                                "operation when the cloud does not say (Azure's Retry-After wins).")
    max_wait_seconds: float = Field(default=1800, gt=0, description="Longest wait for one operation or snapshot.")
