"""Idle and rightsizing detection, pure: the rule vocabulary, statistics from raw points, and rule
evaluation returning findings with their evidence."""

from multicloud.core.rightsizing.evaluate import (
    CLEAR, EXCLUDED, FINDING, INSUFFICIENT, SKIPPED, Day, Evidence, Outcome, Resource, Series, evaluate,
    evaluate_rule, is_kept, required_series,
)
from multicloud.core.rightsizing.records import Inventory, MetricsResult
from multicloud.core.rightsizing.statistics import percentile, window
from multicloud.core.rightsizing.vocabulary import (
    ATTRIBUTES, KINDS, METRICS, MISSING_DATA, OPERATORS, PERIOD_STATISTICS, Statistic, parse_statistic,
)
