"""Commitment discount rates as data (deployments/rightsizing/commitments/rates.yaml): per provider, the
commitment program, the FOCUS ServiceNames it covers, and its discount for each term with the URL it
was published at; loading refuses bad input naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from multicloud.config.loading import http_url, load_yaml_model, repeated

DEFAULT_RATES = Path(__file__).resolve().parents[2] / "deployments" / "rightsizing" / "commitments" / "rates.yaml"


class Rate(BaseModel):
    """One term's discount off the on-demand rate, as a fraction (0.36 = 36 % off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term_years: Literal[1, 3] = Field(description="Commitment term in years: 1 or 3.")
    discount: float = Field(gt=0, lt=1, description="Discount off on demand, as a fraction between 0 and 1.")
    source: str = Field(description="URL where the rate (or the example it comes from) was published.")
    basis: str = Field(min_length=1, description="What the figure is: a published rate, a published maximum, "
                       "or a worked example (which shape, region, payment option).")

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return http_url(value)


class Program(BaseModel):
    """A provider's spend commitment and the services (FOCUS ServiceName) whose usage it covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["aws", "azure", "gcp"] = Field(description="The dataset's provider: aws, azure or gcp.")
    program: str = Field(min_length=1, description="Name of the commitment, e.g. Compute Savings Plans.")
    services: list[str] = Field(min_length=1, description="FOCUS ServiceName values the commitment covers.")
    rates: list[Rate] = Field(min_length=1, description="One rate per term.")

    @model_validator(mode="after")
    def _one_rate_per_term(self) -> "Program":
        dupes = repeated(str(r.term_years) for r in self.rates)
        if dupes:
            raise ValueError(f"one rate per term; repeated term_years: {', '.join(dupes)}")
        return self


class CommitmentRates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    programs: list[Program] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_program_per_service(self) -> "CommitmentRates":
        dupes = repeated(f"{p.provider}/{s.lower()}" for p in self.programs for s in p.services)
        if dupes:
            raise ValueError(f"a service belongs to one program; repeated: {', '.join(dupes)}")
        return self


def load_commitment_rates(path: str | Path = DEFAULT_RATES) -> CommitmentRates:
    """Read and validate the rates file; InvalidInput names the file and the field."""
    return load_yaml_model(path, CommitmentRates, "commitment rates")
