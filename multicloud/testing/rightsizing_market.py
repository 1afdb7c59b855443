"""The market the seeded rightsizing scenario (multicloud.testing.rightsizing_seed) runs in: the VM shapes
each cloud offers, their on-demand and spot list prices on the price fakes, each cloud's own advice on
the seeded resources, and 30 days of FOCUS costs for them plus a steady fleet, so that every stage of a
run (targets, savings, advice, arbitrage, commitments) answers from one consistent set of figures.

Prices are the clouds' published Linux on-demand rates of late 2025 (AWS us-east-1, Azure East US, GCP
us-central1), other AWS regions scaled by their published m5 ratio; spot figures are plausible, not
quoted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from multicloud.core.objects import ObjectStore
from multicloud.core.rightsizing.statistics import window
from multicloud.testing.fakes.fake_aws_pricing import FakeAwsPricing, ebs_product, ec2_product, ipv4_product
from multicloud.testing.fakes.fake_azure_compute import FakeAzureCompute
from multicloud.testing.fakes.fake_azure_prices import FakeAzurePrices, disk_item, ip_item, vm_item
from multicloud.testing.fakes.fake_cloud_billing import COMPUTE_ENGINE, FakeCloudBilling, vm_skus
from multicloud.testing.fakes.fake_compute_optimizer import FakeComputeOptimizer
from multicloud.testing.fakes.fake_ec2_spot import FakeEc2Spot
from multicloud.testing.fakes.fake_gce import FakeGce
from multicloud.testing.fakes.fake_recommender import FakeRecommender
from multicloud.testing.rightsizing_costs import Charge, write_focus

HOUR = timedelta(hours=1)
HOURS_PER_MONTH = Decimal(730)
FOCUS_DAYS = 30
ARBITRAGE_REGIONS = {"aws": "us-east-1", "azure": "eastus", "gcp": "us-central1"}  # the scope's defaults

#: The type of each seeded VM role, per cloud (rightsizing_seed creates them).
VM_TYPES = {"aws": {"idle": "m5.large", "oversized": "m5.2xlarge", "kept": "t3.micro", "nodata": "t3.small"},
            "azure": {"idle": "Standard_D2s_v3", "oversized": "Standard_D8s_v3", "kept": "Standard_D2s_v3",
                      "nodata": "Standard_D2s_v3"},
            "gcp": {"idle": "e2-standard-2", "oversized": "n2-standard-8", "kept": "e2-standard-2",
                    "nodata": "e2-standard-2"}}
#: What the rules' headroom leaves for each oversized VM (see deployments/rightsizing/*.yaml): m5.2xlarge
#: at 24 % CPU / 26 % memory fits m5.xlarge under 80/80; D8s_v3 at 16 % / 19 % fits a 4-vCPU size under
#: 40/60; n2-standard-8 at 20 % / 25 % fits n2-standard-4 under 80/80.
TARGETS = {"aws": "m5.xlarge", "azure": "Standard_D4s_v3", "gcp": "n2-standard-4"}

# ---- AWS: instance types and their us-east-1 on-demand prices ---------------------------------------

_INTEL, _AMD = "Intel Xeon Platinum 8175", "AMD EPYC 7571"
# family -> (processor, on-demand price per vCPU-hour, GiB per vCPU) for the regular large..4xlarge sizes
_AWS_FAMILIES = {"m4": ("Intel Xeon E5-2676 v3 (Haswell)", "0.05", 4), "m5": (_INTEL, "0.048", 4),
                 "m5a": (_AMD, "0.043", 4), "m6i": ("Intel Xeon 8375C (Ice Lake)", "0.048", 4),
                 "m6a": ("AMD EPYC 7R13 Processor", "0.0432", 4),
                 "m7i": ("Intel Xeon Scalable (Sapphire Rapids)", "0.0504", 4),
                 "c5": (_INTEL, "0.0425", 2), "r5": (_INTEL, "0.063", 8)}
_AWS_SIZES = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16}
# burstable families have irregular sizes: size -> (vCPUs, GiB, price)
_AWS_BURSTABLE = {
    "t2": ("Intel Xeon Family", {"micro": (1, 1, "0.0116"), "small": (1, 2, "0.023"), "medium": (2, 4, "0.0464"),
                                 "large": (2, 8, "0.0928"), "xlarge": (4, 16, "0.1856"), "2xlarge": (8, 32, "0.3712")}),
    "t3": (_INTEL, {"micro": (2, 1, "0.0104"), "small": (2, 2, "0.0208"), "medium": (2, 4, "0.0416"),
                    "large": (2, 8, "0.0832"), "xlarge": (4, 16, "0.1664"), "2xlarge": (8, 32, "0.3328")}),
    "t3a": (_AMD, {"micro": (2, 1, "0.0094"), "small": (2, 2, "0.0188"), "medium": (2, 4, "0.0376"),
                   "large": (2, 8, "0.0752"), "xlarge": (4, 16, "0.1504"), "2xlarge": (8, 32, "0.3008")})}
# region -> price ratio to us-east-1 (published m5.large: 0.096, 0.107, 0.107, 0.12, 0.153); others 1.2
_AWS_REGIONS = {"us-east-1": Decimal(1), "us-east-2": Decimal(1), "us-west-2": Decimal(1),
                "ca-central-1": Decimal("1.115"), "eu-west-1": Decimal("1.115"), "ap-southeast-2": Decimal("1.25"),
                "sa-east-1": Decimal("1.594")}
_AWS_EBS = {"gp3": Decimal("0.08"), "gp2": Decimal("0.10")}  # per GB-month, us-east-1
_AWS_IPV4 = Decimal("0.005")  # per hour, every region
SPOT_ZONES = ("a", "b", "c")
_SPOT_RATIOS = (Decimal("0.36"), Decimal("0.40"), Decimal("0.44"))  # of on demand, per zone


@dataclass(frozen=True)
class AwsType:
    type: str
    vcpus: int
    memory_gib: int
    price: Decimal  # us-east-1
    processor: str


def _aws_types() -> dict[str, AwsType]:
    out = {}
    for family, (processor, per_vcpu, gib) in _AWS_FAMILIES.items():
        for size, vcpus in _AWS_SIZES.items():
            out[f"{family}.{size}"] = AwsType(f"{family}.{size}", vcpus, vcpus * gib, Decimal(per_vcpu) * vcpus,
                                              processor)
    for family, (processor, sizes) in _AWS_BURSTABLE.items():
        for size, (vcpus, gib, price) in sizes.items():
            out[f"{family}.{size}"] = AwsType(f"{family}.{size}", vcpus, gib, Decimal(price), processor)
    return out


AWS_TYPES = _aws_types()


def _regional(price: Decimal, region: str) -> Decimal:
    return (price * _AWS_REGIONS.get(region, Decimal("1.2"))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def aws_price(type_name: str, region: str) -> Decimal:
    """The seeded on-demand hourly price of an EC2 type in a region."""
    return _regional(AWS_TYPES[type_name].price, region)


def aws_price_ebs(volume_type: str, region: str) -> Decimal:
    """The seeded GB-month price of an EBS volume type in a region."""
    return _regional(_AWS_EBS[volume_type], region)


def aws_spot_price(type_name: str, region: str, zone: str) -> Decimal:
    """The seeded latest spot price of an EC2 type in one zone (letter a, b or c) of a region."""
    ratio = _SPOT_RATIOS[SPOT_ZONES.index(zone)]
    return (aws_price(type_name, region) * ratio).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def seed_aws_prices(pricing: FakeAwsPricing, regions: tuple[str, ...]) -> int:
    """Every type of AWS_TYPES, gp3 and gp2 volumes and public IPv4 addresses in each region; products added."""
    products = []
    for region in dict.fromkeys(regions):
        products += [ec2_product(t.type, region, str(aws_price(t.type, region)), vcpu=t.vcpus,
                                 memory_gib=str(t.memory_gib), processor=t.processor) for t in AWS_TYPES.values()]
        products += [ebs_product(region, kind, str(aws_price_ebs(kind, region))) for kind in _AWS_EBS]
        products += [ipv4_product(region, str(_AWS_IPV4), idle=idle) for idle in (True, False)]
    pricing.add_products(*products)
    return len(products)


def seed_spot(spot: FakeEc2Spot, regions: tuple[str, ...], now: datetime) -> int:
    """A spot history per type and zone: the latest price 6 hours before `now`, an older (dearer) one a
    day before that, so a reader must take the one in effect. Rows added."""
    rows = 0
    for region in dict.fromkeys(regions):
        for t in AWS_TYPES.values():
            for zone in SPOT_ZONES:
                latest = aws_spot_price(t.type, region, zone)
                spot.add_price(t.type, f"{region}{zone}", str(latest), now - timedelta(hours=6))
                spot.add_price(t.type, f"{region}{zone}", str(latest * Decimal("1.15")), now - timedelta(hours=30))
                rows += 2
    return rows


# ---- Azure: VM sizes (resource SKUs) and Retail Prices ----------------------------------------------

@dataclass(frozen=True)
class AzureSize:
    name: str
    vcpus: int
    memory_gib: int
    family: str  # the resource SKU's family
    series: str  # the Retail Prices product's series
    price: Decimal
    spot: Decimal | None  # None: no spot meter (B-series has none)

    @property
    def meter(self) -> str:  # "D2s v3" of Standard_D2s_v3
        return self.name.removeprefix("Standard_").replace("_", " ")


AZURE_SIZES = {s.name: s for s in (
    AzureSize("Standard_B1s", 1, 1, "standardBSFamily", "BS", Decimal("0.0104"), None),
    AzureSize("Standard_B2s", 2, 4, "standardBSFamily", "BS", Decimal("0.0416"), None),
    AzureSize("Standard_D2s_v3", 2, 8, "standardDSv3Family", "DSv3", Decimal("0.096"), Decimal("0.0190")),
    AzureSize("Standard_D4s_v3", 4, 16, "standardDSv3Family", "DSv3", Decimal("0.192"), Decimal("0.0380")),
    AzureSize("Standard_D8s_v3", 8, 32, "standardDSv3Family", "DSv3", Decimal("0.384"), Decimal("0.0760")),
    AzureSize("Standard_D2s_v5", 2, 8, "standardDSv5Family", "DSv5", Decimal("0.096"), Decimal("0.0172")),
    AzureSize("Standard_D4s_v5", 4, 16, "standardDSv5Family", "DSv5", Decimal("0.192"), Decimal("0.0344")),
    AzureSize("Standard_D8s_v5", 8, 32, "standardDSv5Family", "DSv5", Decimal("0.384"), Decimal("0.0688")))}
AZURE_DISKS = {"E10 LRS": ("Standard SSD Managed Disks", Decimal("9.60")),  # 128 GiB StandardSSD_LRS, a month
               "P4 LRS": ("Premium SSD Managed Disks", Decimal("5.28"))}     # 32 GiB Premium_LRS (OS disks)
AZURE_IPV4 = Decimal("0.005")


def add_azure_sizes(arm: FakeAzureCompute, location: str) -> None:
    """The resource SKUs of AZURE_SIZES in `location` (the shape catalog and the inventory read them)."""
    for s in AZURE_SIZES.values():
        arm.add_sku(location, s.name, vcpus=s.vcpus, memory_gb=s.memory_gib, family=s.family)


def seed_azure_prices(prices: FakeAzurePrices, location: str) -> int:
    """Linux on-demand and spot meters of every size, a Windows meter (which readers must skip), the disk
    tiers and the Standard static IPv4 in `location`; items added."""
    items = []
    for s in AZURE_SIZES.values():
        items.append(vm_item(location, s.name, s.meter, str(s.price), series=s.series))
        items.append(vm_item(location, s.name, s.meter, str(s.price * 2), kind="windows", series=s.series))
        if s.spot is not None:
            items.append(vm_item(location, s.name, s.meter, str(s.spot), kind="spot", series=s.series))
    items += [disk_item(location, tier, str(price), product=product) for tier, (product, price) in AZURE_DISKS.items()]
    items.append(ip_item(location, str(AZURE_IPV4)))
    prices.add_items(*items)
    return len(items)


# ---- Google Cloud: machine types and Billing Catalog SKUs -------------------------------------------

GCP_TYPES = {"e2-standard-2": (2, 8192), "e2-standard-4": (4, 16384), "e2-standard-8": (8, 32768),
             "e2-highcpu-2": (2, 2048), "e2-highcpu-4": (4, 4096), "e2-highcpu-8": (8, 8192),
             "n2-standard-2": (2, 8192), "n2-standard-4": (4, 16384), "n2-standard-8": (8, 32768),
             "n1-standard-1": (1, 3840), "n1-standard-2": (2, 7680), "n1-standard-4": (4, 15360)}
# family -> pricing -> (per vCPU-hour, per GiB-hour), us-central1 ("Americas")
GCP_RATES = {
    "E2": {"OnDemand": ("0.021811", "0.002923"), "Preemptible": ("0.006543", "0.000877"),
           "Commit1Yr": ("0.013741", "0.001842"), "Commit3Yr": ("0.009815", "0.001316")},
    "N2": {"OnDemand": ("0.031611", "0.004237"), "Preemptible": ("0.007660", "0.001027"),
           "Commit1Yr": ("0.019915", "0.002669"), "Commit3Yr": ("0.014225", "0.001907")},
    "N1": {"OnDemand": ("0.031611", "0.004237"), "Preemptible": ("0.006655", "0.000892"),
           "Commit1Yr": ("0.019915", "0.002669"), "Commit3Yr": ("0.014225", "0.001907")}}
GCP_DISK_GB_MONTH = Decimal("0.10")  # pd-balanced
GCP_IDLE_ADDRESS = Decimal("0.01")   # a reserved external address not in use, per hour


def gcp_price(machine_type: str, pricing: str = "OnDemand") -> Decimal:
    """vCPUs x the family's core rate + GiB x its ram rate, as the price reader composes it."""
    vcpus, memory = GCP_TYPES[machine_type]
    core, ram = GCP_RATES[machine_type.split("-", 1)[0].upper()][pricing]
    return Decimal(core) * vcpus + Decimal(ram) * memory / 1024


