"""Hypothesis profiles of the fuzz tests (tests/test_fuzz*.py).

``ci`` (the default): derandomized (the same examples on every run, so CI is reproducible
and a failure can be rerun), a few dozen examples per op, no example database, no deadline
(shared machines are noisy). ``explore``: random, many examples, for a local hunt:
``NNK_FUZZ_PROFILE=explore python -m pytest tests/test_fuzz_ops.py``.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("NNK_FUZZ_PROFILE", "ci"))
