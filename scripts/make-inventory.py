#!/usr/bin/env python3
"""Writes a synthetic device inventory (no real data) for fleetsim's `[fleet] inventory`.

Usage: make-inventory.py [ROWS] [OUT]   (defaults: 300 rows, examples/inventory/devices.csv)
Deterministic: the same ROWS give the same file. Some cells are left empty on purpose
(fleetsim draws those from the scenario's mixes). The device ids, names and primary users'
UPNs are made up (example.invalid); about a fifth of the hybrid or Azure AD joined devices
with a client are co-managed already (`start = co_managed`).
The named scenario's inventory: make-inventory.py 5000 scenarios/inventory-example.csv
"""
import csv
import random
import sys

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300
out = sys.argv[2] if len(sys.argv) > 2 else "examples/inventory/devices.csv"
rng = random.Random(20270104)
OS = ["win10_22h2", "win11_23h2", "win11_24h2", "win10_21h2", "windows_7"]
JOIN = ["on_premises_ad", "hybrid_joined", "azure_ad_joined", "workgroup"]
LOC = ["corporate_network", "vpn", "internet_only"]
USAGE = ["office_hours", "always_on", "laptop_intermittent"]
# The conditional weights (a blank cell of the attribute depended on: the fleet-wide ones).
LOC_BY_USAGE = {
    "office_hours": [75, 23, 2],
    "always_on": [95, 5, 0],
    "laptop_intermittent": [10, 40, 50],
}
OS_BY_SITE = {"P01": [55, 33, 10, 2, 0], "P02": [35, 20, 10, 15, 20]}
JOIN_BY_LOC = {
    "corporate_network": [66, 30, 2, 2],
    "vpn": [66, 30, 2, 2],
    "internet_only": [15, 20, 50, 15],
}


def pick(values, weights, blank=0.05):
    return "" if rng.random() < blank else rng.choices(values, weights)[0]


with open(out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["device_id", "device_name", "os", "join", "configmgr_client", "site",
                "location", "usage", "third_party_mdm", "licensed", "primary_user_upn",
                "start"])
    for i in range(rows):
        site = pick(["P01", "P02"], [70, 30])
        usage = pick(USAGE, [55, 15, 30])
        location = pick(LOC, LOC_BY_USAGE.get(usage, [60, 35, 5]))
        os_ = pick(OS, OS_BY_SITE.get(site, [50, 30, 12, 6, 2]))
        join = pick(JOIN, JOIN_BY_LOC.get(location, [60, 30, 6, 4]))
        row = [
            f"SYNTH-{rng.getrandbits(40):010x}",
            f"pc-{i:05d}.example.invalid",
            os_,
            join,
            pick(["true", "false"], [92, 8]),
            site,
            location,
            usage,
            pick(["true", "false"], [1, 99]),
            pick(["true", "false"], [99, 1]),
            f"user{i:05d}@contoso.example.invalid",
        ]
        joined = row[3] in ("hybrid_joined", "azure_ad_joined") and row[4] == "true"
        row.append("co_managed" if joined and rng.random() < 0.2 else "")
        w.writerow(row)
