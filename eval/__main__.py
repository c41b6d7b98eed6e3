"""`python -m eval`: score the answer pipeline (see eval/score.py)."""

import sys

from eval.score import main

sys.exit(main())
