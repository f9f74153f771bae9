"""A Ray cluster of several nodes on this machine's loopback address, for tests (run as a process).

    python local_cluster.py

Starts a head node (no CPUs: trials run on the workers) and one worker node with one CPU, every one
on 127.0.0.1: Ray 2.60 otherwise advertises and binds the machine's interface address, which
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (set before Ray is imported) and `node_ip_address` prevent.
Uses `ray.cluster_utils.Cluster`, Ray's documented helper for multi-node tests. Prints the head's
address, then reads commands on stdin:

- `add`: start a second worker node (one CPU), print `added`;
- `kill-first`: kill every process of the first worker node, the only one that could have run the
  trials so far, print `killed`;
- `quit`: shut the cluster down.

Node failures are detected within seconds (short health checks), so a lost node fails its trial quickly.
"""
from __future__ import annotations

import os
import sys

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from ray.cluster_utils import Cluster  # noqa: E402

FAST_HEALTH_CHECKS = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                      "health_check_failure_threshold": 4}


def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=0, node_ip_address="127.0.0.1", include_dashboard=False, _system_config=FAST_HEALTH_CHECKS))
    first = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    print(f"address {cluster.address}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "add":
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
            print("added", flush=True)
        elif command == "kill-first":
            cluster.remove_node(first, allow_graceful=False)
            print("killed", flush=True)
        elif command == "quit":
            break
    cluster.shutdown()


if __name__ == "__main__":
    main()