def add_gcp_types(gce: FakeGce, zone: str) -> None:
    for name, (vcpus, memory) in GCP_TYPES.items():
        gce.add_machine_type(zone, name, vcpus=vcpus, memory_mb=memory)


def seed_gcp_prices(billing: FakeCloudBilling, region: str) -> int:
    """The Compute Engine service with the on-demand, spot and 1- and 3-year commitment Core and Ram
    SKUs of every family of GCP_TYPES in `region`; SKUs added."""
    skus = [s for family, prices in GCP_RATES.items() for s in vm_skus(family, "Americas", (region,), prices)]
    billing.add_service(COMPUTE_ENGINE, "Compute Engine", skus)
    return len(skus)


# ---- each cloud's own advice on the seeded resources ------------------------------------------------

def _monthly(hourly: Decimal, hours: Decimal = HOURS_PER_MONTH) -> Decimal:
    return (hourly * hours).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def seed_aws_advice(optimizer: FakeComputeOptimizer, ids: dict[str, str], region: str) -> None:
    """Compute Optimizer: the oversized instance over-provisioned (to TARGETS["aws"]), the idle one
    idle, and the free volume "Idle" where our rule says unattached waste: a volume younger than the
    32 days of attachment history Compute Optimizer needs before it says "Unattached" (moto cannot
    backdate it), so that comparison differs."""
    types = VM_TYPES["aws"]
    saving = aws_price(types["oversized"], region) - aws_price(TARGETS["aws"], region)
    optimizer.add_instance(ids["oversized"], types["oversized"], options=((TARGETS["aws"], float(_monthly(saving))),),
                           cpu_max=24.0)
    optimizer.add_idle("EC2Instance", ids["idle"], saving=float(_monthly(aws_price(types["idle"], region))))
    optimizer.add_idle("EBSVolume", ids["disk"], finding="Idle",
                       saving=float((50 * aws_price_ebs("gp3", region)).quantize(Decimal("0.01"))))


