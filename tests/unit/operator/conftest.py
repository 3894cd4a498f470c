"""Unit tests of the operator: pure decisions, no API server.

What is faked: only the cluster's storage and the Job controller's verdicts, in
operator_world.World (the scheduler's input boundary). The cache, routing, graph,
scheduling and Job building run for real; time is set by the tests, never slept.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
