"""Commitment recommendations (AWS Savings Plans, Azure savings plans, GCP committed use discounts)
from the on-demand EffectiveCost series of the FOCUS dataset, with Azure's published method:
every period's on-demand cost gives the commitment that would have been optimal in that period;
each such candidate is simulated over the whole series (commitment paid every hour, the usage it
covers at the discount, the rest on demand at the undiscounted rate); net savers are kept, up to
ten, and the best of each term is highlighted. AWS and GCP do not publish theirs, so the same
method is used for them and named as such. Discount rates are data (`commitment_rates`)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Iterable

METHOD = ("Azure savings-plan candidate simulation (learn.microsoft.com/azure/cost-management-billing/"
          "savings-plan/purchase-recommendations)")
HOURS_PER_MONTH = Decimal(730)
MAX_CANDIDATES = 10
SHORTEST_LOOKBACK_HOURS = 7 * 24  # Azure's shortest look-back period
ZERO = Decimal(0)
_STEP = Decimal("0.001")  # commitments are bought in thousandths of the currency per hour
_CENT = Decimal("0.01")
_RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class UsageSeries:
    """On-demand EffectiveCost of one (provider, service, region) in one currency: one point per
    period of `period_hours` (1: hourly, 24: daily) from `start`, periods without usage as 0.
    `committed_total` is what commitments already covered in the same window."""

    provider: str
    service: str
    region: str
    currency: str
    granularity: str
    granularity_note: str
    start: datetime | None
    period_hours: int
    points: tuple[Decimal, ...] = ()
    committed_total: Decimal = ZERO
    left_out_rows: int = 0

    @property
    def hours(self) -> int:
        return self.period_hours * len(self.points)

    @property
    def total(self) -> Decimal:
        return sum(self.points, ZERO)


@dataclass(frozen=True)
class Candidate:
    """One simulated hourly commitment and what it would have done over the series."""

    hourly_commitment: Decimal
    savings: Decimal
    monthly_net_savings: Decimal
    coverage: Decimal
    utilisation: Decimal
    break_even_months: Decimal


@dataclass(frozen=True)
class TermAdvice:
    term_years: int
    discount: Decimal
    source: str
    candidates: tuple[Candidate, ...]
    reason: str

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class Recommendation:
    """The commitment advice for one series: the best candidate of each term, and the one
    recommended (the largest net monthly savings; the shorter term on a tie), with why."""

    provider: str
    service: str
    region: str
    currency: str
    program: str
    method: str
    granularity: str
    granularity_note: str
    hours: int
    monthly_on_demand: Decimal
    terms: tuple[TermAdvice, ...]
    reason: str

    @property
    def recommended(self) -> TermAdvice | None:
        usable = [t for t in self.terms if t.best is not None]
        return max(usable, key=lambda t: (t.best.monthly_net_savings, -t.term_years)) if usable else None

    @property
    def term_years(self) -> int | None:
        return self.recommended.term_years if self.recommended else None

    @property
    def best(self) -> Candidate | None:
        return self.recommended.best if self.recommended else None


@dataclass(frozen=True)
class CommitmentPlan:
    recommendations: tuple[Recommendation, ...]
    not_eligible: tuple[tuple[str, str, str, str], ...]  # (provider, service, region, why)


def recommend_commitments(series: Iterable[UsageSeries], programs: Iterable, max_candidates: int = MAX_CANDIDATES
                          ) -> CommitmentPlan:
    """One recommendation per series whose service a program covers. `programs` are objects shaped
    like `multicloud.config.rightsizing_commitments.Program` (provider, program, services, rates of
    term_years, discount, source)."""
    programs = list(programs)
    found, skipped = [], []
    for item in series:
        program = _program(programs, item)
        if program is None:
            skipped.append((item.provider, item.service, item.region,
                            f"no commitment program of {item.provider} covers {item.service!r}"))
            continue
        found.append(recommend(item, program, max_candidates))
    return CommitmentPlan(tuple(found), tuple(skipped))


def _program(programs: list, item: UsageSeries):
    for program in programs:
        if program.provider == item.provider and item.service.lower() in {s.lower() for s in program.services}:
            return program
    return None


def recommend(item: UsageSeries, program, max_candidates: int = MAX_CANDIDATES) -> Recommendation:
    method = METHOD if item.provider == "azure" else f"{METHOD}, used for {program.program} (not published)"
    rates = sorted(program.rates, key=lambda r: r.term_years)
    terms = tuple(simulate_term(item, rate, max_candidates) for rate in rates)
    monthly = _money(item.total * HOURS_PER_MONTH / item.hours) if item.hours else ZERO
    rec = Recommendation(item.provider, item.service, item.region, item.currency, program.program, method,
                         item.granularity, item.granularity_note, item.hours, monthly, terms, "")
    return _with_reason(rec, item)


def _with_reason(rec: Recommendation, item: UsageSeries) -> Recommendation:
    chosen = rec.recommended
    if chosen is None:
        why = "; ".join(f"{t.term_years}-year: {t.reason}" for t in rec.terms) or "no discount rates configured"
        return replace(rec, reason=f"no commitment: {why}")
    best = chosen.best
    parts = [f"commit {best.hourly_commitment} {rec.currency}/hour for {chosen.term_years} year(s): saves "
             f"{best.monthly_net_savings} {rec.currency} a month at a {chosen.discount:.0%} discount "
             f"({best.coverage:.0%} of on-demand spend covered, {best.utilisation:.0%} of the commitment used)"]
    if item.granularity != "hourly":
        parts.append(f"simulated on {item.granularity} points: {item.granularity_note}")
    if item.hours < SHORTEST_LOOKBACK_HOURS:
        parts.append(f"only {item.hours} hours of usage, fewer than the 7 days of Azure's shortest look-back: "
                     "indicative only")
    return replace(rec, reason="; ".join(parts))


def simulate_term(item: UsageSeries, rate, max_candidates: int = MAX_CANDIDATES) -> TermAdvice:
    """Every candidate of the series at one term's discount; the net savers, best first."""
    discount = Decimal(str(rate.discount))
    total = item.total
    if not item.points or total <= 0:
        why = ("all usage in the window was covered by commitments already: nothing left to commit"
               if item.committed_total > 0 else "no on-demand usage in the window")
        return TermAdvice(rate.term_years, discount, rate.source, (), why)
    commitments, simulated = _candidates(item, discount, rate.term_years)
    savers = sorted((c for c in simulated if c.savings > 0), key=lambda c: (-c.savings, c.hourly_commitment))
    why = "" if savers else (f"none of the {len(commitments)} candidates saves money at a {discount:.0%} discount: "
                             "usage too uneven for a commitment")
    return TermAdvice(rate.term_years, discount, rate.source, tuple(savers[:max_candidates]), why)


