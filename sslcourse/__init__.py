"""sslcourse: the given helper library of the self-supervised learning course.

Data (``sslcourse.data``), encoders (``sslcourse.models``), a training loop with a wall-clock budget
(``sslcourse.train``), frozen-feature evaluation (``sslcourse.evaluation``), plots and widgets. Nothing
graded lives here: the graded functions are written by you in the notebooks.
"""
from .utils import (bf16_supported, budget, get_device, is_quick, quick_or, report_results, run_seed,
                    seed_everything, set_threads)

__all__ = ["bf16_supported", "budget", "get_device", "is_quick", "quick_or", "report_results", "run_seed",
           "seed_everything", "set_threads"]
__version__ = "0.1.0"
