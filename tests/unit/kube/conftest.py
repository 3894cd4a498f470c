"""Unit tests of the shared client layer (agent_kube).

What is faked: the Lease API, at the `election.LeaseApi` boundary (an in-memory Lease
with resourceVersions and 409 conflicts, as the API server keeps it), and both clocks,
set by the tests and never slept. Not faked: the election's decisions and the elector's
reads and writes. The real `KubernetesLeaseApi` runs against the API server in
tests/integration/test_sync_lease.py.
"""
