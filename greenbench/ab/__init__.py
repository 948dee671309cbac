"""Interleaved A/B gating of two revisions (``greenbench gate``).

- :mod:`.worktrees`: each revision checked out in its own git worktree;
- :mod:`.scheduler`: the turn that two pytest processes pass back and forth, so that their
  rounds interleave (the fixture's side is greenbench.pytest_energy.turns);
- :mod:`.sessions`: the two pytest processes, and the runs they save;
- :mod:`.pairing`: rounds paired across the two runs, and the verdicts on them;
- :mod:`.calibrate`: the unchanged code against itself, to see what this runner can detect.
"""
