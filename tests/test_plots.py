"""Figures, checked structurally: size, axes, labels with units, legend entries, scales, notes.

Pixels are never compared: a figure is right when it shows the right things, labelled.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.plots import KINDS, PlotRequest, render
from greenbench.plots.bars import plot_bars
from greenbench.plots.breakdown import plot_breakdown
from greenbench.plots.data import Names, select_cases, si_scale, swept_by_workload
from greenbench.plots.pareto import pareto_front, plot_pareto
from greenbench.plots.scaling import (
    PowerFit,
    exponent_interval,
    fit_caveat,
    fit_power_law,
    legend_label,
    plot_scaling,
    scaling_series,
)
from greenbench.plots.style import (
    COLUMN_WIDTH_IN,
    ESTIMATE_HATCH,
    PALETTE,
    figure_bytes,
    legend_columns,
    save_figure,
    text_width_in,
    wrap,
)
from greenbench.plots.trace import plot_trace
from tests.factories import make_run
from tests.plot_factories import mixed_run, quick_run, single_case_run, sweep_run

# --------------------------------------------------------------------------- helpers


def texts(fig) -> list[str]:
    """Every piece of text in the figure: labels, ticks, legends, notes, annotations."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def legend_labels(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def has_unit(label: str) -> bool:
    """An axis label ends with its unit in parentheses: ``Energy per token (µJ)``."""
    first_line = label.splitlines()[0]
    return first_line.endswith(")") and "(" in first_line and "()" not in first_line


def bars_of(ax) -> list:
    from matplotlib.patches import Rectangle

    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() != 0]


# --------------------------------------------------------------------------- every kind


RUNS = {
    "gpu, many cases": lambda: sweep_run(),
    "cpu only, many cases": lambda: sweep_run(gpu=False, carbon=False, quality=False),
    "gpu, one case": lambda: single_case_run(gpu=True, carbon=True),
    "cpu only, one case": lambda: single_case_run(),
}


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "scaling"])
@pytest.mark.parametrize("shape", RUNS)
def test_every_kind_renders_for_runs_with_and_without_gpus_and_one_or_many_cases(
        kind: str, shape: str) -> None:
    (name, fig), = render([RUNS[shape]()], PlotRequest(kind))
    assert name.startswith(kind)
    assert fig.get_figwidth() == COLUMN_WIDTH_IN
    labelled = [ax for ax in fig.axes if ax.get_xlabel()]
    assert labelled, "every figure labels its axes"
    for ax in labelled:
        assert has_unit(ax.get_xlabel()), ax.get_xlabel()


@pytest.mark.parametrize("gpu", [True, False])
def test_scaling_renders_with_and_without_gpus(gpu: bool) -> None:
    (_, fig), = render([sweep_run(gpu=gpu)], PlotRequest("scaling"))
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert has_unit(ax.get_xlabel()) and has_unit(ax.get_ylabel())


def test_every_figure_returns_a_figure_that_saves_as_pdf_svg_and_png(tmp_path: Path) -> None:
    fig = plot_bars([sweep_run()])
    for fmt in ("pdf", "svg", "png"):
        path = save_figure(fig, tmp_path / f"f.{fmt}")
        assert path.stat().st_size > 1000
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- style


def test_vector_output_keeps_text_as_embedded_truetype_and_is_reproducible(
        tmp_path: Path) -> None:
    fig = plot_bars([sweep_run()])
    pdf = figure_bytes(fig, "pdf")
    assert b"/FontFile2" in pdf  # TrueType embedded (pdf.fonttype 42) ...
    assert b"/Type3" not in pdf  # ... not Type 3 bitmaps-as-glyphs
    svg = figure_bytes(fig, "svg").decode()
    assert "<text" in svg and "Energy per token" in svg  # svg.fonttype none: real text
    # No creation date, fixed SVG ids: the same results give the same bytes.
    assert figure_bytes(fig, "svg") == figure_bytes(fig, "svg")
    assert figure_bytes(fig, "pdf") == figure_bytes(fig, "pdf")


def test_png_comes_out_exactly_one_column_wide() -> None:
    from io import BytesIO

    from matplotlib.image import imread

    image = imread(BytesIO(figure_bytes(plot_scaling([sweep_run()]), "png", dpi=100)))
    assert image.shape[1] == int(COLUMN_WIDTH_IN * 100)  # no "tight" box widening it


def test_series_colours_come_from_the_okabe_ito_palette() -> None:
    from matplotlib.colors import to_hex

    fig = plot_bars([sweep_run()])
    colours = {to_hex(p.get_facecolor()).upper() for p in bars_of(fig.axes[0])}
    assert colours == {PALETTE[0].upper(), PALETTE[1].upper()}


def test_text_is_readable_at_one_column() -> None:
    from matplotlib.text import Text

    fig = plot_bars([sweep_run()])
    sizes = {round(float(t.get_fontsize())) for t in fig.findobj(Text) if t.get_text()}
    assert min(sizes) >= 6 and max(sizes) <= 9


# --------------------------------------------------------------------------- trace


def test_trace_draws_each_domain_and_shades_warmup_idle_and_repeats() -> None:
    fig = plot_trace(sweep_run(), 0)
    ax = fig.axes[0]
    labels = legend_labels(fig)
    assert {"gpu:0", "cpu-package:0", "dram:0", "total of top-level domains"} <= set(labels)
    assert {"warm-up", "idle baseline", "measured repeats"} <= set(labels)
    assert ax.get_ylabel() == "Power (W)" and has_unit(ax.get_xlabel())
    assert len(ax.lines) == 4
    assert ax.get_ylim()[0] == 0


def test_trace_marks_estimated_domains_dashed_and_labelled() -> None:
    fig = plot_trace(sweep_run(gpu=False, cpu_estimate=True), 0)
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    estimated = lines["cpu-package:0 (estimate)"]
    assert estimated.get_linestyle() == "--"
    assert lines["dram:0"].get_linestyle() == "-"


