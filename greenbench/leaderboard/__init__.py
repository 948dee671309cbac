"""``greenbench leaderboard build``: a static, self-contained page of pooled results.

- :mod:`~greenbench.leaderboard.sources` reads the runs of stores and export files;
- :mod:`~greenbench.leaderboard.entries` turns each measured case of a run that passes the
  submission rules into a row: energy per unit with its interval and method, throughput,
  hardware class, tier;
- :mod:`~greenbench.leaderboard.page` renders the rows as HTML tables, one per workload and
  unit, measured and estimated tiers apart, grouped by hardware class;
- :mod:`~greenbench.leaderboard.site` writes the page, its CSS and script (package data in
  ``templates/``), the rows as ``data.json`` and a report per run under ``runs/<id>/``.

Nothing on the page is fetched at view time: it opens from ``file://`` or any static host.
"""
