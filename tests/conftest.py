"""Shared test settings.

Unit tests (tests/unit) need nothing outside the process. Integration and
end-to-end tests (tests/integration, tests/e2e) use the real local control plane
that `make cluster-up` starts; see tests/integration/conftest.py.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