def test_trace_of_a_case_without_a_trace_is_a_user_error() -> None:
    run = sweep_run()
    run.cases[0].trace = None
    with pytest.raises(UserError, match="no power trace"):
        plot_trace(run, 0)


def test_trace_picks_the_case_by_filter_and_all_draws_one_per_case() -> None:
    run = sweep_run()
    (name, fig), = render([run], PlotRequest("trace", case="mechanism=linear,seq_len=2048"))
    assert name.endswith("case8")
    assert "seq_len=2048" in fig.axes[0].get_title(loc="left")
    assert len(render([run], PlotRequest("trace", all_cases=True))) == len(run.cases)


# --------------------------------------------------------------------------- bars


def test_bars_group_cases_by_setting_and_colour_them_by_variant() -> None:
    run = sweep_run()
    fig = plot_bars([run])
    ax = fig.axes[0]
    assert len(bars_of(ax)) == len(run.cases)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["256", "512", "1024", "2048",
                                                             "4096"]
    assert ax.get_ylabel() == "seq_len (tokens)"
    assert ax.get_xlabel() == "Energy per token (µJ)"
    assert {"mechanism=softmax", "mechanism=linear"} <= set(legend_labels(fig))
    # Whiskers: one 95% interval per bar.
    assert len(ax.collections) == len(run.cases)


def test_bars_hatch_estimates_and_say_so_in_the_legend() -> None:
    fig = plot_bars([sweep_run(cpu_estimate=True)])
    assert all(p.get_hatch() == ESTIMATE_HATCH for p in bars_of(fig.axes[0]))
    assert "estimate (power model)" in legend_labels(fig)
    measured = plot_bars([sweep_run()])
    assert not any(p.get_hatch() for p in bars_of(measured.axes[0]))


def test_bars_of_one_case_have_no_legend_and_say_when_there_is_no_interval() -> None:
    run = make_run(1, values={"energy_per_unit_j": [0.02]})
    fig = plot_bars([run])
    assert len(bars_of(fig.axes[0])) == 1
    assert not fig.legends
    assert any("single repeat: no interval" in t for t in texts(fig))


def test_bars_grouped_by_a_parameter_and_metric_aliases() -> None:
    fig = plot_bars([sweep_run()], "time", by="mechanism")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["softmax", "linear"]
    assert ax.get_xlabel().startswith("Time per step (")
    with pytest.raises(UserError, match="swept: mechanism, seq_len"):
        plot_bars([sweep_run()], by="batch")


def test_two_runs_become_coloured_series() -> None:
    a, b = sweep_run(label="before"), sweep_run(label="after")
    fig = plot_bars([a, b], selector="seq_len=1024")
    assert {"before", "after"} <= set(legend_labels(fig))
    assert len(bars_of(fig.axes[0])) == 4


def test_an_unknown_metric_names_the_ones_that_exist() -> None:
    with pytest.raises(UserError, match="energy_per_unit.*quality:rel_error"):
        plot_bars([sweep_run()], "joules")


# --------------------------------------------------------------------------- scaling