def seed_azure_advice(arm: FakeAzureCompute, ids: dict[str, str]) -> None:
    """Advisor: Shutdown for the idle VM, SkuChange (to TARGETS["azure"]) for the oversized one, and
    the unattached disk and the stray public IP."""
    sizes = VM_TYPES["azure"]
    arm.add_advisor_recommendation(ids["idle"], "Shutdown", savings=float(_monthly(AZURE_SIZES[sizes["idle"]].price)),
                                   current_sku=sizes["idle"])
    saving = AZURE_SIZES[sizes["oversized"]].price - AZURE_SIZES[TARGETS["azure"]].price
    arm.add_advisor_recommendation(ids["oversized"], "SkuChange", savings=float(_monthly(saving)),
                                   current_sku=sizes["oversized"], target_sku=TARGETS["azure"])
    arm.add_advisor_recommendation(ids["disk"], "DeleteDisk", savings=float(AZURE_DISKS["E10 LRS"][1]),
                                   impacted_field="Microsoft.Compute/disks")
    arm.add_advisor_recommendation(ids["ip"], "DeletePublicIp", savings=float(_monthly(AZURE_IPV4)),
                                   impacted_field="Microsoft.Network/publicIPAddresses")


def seed_gcp_advice(recommender: FakeRecommender, names: dict[str, str], zone: str) -> None:
    """Recommender (costs per 30 days, negative = a saving): the idle VM, a machine type change of the
    oversized one to TARGETS["gcp"], the free disk and the stray address; and the kept VM idle, which
    only the cloud reports (our rules exclude it by its label). `names` are resource paths below the
    project (zones/Z/instances/NAME), as Recommender names them."""
    types, month = VM_TYPES["gcp"], Decimal(720)
    idle = "google.compute.instance.IdleResourceRecommender"
    for role in ("idle", "kept"):
        recommender.add(zone, idle, names[role], monthly_cost_change=str(-_monthly(gcp_price(types[role]), month)))
    saving = gcp_price(types["oversized"]) - gcp_price(TARGETS["gcp"])
    recommender.add(zone, "google.compute.instance.MachineTypeRecommender", names["oversized"],
                    monthly_cost_change=str(-_monthly(saving, month)), target_machine_type=TARGETS["gcp"])
    recommender.add(zone, "google.compute.disk.IdleResourceRecommender", names["disk"],
                    monthly_cost_change=str(-100 * GCP_DISK_GB_MONTH))
    recommender.add(zone.rsplit("-", 1)[0], "google.compute.address.IdleResourceRecommender", names["ip"],
                    monthly_cost_change=str(-_monthly(GCP_IDLE_ADDRESS, month)))


