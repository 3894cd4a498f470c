"""``python -m agent_runner``, the same as the ``agent-runner`` console script."""

import sys

from agent_runner.cli import main

sys.exit(main())
