"""Unit tests of the console: no API server.

What is faked: the watch events, as the API's JSON objects (console_world.py builds
them) fed into the real cache; the pod log reader. The operator's decision, the views,
the FastAPI application and the renderers run for real; time is set, never read.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