# ---- FOCUS costs ------------------------------------------------------------------------------------

SERVICES = {"aws": {"vm": "Amazon Elastic Compute Cloud", "disk": "Amazon Elastic Compute Cloud",
                    "snapshot": "Amazon Elastic Compute Cloud", "ip": "Amazon Virtual Private Cloud"},
            "azure": {"vm": "Virtual Machines", "disk": "Storage", "snapshot": "Storage", "ip": "Virtual Network"},
            "gcp": {"vm": "Compute Engine", "disk": "Compute Engine", "snapshot": "Compute Engine",
                    "ip": "Compute Engine"}}
_ROLE_KIND = {"idle": "vm", "oversized": "vm", "kept": "vm", "nodata": "vm", "disk": "disk", "ip": "ip",
              "snapshot": "snapshot"}
_SNAPSHOT_GB_MONTH = Decimal("0.05")
# A steady fleet per cloud in its arbitrage region (ids no inventory of the run holds): a base of
# instances running every hour and a few more during 08:00-18:00 UTC, so commitments have usage to size.
_FLEET = {"aws": ("m5.xlarge", 4, 2), "azure": ("Standard_D4s_v5", 3, 2), "gcp": ("n2-standard-4", 3, 2)}


def hourly_costs(cloud: str, region: str) -> dict[str, Decimal]:
    """The seeded on-demand cost per hour of each resource role of one cloud (to the 10th decimal, as a
    billing export rounds)."""
    return {role: cost.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)
            for role, cost in _hourly_costs(cloud, region).items()}