def _candidates(item: UsageSeries, discount: Decimal, term_years: int) -> tuple[list[Decimal], list[Candidate]]:
    """Each period's optimal commitment (its cost at the discount, per hour), simulated."""
    usage = sorted(item.points)
    prefix = [ZERO]
    for value in usage:
        prefix.append(prefix[-1] + value)
    commitments = sorted({_floor(u * (1 - discount) / item.period_hours) for u in usage if u > 0} - {ZERO})
    return commitments, [_simulate(item, usage, prefix, c, discount, term_years) for c in commitments]


def _simulate(item: UsageSeries, usage: list[Decimal], prefix: list[Decimal], commitment: Decimal,
              discount: Decimal, term_years: int) -> Candidate:
    """Cost with the commitment = commitment × hours + on-demand beyond what it covers; the
    commitment covers usage worth commitment / (1 - discount) each hour."""
    periods = len(usage)
    per_period = commitment * item.period_hours
    covers = per_period / (1 - discount)
    below = bisect_right(usage, covers)
    covered = prefix[below] + covers * (periods - below)
    paid = per_period * periods
    savings = covered - paid
    monthly_covered = covered * HOURS_PER_MONTH / item.hours
    term_cost = commitment * HOURS_PER_MONTH * 12 * term_years
    return Candidate(
        hourly_commitment=commitment,
        savings=_money(savings),
        monthly_net_savings=_money(savings * HOURS_PER_MONTH / item.hours),
        coverage=_ratio(covered / item.total),
        utilisation=_ratio(covered / (covers * periods)),
        # months of usage like this one after which the whole term's commitment has paid for itself
        # in on-demand spend displaced (what is left if the workload then went away)
        break_even_months=(term_cost / monthly_covered).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
    )


def _floor(value: Decimal) -> Decimal:
    return value.quantize(_STEP, rounding=ROUND_DOWN)


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _ratio(value: Decimal) -> Decimal:
    return value.quantize(_RATIO, rounding=ROUND_HALF_UP)


def commitment_rows(plan: CommitmentPlan) -> list[dict]:
    """The plan as table rows (one per series, best net savings first), numbers as text a person
    can check: what to buy, what it covers and uses, when it pays off, and why."""
    rows = []
    ranked = sorted(plan.recommendations, key=lambda r: -(r.best.monthly_net_savings if r.best else ZERO))
    for rec in ranked:
        best = rec.best
        rows.append({
            "provider": rec.provider, "service": rec.service, "region": rec.region, "program": rec.program,
            "granularity": rec.granularity, "term_years": rec.term_years or "",
            "hourly_commitment": f"{best.hourly_commitment} {rec.currency}" if best else "",
            "coverage": f"{best.coverage:.1%}" if best else "", "utilisation": f"{best.utilisation:.1%}" if best else "",
            "break_even_months": str(best.break_even_months) if best else "",
            "net_monthly_savings": f"{best.monthly_net_savings} {rec.currency}" if best else "",
            "monthly_on_demand": f"{rec.monthly_on_demand} {rec.currency}", "why": rec.reason,
        })
    return rows