def test_power_law_fit_recovers_a_known_exponent() -> None:
    fit = fit_power_law([1, 2, 4, 8], [3 * x**1.5 for x in (1, 2, 4, 8)])
    assert fit is not None
    assert fit.exponent == pytest.approx(1.5)
    assert fit.prefactor == pytest.approx(3.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit_power_law([4, 4], [1, 2]) is None  # one distinct x: nothing to fit
    assert fit_power_law([1, 2], [0, 1]) is None  # a zero cannot go on log axes


def test_scaling_fits_each_variant_and_the_tail_finds_the_asymptotic_exponent() -> None:
    x, key, series, _ = scaling_series([sweep_run()])
    assert (x, key) == ("seq_len", "energy_j")
    by_label = {s.label: s for s in series}
    softmax, linear = by_label["mechanism=softmax"], by_label["mechanism=linear"]
    assert softmax.tail_fit is not None and linear.tail_fit is not None
    assert softmax.tail_fit.exponent == pytest.approx(2.0, abs=0.15)
    assert linear.tail_fit.exponent == pytest.approx(1.0, abs=0.1)
    # The fixed overhead flattens the small end: the full fit is lower than the tail's.
    assert softmax.fit is not None and softmax.fit.exponent < softmax.tail_fit.exponent


def test_scaling_is_log_log_with_the_exponents_in_the_legend() -> None:
    fig = plot_scaling([sweep_run()])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seq_len (tokens)"
    assert ax.get_ylabel() == "Energy per step (J)"
    labels = legend_labels(fig)
    assert any(label.startswith("mechanism=softmax: b = ") and "(top 3: " in label
               for label in labels)
    assert len(labels) == 2


def test_scaling_without_a_swept_parameter_names_what_was_swept() -> None:
    with pytest.raises(UserError, match="swept parameters: none"):
        plot_scaling([single_case_run()])
    run = sweep_run(seq_lens=(512,))
    with pytest.raises(UserError, match=r"swept parameters: mechanism \(not numeric\)"):
        plot_scaling([run])
    with pytest.raises(UserError, match="--x mechanism: its values are not numbers"):
        plot_scaling([sweep_run()], "mechanism")
    with pytest.raises(UserError, match="--x batch: not swept"):
        plot_scaling([sweep_run()], "batch")


def test_scaling_asks_for_x_when_several_numeric_parameters_were_swept() -> None:
    run = sweep_run()
    for case in run.cases[::2]:
        case.params["batch"] = 8
    with pytest.raises(UserError, match=r"several numeric parameters.*--x"):
        plot_scaling([run])
    assert plot_scaling([run], "seq_len").axes[0].get_xscale() == "log"


# --------------------------------------------------------------------------- pareto


def test_pareto_front_keeps_only_points_nothing_beats() -> None:
    points = [(1.0, 0.5), (2.0, 0.9), (3.0, 0.8), (2.0, 0.4), (4.0, 0.95)]
    assert pareto_front(points, higher_is_better=True) == [0, 1, 4]
    assert pareto_front(points, higher_is_better=False) == [0, 3]
    assert pareto_front([(1.0, 1.0), (1.0, 1.0)], True) == [0]


def test_pareto_plots_energy_against_the_quality_figure_with_its_direction() -> None:
    fig = plot_pareto([sweep_run()])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Energy per token (µJ)"
    assert ax.get_ylabel() == "rel_error (dimensionless)\nlower is better"
    assert "Pareto front" in legend_labels(fig)


def test_pareto_without_quality_figures_says_so_instead_of_failing() -> None:
    run = sweep_run(quality=False)
    fig = plot_pareto([run], against="quality")
    assert any("No case recorded a quality figure" in t for t in texts(fig))
    auto = plot_pareto([run])
    assert auto.axes[0].get_ylabel().startswith("Throughput (")
    assert any("no case recorded a quality figure: energy against throughput" in t
               for t in texts(auto))


def test_pareto_names_cases_missing_the_quality_figure() -> None:
    run = sweep_run()
    for case in run.cases[:2]:
        del case.summary["quality:rel_error"]
        for r in case.repeats:
            del r.metrics["quality:rel_error"]
    fig = plot_pareto([run])
    assert any("no rel_error for case(s) 0, 1: not shown" in t for t in texts(fig))


# --------------------------------------------------------------------------- breakdown


def test_breakdown_stacks_domains_idle_and_net_and_emissions() -> None:
    run = sweep_run(cpu_estimate=True)
    fig = plot_breakdown([run])
    assert len(fig.axes) == 3
    labels = legend_labels(fig)
    assert {"CPU (estimate)", "DRAM", "GPU", "idle baseline (estimate)",
            "net (above idle) (estimate)"} <= set(labels)
    assert any(label.startswith("operational") for label in labels)
    assert "embodied (estimate)" in labels
    assert "CO$_2$e" in fig.axes[2].get_xlabel()
    # Each case's domain parts add up to its gross energy per unit.
    ax = fig.axes[0]
    total = sum(p.get_width() for p in bars_of(ax) if p.get_y() < 0.5 and p.get_y() > -0.5)
    case = run.cases[0]
    expected_uj = case.summary["energy_j"].median / case.units_per_step * 1e6
    assert total == pytest.approx(expected_uj, rel=1e-6)


def test_breakdown_leaves_domains_beside_the_total_out_of_the_stack() -> None:
    run = sweep_run(cpu_estimate=True)
    case = run.cases[0]
    for r in case.repeats:
        for d in r.measurement.domains:
            if d.domain.startswith("dram"):
                d.not_counted = "constant model: shown beside the total"
    beside = [k for k in case.summary if k.startswith("domain:dram")]
    counted = sum(v.median for k, v in case.summary.items()
                  if k.startswith("domain:") and k not in beside)
    fig = plot_breakdown([run], selector="0")
    ax = fig.axes[0]
    total = sum(p.get_width() for p in bars_of(ax) if -0.5 < p.get_y() < 0.5)
    assert total == pytest.approx(counted / case.units_per_step * 1e6, rel=1e-6)
    assert "DRAM" not in legend_labels(fig)
    assert any("not in the totals" in t and "dram" in t for t in texts(fig))


def test_breakdown_without_carbon_data_has_two_panels_and_a_note() -> None:
    fig = plot_breakdown([sweep_run(gpu=False, carbon=False)])
    assert len(fig.axes) == 2
    assert "GPU" not in legend_labels(fig)
    assert any("no carbon data recorded" in t for t in texts(fig))


def test_breakdown_of_cases_without_domain_figures_draws_them_unsplit() -> None:
    fig = plot_breakdown([make_run(2)])
    assert "all domains (not split)" in legend_labels(fig)


# --------------------------------------------------------------------------- data


def test_si_scale_picks_a_readable_prefix() -> None:
    assert si_scale([2e-5, 1e-5], "J") == (pytest.approx(1e6), "µJ")
    assert si_scale([0.5], "s") == (pytest.approx(1e3), "ms")
    assert si_scale([5000.0], "s") == (1.0, "s")  # no kiloseconds
    assert si_scale([], "W") == (1.0, "W")
    factor, unit = si_scale([4e7], "tokens/s")
    assert factor == pytest.approx(1e-6) and unit == "$10^{6}$ tokens/s"


def test_case_selection_by_index_filter_and_workload() -> None:
    run = sweep_run()
    assert [r.index for r in select_cases([run], "3")] == [3]
    assert len(select_cases([run], "mechanism=softmax")) == 5
    assert len(select_cases([run], "attention")) == 10
    with pytest.raises(UserError, match="no case has a parameter 'heads'"):
        select_cases([run], "heads=4")
    with pytest.raises(UserError, match="matches no case"):
        select_cases([run], "seq_len=3")
    with pytest.raises(UserError, match="has only 10 case"):
        select_cases([run], "10")


def test_failed_cases_are_not_drawn_and_a_run_of_failures_is_a_user_error() -> None:
    run = sweep_run()
    run.cases[0].status = "failed"
    assert 0 not in [r.index for r in select_cases([run])]
    for case in run.cases:
        case.status, case.error = "failed", "worker killed by SIGKILL"
    with pytest.raises(UserError, match="no finished case.*SIGKILL"):
        select_cases([run])


def test_plot_request_rejects_options_the_kind_does_not_use() -> None:
    with pytest.raises(UserError, match="--all does not apply to --kind bars"):
        PlotRequest("bars", all_cases=True).check()
    with pytest.raises(UserError, match="--against does not apply"):
        PlotRequest("scaling", against="quality").check()


def test_importing_the_plot_and_report_code_loads_no_matplotlib() -> None:
    code = ("import sys, greenbench.plots, greenbench.report, greenbench.commands.plot, "
            "greenbench.commands.report\n"
            "print([m for m in ('matplotlib', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- real, mixed runs
#
# A real run often mixes workloads (the quick suite: attention, sparse-matmul, transformer,
# one case each, each with its own long parameter list). These check the laid-out figure:
# what is drawn where, measured with the renderer, never pixels.


def drawn_tick_labels(ax) -> list:
    """The tick labels matplotlib draws: those of ticks inside the view, with text."""
    labels = []
    for axis in (ax.xaxis, ax.yaxis):
        lo, hi = sorted(axis.get_view_interval())
        slack = (hi - lo) * 1e-9
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            label = tick.label1
            if (label.get_visible() and label.get_text()
                    and lo - slack <= tick.get_loc() <= hi + slack):
                labels.append(label)
    return labels


def layout_problems(fig) -> list[str]:
    """Everything wrong with where things landed: text outside the figure, legends over the
    data or over tick labels, labels on top of each other, axes without a unit."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []

    def box(artist):
        return artist.get_window_extent(renderer).shrunk(0.98, 0.98)

    inside = fig.bbox.padded(1.0)  # a pixel of rounding
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    texts = [t for t in fig.texts if t.get_text()]  # the note under the plot
    for ax in fig.axes:
        ticks = drawn_tick_labels(ax)
        labels = [t for t in (ax.xaxis.label, ax.yaxis.label, ax.title,
                              ax._left_title) if t.get_text()]
        for t in [*ticks, *labels, *(a for a in ax.texts if a.get_text())]:
            b = t.get_window_extent(renderer)
            if not (inside.contains(b.x0, b.y0) and inside.contains(b.x1, b.y1)):
                problems.append(f"outside the figure: {t.get_text()!r}")
            if "None" in t.get_text():
                problems.append(f"names a parameter the case lacks: {t.get_text()!r}")
        for legend in legends:
            for t in ticks + labels:
                if box(legend).overlaps(box(t)):
                    problems.append(f"legend over {t.get_text()!r}")
            if box(legend).overlaps(ax.get_window_extent(renderer).shrunk(0.98, 0.98)):
                problems.append("legend over the data area")
        for note in texts:
            for t in ticks + labels:
                if box(note).overlaps(box(t)):
                    problems.append(f"note over {t.get_text()!r}")
        for other in fig.axes:  # a panel's labels hidden under the next panel
            if other is not ax:
                for t in ticks + labels:
                    if box(t).overlaps(other.get_window_extent(renderer)):
                        problems.append(f"{t.get_text()!r} under another panel")
        y_ticks = [t for t in ticks if t in ax.get_yticklabels()]
        for i, a in enumerate(y_ticks):
            for b in y_ticks[i + 1:]:
                if box(a).overlaps(box(b)):
                    problems.append(f"tick labels {a.get_text()!r} and {b.get_text()!r} touch")
        if ax.has_data() and not has_unit(ax.get_xlabel()):
            problems.append(f"x label without a unit: {ax.get_xlabel()!r}")
    for i, a in enumerate(legends):
        b = box(a)
        if not (inside.contains(b.x0, b.y0) and inside.contains(b.x1, b.y1)):
            problems.append("legend outside the figure")
        for other in legends[i + 1:]:
            if b.overlaps(box(other)):
                problems.append("legends overlap")
        if any("None" in t.get_text() for t in a.get_texts()):
            problems.append("legend names a parameter the case lacks")
    for note in texts:
        b = note.get_window_extent(renderer)
        if not (inside.contains(b.x0, b.y0) and inside.contains(b.x1, b.y1)):
            problems.append("note outside the figure")
    return problems


MIXED = {"quick run": quick_run, "mixed run": mixed_run}


@pytest.mark.parametrize("kind", ["trace", "bars", "breakdown", "pareto"])
@pytest.mark.parametrize("shape", MIXED)
@pytest.mark.parametrize("width", [COLUMN_WIDTH_IN, 7.0])
def test_figures_of_mixed_workloads_fit_without_overlap_or_clipping(
        kind: str, shape: str, width: float) -> None:
    (_, fig), = render([MIXED[shape]()], PlotRequest(kind, width_in=width))[:1]
    assert layout_problems(fig) == []
    assert fig.get_figwidth() == width  # grown in height only


def test_scaling_of_a_mixed_run_fits_and_draws_only_workloads_that_sweep_x() -> None:
    fig = plot_scaling([mixed_run()], "seq_len")
    assert layout_problems(fig) == []
    labels = legend_labels(fig)
    assert any(label.startswith("attention, mechanism=softmax: b = ") for label in labels)
    assert not any(label.startswith(("transformer", "sparse-matmul")) for label in labels)
    assert any("not shown: sparse-matmul (no seq_len), transformer (seq_len not swept)" in t
               for t in texts(fig))
    with pytest.raises(UserError, match=r"one value per workload: attention 512, "
                                        r"transformer 64\); swept parameters: none"):
        plot_scaling([quick_run()], "seq_len")


def test_figures_of_one_workload_stay_laid_out_too() -> None:
    for kind in ("trace", "bars", "breakdown", "pareto", "scaling"):
        (_, fig), = render([sweep_run(cpu_estimate=True)], PlotRequest(kind))[:1]
        assert layout_problems(fig) == [], kind


def test_png_of_a_mixed_run_comes_out_exactly_as_wide_as_asked() -> None:
    from io import BytesIO

    from matplotlib.image import imread

    for kind in ("bars", "breakdown"):
        (_, fig), = render([quick_run()], PlotRequest(kind))
        image = imread(BytesIO(figure_bytes(fig, "png", dpi=100)))
        assert image.shape[1] == int(COLUMN_WIDTH_IN * 100)


def test_trace_title_is_the_workload_and_only_its_varying_parameters() -> None:
    fig = plot_trace(quick_run(), 0)
    assert fig.axes[0].get_title(loc="left") == "0: attention"  # one case: nothing varies
    run = mixed_run()
    title = plot_trace(run, 1).axes[0].get_title(loc="left")
    assert title.replace("\n", " ") == "1: attention[mechanism=softmax, seq_len=512]"
    assert "d_model" not in title and "execution" not in title


def test_a_long_trace_title_is_wrapped_within_the_figure_and_shortened() -> None:
    run = mixed_run({"transformer": [{"size": "tiny", "vocab": 2048, "seq_len": 64,
                                      "batch": 4, "attention": "sdpa", "k": 64, "m": 64},
                                     {"size": "small", "vocab": 32000, "seq_len": 128,
                                      "batch": 8, "attention": "linformer", "k": 128,
                                      "m": 256}]})
    fig = plot_trace(run, 1)
    title = fig.axes[0].get_title(loc="left")
    assert 1 < len(title.splitlines()) <= 2
    assert title.endswith("…")
    assert layout_problems(fig) == []


def test_bars_of_mixed_workloads_have_a_row_per_workload_and_no_foreign_parameters() -> None:
    fig = plot_bars([quick_run()])
    tokens, rows = fig.axes
    assert [t.get_text() for t in tokens.get_yticklabels()] == ["attention", "transformer"]
    assert [t.get_text() for t in rows.get_yticklabels()] == ["sparse-matmul"]
    assert tokens.get_ylabel() == rows.get_ylabel() == "workload"
    assert legend_labels(fig) == ["estimate (power model)"]  # no variant varies in any workload
    assert any("units differ by workload: per token (attention, transformer); per row "
               "(sparse-matmul); one panel per unit" in t.replace("\n", " ")
               for t in texts(fig))


def test_bars_of_workloads_with_different_units_get_a_panel_and_an_axis_each() -> None:
    fig = plot_bars([quick_run()])
    assert [ax.get_xlabel() for ax in fig.axes] == ["Energy per token (µJ)",
                                                    "Energy per row (µJ)"]
    # each panel's axis reaches its own largest bar: none is a sliver of another's scale
    for ax in fig.axes:
        widest = max(p.get_width() for p in bars_of(ax))
        assert widest > 0.5 * ax.get_xlim()[1]
    # a figure per step shares one unit: one panel
    assert len(plot_bars([quick_run()], "energy").axes) == 1


def test_bars_group_variants_only_among_cases_of_the_same_workload() -> None:
    run = mixed_run()
    fig = plot_bars([run])
    tokens, rows = fig.axes
    labels = [t.get_text().replace("\n", " ") for t in tokens.get_yticklabels()]
    assert labels == ["attention, seq_len=256", "attention, seq_len=512",
                      "attention, seq_len=1024", "transformer"]
    assert [t.get_text() for t in rows.get_yticklabels()] == ["sparse-matmul"]
    series = [label.replace("\n", " ") for label in legend_labels(fig)]
    assert series == ["attention, mechanism=softmax", "attention, mechanism=linear",
                      "transformer", "sparse-matmul, execution=dense",
                      "sparse-matmul, execution=sparse", "estimate (power model)"]
    assert len(bars_of(tokens)) + len(bars_of(rows)) == len(run.cases)
    # Each attention row holds its two mechanisms; the transformer row one bar, full height.
    heights = sorted({round(p.get_height(), 3) for p in bars_of(tokens)})
    assert heights == [0.4, 0.8]


def many_series_run():
    """Ten variants over three workloads: more series than the palette has colours."""
    return mixed_run({
        "attention": [{"mechanism": m, "precision": p, "seq_len": n} for m in ("softmax",
                      "linear") for p in ("fp32", "bf16") for n in (256, 1024)],
        "sparse-matmul": [{"execution": e, "precision": p} for e in ("dense", "sparse")
                          for p in ("fp32", "bf16")],
        "transformer": [{"attention": a} for a in ("sdpa", "eager")]})


@pytest.mark.parametrize("make", [
    lambda: [sweep_run()], lambda: [quick_run()], lambda: [mixed_run()],
    lambda: [many_series_run()],
    # two mechanisms in each of four runs: 8 series, as many as colours
    lambda: [sweep_run(seq_lens=(256, 512), label=f"run {i}") for i in range(4)],
    lambda: [sweep_run(seq_lens=(256, 512), label=f"run {i}") for i in range(5)]])
def test_bars_never_give_two_series_the_same_colour_and_hatch(make) -> None:
    fig = plot_bars(make())
    legend = fig.legends[0] if fig.legends else None
    swatches = [(tuple(h.get_facecolor()), h.get_hatch())
                for h in (legend.legend_handles if legend else [])]
    assert len(set(swatches)) == len(swatches)
    # every bar's colour is one series' (or, with a single series, the one colour)
    series_colours = {c for c, hatch in swatches if hatch is None}
    bar_colours = {tuple(p.get_facecolor()) for ax in fig.axes for p in bars_of(ax)}
    assert bar_colours <= series_colours or len(bar_colours) == 1
    assert layout_problems(fig) == []


def test_bars_with_more_series_than_colours_name_each_case_in_its_own_row() -> None:
    run = many_series_run()
    fig = plot_bars([run])
    assert legend_labels(fig) == ["estimate (power model)"]
    rows = [t.get_text().replace("\n", " ") for ax in fig.axes for t in ax.get_yticklabels()]
    assert len(rows) == len(set(rows)) == len(run.cases)
    assert "attention, mechanism=linear, precision=bf16, seq_len=1024" in rows
    assert "sparse-matmul, execution=dense, precision=fp32" in rows


def test_breakdown_of_mixed_workloads_labels_every_panel_with_its_unit() -> None:
    fig = plot_breakdown([quick_run()])
    assert len(fig.axes) == 3
    assert [ax.get_xlabel() for ax in fig.axes] == ["Energy per unit by domain (µJ)",
                                                    "Energy per unit, idle and net (µJ)",
                                                    "Emissions per case, all repeats "
                                                    "(mgCO$_2$e)"]
    for ax in fig.axes:
        rows = [t.get_text().split(" (per ")[0] for t in ax.get_yticklabels()]
        assert rows == ["attention", "sparse-matmul", "transformer"]
    renderer = fig.canvas.get_renderer()
    # Each panel's legend sits above it and below everything of the panel above.
    for upper, lower in zip(fig.axes[:-1], fig.axes[1:], strict=True):
        legend = lower.get_legend().get_window_extent(renderer)
        assert legend.y0 >= lower.get_window_extent(renderer).y1 - 1
        lowest_above = min(t.get_window_extent(renderer).y0
                           for t in [upper.xaxis.label, *drawn_tick_labels(upper)])
        assert legend.y1 <= lowest_above + 1


def test_pareto_of_mixed_workloads_colours_each_workload_and_labels_nothing_foreign() -> None:
    fig = plot_pareto([mixed_run()])
    labels = [label.replace("\n", " ") for label in legend_labels(fig)]
    assert labels[:5] == ["attention, mechanism=softmax", "attention, mechanism=linear",
                          "sparse-matmul, execution=dense", "sparse-matmul, execution=sparse",
                          "transformer"]
    assert layout_problems(fig) == []


def test_pareto_point_labels_name_their_parameter() -> None:
    fig = plot_pareto([sweep_run(seq_lens=(256, 1024))])
    annotations = [t.get_text() for t in fig.axes[0].texts]
    assert annotations and all(a.startswith("seq_len=") for a in annotations)


def test_swept_parameters_are_found_per_workload() -> None:
    quick = select_cases([quick_run()])
    assert list(swept_by_workload(quick)) == ["workload"]  # one case each: no parameter varies
    names = Names(quick)
    assert [names.label(r) for r in quick] == ["attention", "sparse-matmul", "transformer"]
    mixed = select_cases([mixed_run()])
    assert list(swept_by_workload(mixed)) == ["mechanism", "workload", "seq_len", "execution"]
    names = Names(mixed)
    assert names.label(mixed[0]) == "attention, mechanism=softmax, seq_len=256"
    assert names.label(mixed[6]) == "sparse-matmul, execution=dense"
    assert Names(select_cases([sweep_run()])).label(select_cases([sweep_run()])[0]) == \
        "softmax, 256"  # one workload: values alone, under a title naming the keys


def test_text_is_wrapped_and_legend_columns_counted_by_measured_width() -> None:
    text = "attention, mechanism=softmax, seq_len=1024, d_model=256"
    wrapped = wrap(text, 1.2)
    assert wrapped.replace("\n", " ") == text
    assert all(text_width_in(line) <= 1.2 for line in wrapped.splitlines())
    assert wrap(text, 1.2, max_lines=2).count("\n") == 1
    assert wrap(text, 1.2, max_lines=2).endswith("…")
    # four labels in three columns are split 2-1-1, as matplotlib splits them
    labels = ["a" * 30] * 4
    assert legend_columns(labels, 3.5) == 1
    assert legend_columns(["CPU", "DRAM", "GPU"], 3.5) == 3


def test_pareto_turns_log_when_one_wide_interval_would_squeeze_the_points() -> None:
    run = sweep_run(seq_lens=(1024, 2048))
    assert plot_pareto([run]).axes[0].get_xscale() == "linear"
    summary = run.cases[0].summary["energy_per_unit_j"]
    # one noisy case, as real runs have
    run.cases[0].summary["energy_per_unit_j"] = replace(summary, ci_high=summary.median * 100)
    fig = plot_pareto([run])
    assert fig.axes[0].get_xscale() == "log"
    assert layout_problems(fig) == []


# --------------------------------------------------------------------------- estimates, fits


def scaling_run(energies: dict[int, float]):
    """A one-series attention sweep whose energy per step is ``energies[seq_len]`` (J)."""
    from tests.plot_factories import BATCH, _workload_case

    run = sweep_run(("softmax",), (), carbon=False, quality=False)
    run.cases = [_workload_case("attention", {"mechanism": "softmax", "seq_len": n,
                                              "batch": BATCH}, ["mechanism"], "tokens",
                                energy, BATCH * n, ["cpu-package:0"], None, False, 5)
                 for n, energy in energies.items()]
    return run


def test_a_fit_over_two_points_is_said_to_be_not_meaningful() -> None:
    fig = plot_scaling([scaling_run({256: 0.1, 512: 0.2})])
    label, = [t for t in legend_labels(fig) if ": b = " in t]
    assert label.replace("\n", " ") == "attention: b = 1.00, not meaningful"
    assert any("not meaningful: a line through 2 points" in t.replace("\n", " ")
               for t in texts(fig))


def test_a_negative_exponent_of_energy_per_step_is_said_to_be_not_meaningful() -> None:
    x, key, (series,), notes = scaling_series([scaling_run({256: 0.4, 512: 0.3, 1024: 0.2,
                                                            2048: 0.1})])
    assert series.fit is not None and series.fit.exponent < 0
    assert "not meaningful" in legend_label(series)
    assert any(n.startswith("attention: b = -") and "negative exponent" in n for n in notes)
    # a falling figure per unit of work is a fixed cost amortised: no caveat
    assert fit_caveat(PowerFit(-0.5, 1.0, 4, 1, 8, 0.01, 0.99), "energy_per_unit_j") is None


def test_each_exponent_comes_with_its_95_percent_interval() -> None:
    # four points, residuals known: half-width = t(0.975, 2) x stderr
    fit = PowerFit(1.9, 1.0, 4, 1, 8, 0.05, 0.99)
    assert exponent_interval(fit) == pytest.approx(4.303 * 0.05, rel=1e-3)
    assert exponent_interval(PowerFit(1.0, 1.0, 2, 1, 2, None, 1.0)) is None
    _, _, series, notes = scaling_series([sweep_run()])
    assert notes == [] and not any("not meaningful" in legend_label(s) for s in series)
    for s in series:
        assert re.fullmatch(r"mechanism=\w+: b = [\d.]+ ± [\d.]+ \(top 3: [\d.]+ ± [\d.]+\)",
                            legend_label(s)), legend_label(s)
    # a wide interval is shown as wide, not called meaningless: flat is a finding
    assert fit_caveat(PowerFit(0.05, 1.0, 5, 1, 16, 0.2, 0.1)) is None


def test_fit_lines_of_estimated_energy_are_dashed_and_measured_ones_solid() -> None:
    def fit_styles(run) -> set[str]:
        fig = plot_scaling([run])
        return {line.get_linestyle() for line in fig.axes[0].get_lines()
                if line.get_gid() == "fit-line"}

    assert fit_styles(sweep_run(cpu_estimate=True)) == {"--"}
    assert fit_styles(sweep_run()) == {"-"}
    fig = plot_scaling([sweep_run(cpu_estimate=True)])
    assert "open marker, dashed fit: estimate" in legend_labels(fig)


def test_trace_total_is_dashed_and_labelled_when_a_domain_in_it_is_estimated() -> None:
    def total_line(run):
        ax = plot_trace(run, 0).axes[0]
        return next(line for line in ax.get_lines()
                    if line.get_label().startswith("total of top-level domains"))

    estimated = total_line(sweep_run(cpu_estimate=True))
    assert estimated.get_linestyle() == "--"
    assert estimated.get_label() == "total of top-level domains (estimate)"
    measured = total_line(sweep_run())
    assert measured.get_linestyle() == "-"
    assert measured.get_label() == "total of top-level domains"


def test_breakdown_hatches_idle_and_net_of_estimated_cases_only() -> None:
    run = sweep_run(cpu_estimate=True)
    measured = sweep_run()
    run.cases[1] = measured.cases[1]  # one case measured without a power model
    run.cases = run.cases[:2]
    fig = plot_breakdown([run])
    idle_net = fig.axes[1]
    hatches = {round(p.get_y() + p.get_height() / 2): p.get_hatch() for p in bars_of(idle_net)}
    assert hatches == {0: ESTIMATE_HATCH, 1: None}
    assert {"idle baseline (estimate)", "net (above idle) (estimate)"} <= set(legend_labels(fig))
    swatches = {t.get_text(): h.get_hatch() for t, h in zip(
        idle_net.get_legend().get_texts(), idle_net.get_legend().legend_handles, strict=True)}
    assert swatches["idle baseline (estimate)"] == ESTIMATE_HATCH
    assert not any(p.get_hatch() for p in bars_of(plot_breakdown([measured]).axes[1]))


def test_breakdown_emissions_panel_says_it_is_a_total_per_case_not_per_unit() -> None:
    fig = plot_breakdown([sweep_run()])
    assert fig.axes[0].get_xlabel().startswith("Energy per token")
    assert fig.axes[2].get_xlabel().startswith("Emissions per case, all repeats (")
    run = sweep_run()
    for case in run.cases:
        case.footprint = None  # only the run's own footprint
    assert plot_breakdown([run]).axes[2].get_xlabel().startswith(
        "Emissions of the run, all repeats (")


# --------------------------------------------------------------------------- pareto labels


def label_boxes(fig) -> list:
    from matplotlib.text import Text

    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    out = []
    for t in fig.axes[0].texts:
        if t.get_gid() == "point-label":
            t.update_positions(renderer)
            out.append((t.get_text(), Text.get_window_extent(t, renderer)))
    return out


def real_attention_sweep():
    """The stored four-mechanism sweep of docs/runs (20 cases, front points crowded)."""
    from greenbench.results_format import read_document_file

    return read_document_file(Path(__file__).parent.parent / "docs" / "runs"
                              / "attention-scaling.json")


@pytest.mark.parametrize("make", [lambda: [real_attention_sweep()], lambda: [sweep_run()],
                                  lambda: [mixed_run()], lambda: [quick_run()]])
@pytest.mark.parametrize("width", [COLUMN_WIDTH_IN, 7.0])
def test_pareto_labels_never_collide_and_every_front_point_is_named(make, width) -> None:
    runs = make()
    fig = plot_pareto(runs, width_in=width)
    boxes = label_boxes(fig)
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            assert not box_a.overlaps(box_b), (a, b)
    assert layout_problems(fig) == []
    if len({c.workload for run in runs for c in run.cases}) > 1:
        return  # a workload with nothing varying but its variant: its colour names it
    # every front point is labelled on the plot or named in the note
    ax = fig.axes[0]
    ringed = [line for line in ax.get_lines() if line.get_markersize() == 7][0]
    note = " ".join(texts(fig)).replace("\n", " ")
    unlabelled = note.count("; ") + 1 if "unlabelled for lack of room" in note else 0
    assert len(boxes) >= len(ringed.get_xdata()) - unlabelled


def wide_whisker_run():
    """Two cases; one whisker reaches three decades above the medians (high CV)."""
    from tests.plot_factories import _workload_case

    run = sweep_run(seq_lens=(256, 512), carbon=False)
    noisy = _workload_case("attention", dict(run.cases[0].params), ["mechanism"], "tokens",
                           0.1, 1024.0, ["cpu-package:0"], 0.2, True, 5)
    summary = noisy.summary["energy_per_unit_j"]
    noisy.summary["energy_per_unit_j"] = replace(summary, ci_high=summary.median * 1000)
    run.cases[0] = noisy
    return run


@pytest.mark.parametrize("make", [real_attention_sweep, wide_whisker_run])
def test_pareto_log_axis_tick_labels_do_not_run_into_each_other(make) -> None:
    fig = plot_pareto([make()])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    fig.draw_without_rendering()
    ticks = [t for t in drawn_tick_labels(ax) if t in ax.get_xticklabels(which="both")]
    assert len(ticks) >= 2
    boxes = [t.get_window_extent(fig.canvas.get_renderer()) for t in ticks]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    assert all("times" not in t.get_text() and "^" not in t.get_text() for t in ticks)


def test_pareto_front_points_without_room_are_named_under_the_plot() -> None:
    fig = plot_pareto([real_attention_sweep()])
    note = " ".join(texts(fig)).replace("\n", " ")
    shown = {t for t, _ in label_boxes(fig)}
    # the two linformer front points sit 0.4 µJ apart: both are named, on the plot or below
    for seq_len in (2048, 4096):
        assert (f"seq_len={seq_len}" in shown
                or f"mechanism=linformer, seq_len={seq_len}" in note)


def test_series_beyond_the_palette_still_differ_by_colour_and_marker() -> None:
    from greenbench.plots.style import colour, marker

    pairs = [(colour(i), marker(i)) for i in range(40)]
    assert len(set(pairs)) == len(pairs)
    fig = plot_pareto([many_series_run()])
    legend = fig.legends[0]
    shown = [(tuple(h.get_color()) if not isinstance(h.get_color(), str) else h.get_color(),
              h.get_marker()) for h in legend.legend_handles[:10]]
    assert len(set(shown)) == 10


def test_bars_give_workloads_of_very_different_scales_a_panel_each() -> None:
    run = mixed_run({"attention": [{"seq_len": n} for n in (256, 512)],
                     "transformer": [{"seq_len": 64}]})
    transformer = run.cases[-1]
    from tests.plot_factories import _workload_case
    run.cases[-1] = _workload_case("transformer", transformer.params, [], "tokens", 40.0,
                                   256.0, ["cpu-package:0"], None, True, 5)
    fig = plot_bars([run])
    assert len(fig.axes) == 2  # one unit (tokens), two scales
    for ax in fig.axes:
        widest = max(p.get_width() for p in bars_of(ax))
        assert widest > 0.5 * ax.get_xlim()[1]  # no panel of slivers
    assert any("differ over 20x: a panel each" in t.replace("\n", " ") for t in texts(fig))
    assert layout_problems(fig) == []
    # similar scales share one panel
    assert len(plot_bars([mixed_run({"attention": [{"seq_len": 256}],
                                     "transformer": [{}]})]).axes) == 1


def test_trace_total_leaves_out_domains_recorded_beside_the_total() -> None:
    run = sweep_run()
    for window in [r.measurement for r in run.cases[0].repeats]:
        for d in window.domains:
            if d.domain.startswith("dram"):
                d.not_counted = "constant model: shown beside the total"
    ax = plot_trace(run, 0).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert "dram:0, not in the total" in lines
    total = lines["total of top-level domains"]
    gpu, cpu = lines["gpu:0"].get_ydata(), lines["cpu-package:0"].get_ydata()
    assert list(total.get_ydata()) == pytest.approx([g + c for g, c in zip(gpu, cpu,
                                                                          strict=True)])


def test_breakdown_rows_say_their_unit_when_the_workloads_count_different_ones() -> None:
    fig = plot_breakdown([quick_run()])
    energy_rows = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_yticklabels()]
    assert energy_rows == ["attention (per token)", "sparse-matmul (per row)",
                           "transformer (per token)"]
    emission_rows = [t.get_text() for t in fig.axes[2].get_yticklabels()]
    assert emission_rows == ["attention", "sparse-matmul", "transformer"]  # totals: no unit
    one_unit = [t.get_text() for t in plot_breakdown([sweep_run()]).axes[0].get_yticklabels()]
    assert not any("(per " in t for t in one_unit)


def test_a_run_beside_named_parameters_is_called_a_run() -> None:
    a, b = sweep_run(label="before"), sweep_run(label="sparse")
    labels = [t.replace("\n", " ") for t in legend_labels(plot_bars([a, b]))]
    assert "mechanism=softmax, run sparse" in labels  # not "..., sparse"
    alone = legend_labels(plot_bars([a, b], selector="seq_len=1024"))
    assert {"before", "sparse"} <= set(alone)  # the run alone is named by its label


@pytest.mark.parametrize("make", [real_attention_sweep, sweep_run,
                                  lambda: sweep_run(seq_lens=(256, 1024, 4096))])
def test_each_pareto_label_is_nearer_its_own_point_than_any_other(make) -> None:
    import math

    from matplotlib.text import Text

    fig = plot_pareto([make()], width_in=5.0)
    ax = fig.axes[0]
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    points = [ax.transData.transform(p) for line in ax.get_lines()
              if line.get_marker() not in (None, "None", "none", "")
              for p in line.get_xydata()]

    def distance(box, point) -> float:
        x, y = point
        return math.hypot(max(box.x0 - x, 0, x - box.x1), max(box.y0 - y, 0, y - box.y1))

    labels = [t for t in ax.texts if t.get_gid() == "point-label"]
    assert labels
    for t in labels:
        t.update_positions(renderer)
        box = Text.get_window_extent(t, renderer)
        own = distance(box, ax.transData.transform(t.xy))
        assert all(own <= distance(box, p) + 1.0 for p in points), t.get_text()


@pytest.mark.parametrize("name", ["finetune", "attention-scaling"])
def test_pareto_labels_are_not_written_across_error_bars(name) -> None:
    from matplotlib.collections import LineCollection
    from matplotlib.text import Text

    from greenbench.results_format import read_document_file

    run = read_document_file(Path(__file__).parent.parent / "docs" / "runs" / f"{name}.json")
    fig = plot_pareto([run])
    ax = fig.axes[0]
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    whiskers = [ax.transData.transform(seg) for c in ax.collections
                if isinstance(c, LineCollection) for seg in c.get_segments()]
    labels = [t for t in ax.texts if t.get_gid() == "point-label"]
    assert labels
    for t in labels:
        t.update_positions(renderer)
        box = Text.get_window_extent(t, renderer)
        for (x0, y0), (x1, y1) in whiskers:
            steps = max(int(abs(x1 - x0) + abs(y1 - y0)), 1)
            assert not any(box.contains(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)
                           for k in range(steps + 1)), t.get_text()