def _hourly_costs(cloud: str, region: str) -> dict[str, Decimal]:
    vms = {role: list_price(cloud, t, region) for role, t in VM_TYPES[cloud].items()}
    if cloud == "aws":
        return {**vms, "disk": 50 * aws_price_ebs("gp3", region) / HOURS_PER_MONTH, "ip": _AWS_IPV4,
                "snapshot": 8 * _SNAPSHOT_GB_MONTH / HOURS_PER_MONTH}
    if cloud == "azure":
        return {**vms, "disk": AZURE_DISKS["E10 LRS"][1] / HOURS_PER_MONTH, "ip": AZURE_IPV4,
                "snapshot": 32 * _SNAPSHOT_GB_MONTH / HOURS_PER_MONTH}
    return {**vms, "disk": 100 * GCP_DISK_GB_MONTH / HOURS_PER_MONTH, "ip": GCP_IDLE_ADDRESS,
            "snapshot": 20 * Decimal("0.026") / HOURS_PER_MONTH}


def _fleet_id(cloud: str, n: int) -> str:
    if cloud == "aws":
        return f"i-0f1ee7{n:011d}"
    if cloud == "azure":
        return (f"/subscriptions/00000000-0000-4000-8000-00000000f1ee/resourceGroups/rg-fleet/providers/"
                f"Microsoft.Compute/virtualMachines/fleet-{n}")
    return f"//compute.googleapis.com/projects/fleet-project/zones/us-central1-b/instances/{9000 + n}"


