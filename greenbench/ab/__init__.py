"""Interleaved A/B gating of two revisions (``greenbench gate``).

- :mod:`.worktrees`: each revision checked out in its own git worktree;
- :mod:`.scheduler`: the turn that two pytest processes pass back and forth, so that their
  rounds interleave (the fixture's side is greenbench.pytest_energy.turns);
- :mod:`.sessions`: the two pytest processes, the runs they save, and several process pairs'
  runs merged into one per side;
- :mod:`.calibrate`: the unchanged code against itself, to see what this runner can detect.

The rounds are paired and judged by greenbench.run_compare (``test="wilcoxon"``) with the
statistics of greenbench.paired; the command is greenbench.commands.gate.
"""
