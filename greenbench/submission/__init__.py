"""The rules a run must pass before it is pooled with other labs' runs.

``check_run(run)`` returns the rules a run fails (``greenbench results check``, ``results
push``, and the leaderboard, which leaves failing runs out); ``evaluate(run)`` returns every
rule's verdict, passed and not applicable ones too. ``run_tier`` says whether a run's energy
was measured or estimated: the two never share one ranking.

The rules are in greenbench.submission.rules, each with its threshold and why; they follow
MLPerf's submission checker (a result is pooled only when every rule passes, and each failure
is named) and the ML.ENERGY leaderboard (measured and estimated energy kept apart; energy and
throughput from the same run). docs/leaderboard.md lists them for users.
"""

from __future__ import annotations

from greenbench.submission.rules import RULES, Failure, Rule, Verdict, check_run, evaluate
from greenbench.submission.tier import case_tier, run_tier

__all__ = ["RULES", "Failure", "Rule", "Verdict", "case_tier", "check_run", "evaluate",
           "run_tier"]