def list_price(cloud: str, type_name: str, region: str) -> Decimal:
    """The seeded on-demand hourly price of a VM type of any cloud (Azure and GCP: their one region)."""
    return {"aws": lambda: aws_price(type_name, region), "azure": lambda: AZURE_SIZES[type_name].price,
            "gcp": lambda: gcp_price(type_name)}[cloud]()


def focus_charges(ids: dict[str, dict[str, str]], regions: dict[str, str], now: datetime,
                  days: int = FOCUS_DAYS) -> list[Charge]:
    """Hourly on-demand usage rows of the trailing `days` ending at `now` (floored to the hour) for every
    seeded resource (`ids`: cloud -> role -> the inventory's id, in the region of `regions[cloud]`), and
    for the steady fleet of each cloud in its arbitrage region."""
    start, end = window(now, 3600, days)
    hours = [start + i * HOUR for i in range(int((end - start) / HOUR))]
    charges = []
    for cloud, roles in ids.items():
        costs = hourly_costs(cloud, regions[cloud])
        for role, rid in roles.items():
            service = SERVICES[cloud][_ROLE_KIND[role]]
            charges += [Charge(cloud, rid, t, costs[role], service=service, region=regions[cloud]) for t in hours]
        type_name, base, extra = _FLEET[cloud]
        price, region = list_price(cloud, type_name, ARBITRAGE_REGIONS[cloud]), ARBITRAGE_REGIONS[cloud]
        for n in range(base + extra):
            charges += [Charge(cloud, _fleet_id(cloud, n), t, price, service=SERVICES[cloud]["vm"], region=region)
                        for t in hours if n < base or 8 <= t.hour < 18]
    return charges


def seed_focus(store: ObjectStore, ids: dict[str, dict[str, str]], regions: dict[str, str], now: datetime,
               days: int = FOCUS_DAYS) -> int:
    """`focus_charges` published into the FOCUS dataset in `store` (a partition per provider and month);
    the rows written."""
    charges = focus_charges(ids, regions, now, days)
    write_focus(store, charges, run="rightsizing-seed")
    return len(charges)
