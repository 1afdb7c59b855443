"""Typed configuration by domain (profiles, replication, failover, costs) and its loading.
Every model validates its URLs at load, and errors name the file and the field."""

from multicloud.config.alerts import AlertRoute, ReceiverConfig, load_receiver_config
from multicloud.config.costs import COST_SOURCE_KINDS, CostsConfig, CostSource, ProviderTotals, load_costs_config
from multicloud.config.failover import (
    BucketPolicyWriteSwitch, CloudDnsRecord, Dataset, DnsRecord, FailoverPlan, HttpWriteSwitch, PlansFile,
    RdsWriteSwitch, Route53Record, Site, TrafficManagerProfile, load_plans,
)
from multicloud.config.loading import load_yaml_model, store_url
from multicloud.config.profiles import (
    LOCAL_DIR_VARIABLE, Cloud, Connection, Profile, default_profile, load_profile, local_profile_path, local_state_dir, read_profile,
)
from multicloud.config.replication import ReplicationRule, RulesFile, load_rules

