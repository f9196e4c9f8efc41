"""Hypothesis profiles: the default test run is deterministic, exploration is opt-in.

``python -m pytest`` (CI, and the README's command) draws the same examples on every run, so a
red run always reproduces. ``HYPOTHESIS_PROFILE=explore python -m pytest`` draws fresh random
examples to hunt for new counter-examples; pin any it finds with ``@example``.
"""

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
