"""A booktabs table of the main results, as a LaTeX fragment to ``\\input`` into a paper.

Needs only ``\\usepackage{booktabs}``. Each numeric column has one unit, with the SI prefix
chosen for that column, given in its header; estimated figures carry a dagger explained under
the table. Every piece of text from the results is escaped, so parameter names such as
``seq_len`` or values such as ``50%`` cannot break the document.
"""

from __future__ import annotations

from collections.abc import Sequence

from greenbench import __version__
from greenbench.plots.data import CaseRef, describe, si_scale, swept
from greenbench.records import RunRecord
from greenbench.report.numbers import sig
from greenbench.results_format import median_interval
from greenbench.units import singular

_ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "µ": r"\ensuremath{\mu}",
}
DAGGER = r"\textsuperscript{\dag}"


def escape(text: str) -> str:
    """``seq_len=50%`` -> ``seq\\_len=50\\%``: text that LaTeX prints as written."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def latex_table(runs: Sequence[RunRecord], *, label: str = "tab:greenbench",
                caption: str | None = None) -> str:
    """The finished cases of ``runs`` with their main figures, as a ``table`` environment."""
    refs = [CaseRef(run, i) for run in runs for i, c in enumerate(run.cases)
            if c.status == "ok" and "energy_per_unit_j" in c.summary]
    keys = list(swept(refs)) if len(refs) > 1 else []
    many_runs = len(runs) > 1
    keys = [k for k in keys if k != "run"]
    energy_f, energy_u = si_scale([_median(r, "energy_per_unit_j") for r in refs], "J")
    time_f, time_u = si_scale([_median(r, "time_s") for r in refs], "s")
    power_f, power_u = si_scale([_median(r, "power_w") for r in refs], "W")
    quality = any(r.case.quality_metric for r in refs)

    header = (["Run"] if many_runs else []) + [
        "Case", "Unit", "$n$", f"Energy/unit ({escape(energy_u)})",
        f"95\\% CI ({escape(energy_u)})", f"Net energy/unit ({escape(energy_u)})",
        f"Time/step ({escape(time_u)})", f"Power ({escape(power_u)})",
    ] + (["Quality"] if quality else [])
    spec = ("l" if many_runs else "") + "llr" + "rrrrr" + ("l" if quality else "")
    lines = [
        f"% greenbench {__version__}: results of run(s) {escape(', '.join(r.id for r in runs))}",
        r"% Needs \usepackage{booktabs} in the preamble.",
        r"\begin{table}[tbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{caption if caption is not None else _caption()}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    previous_run = None
    for ref in refs:
        if many_runs and previous_run is not None and ref.run is not previous_run:
            lines.append(r"\midrule")
        previous_run = ref.run
        lines.append(" & ".join(_row(ref, keys, many_runs, quality, energy_f, time_f, power_f))
                     + r" \\")
    if not refs:
        lines.append(rf"\multicolumn{{{len(header)}}}{{l}}{{no finished case}} \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if any(r.estimate for r in refs):
        lines.append(r"\par\smallskip{\footnotesize" + DAGGER
                     + r" Estimated with a power model for some domains, not measured.\par}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def _row(ref: CaseRef, keys: list[str], many_runs: bool, quality: bool, energy_f: float,
         time_f: float, power_f: float) -> list[str]:
    s = ref.case.summary
    epu = s["energy_per_unit_j"]
    mark = DAGGER if ref.estimate else ""
    low, high = median_interval("energy_per_unit_j", epu)
    ci = "--" if low is None or high is None else \
        f"[{sig(low * energy_f)}, {sig(high * energy_f)}]"
    cells = ([escape(ref.run.label or ref.run.id)] if many_runs else []) + [
        escape(describe(ref, keys)), escape(singular(ref.case.unit)), str(epu.n),
        _num(epu.median, energy_f) + mark, ci,
        _num(_median(ref, "net_energy_per_unit_j"), energy_f) + mark,
        _num(_median(ref, "time_s"), time_f),
        _num(_median(ref, "power_w"), power_f) + mark,
    ]
    if quality:
        q = s.get(f"quality:{ref.case.quality_metric}") if ref.case.quality_metric else None
        cells.append("--" if not q else
                     escape(f"{ref.case.quality_metric} {sig(q.median)}"))
    return cells


def _caption() -> str:
    return (r"Energy per unit of work: median over repeats with the 95\% confidence interval "
            r"of the median; net energy excludes the idle baseline. Measured with greenbench "
            + escape(__version__) + ".")


def _median(ref: CaseRef, metric: str) -> float | None:
    s = ref.case.summary.get(metric)
    return None if s is None else s.median


def _num(value: float | None, factor: float) -> str:
    return "--" if value is None else sig(value * factor)
