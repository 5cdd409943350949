"""report.md: arms x metrics per task with 95% CIs, efficiency, failures, and what the metrics mean."""

from __future__ import annotations

from harness.common.stats import INTERVALS
from harness.reports.compare import TIE_DESPITE_CI, Comparison
from harness.reports.costs_view import cost_lines
from harness.reports.curve import curve_lines
from harness.reports.formats import fmt_bytes, fmt_metric, fmt_num
from harness.reports.judges import judge_lines
from harness.reports.knowledge_notes import markdown_lines as knowledge_lines
from harness.reports.verdict import Verdict
from harness.reports.view import ReportView
from harness.spec.record import (
    Efficiency,
    MetricDefinition,
    RunRecord,
    Spread,
    SpreadGroup,
    TaskInfo,
)


def _cell(text: str) -> str:
    """User-supplied text made inert in a Markdown table cell or header: HTML escaped (Markdown
    renderers pass raw HTML through), pipes escaped, one line."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _forgetting_lines(runs: list[RunRecord]) -> list[str]:
    with_f = [r for r in runs if r.forgetting]
    if not with_f:
        return []
    probes = sorted({p for r in with_f for p in r.forgetting.probes})
    lines = [
        "",
        "Forgetting on retention probes: score(base) - score(arm) on the same items, 95% paired CI "
        "(positive = forgot).",
        "",
        "| arm | mean | " + " | ".join(map(_cell, probes)) + " | perplexity (base → arm) |",
        "|---|---|" + "---|" * len(probes) + "---|",
    ]
    for r in with_f:
        f = r.forgetting
        if f.by_construction:
            lines.append(f"| `{r.arm}` | 0 (weights unchanged) |" + " – |" * len(probes) + " – |")
            continue
        cells = [fmt_metric(f.mean)] + [fmt_metric(f.probes.get(p)) for p in probes]
        ppl = f.perplexity
        cells.append(f"{ppl.base:.1f} → {ppl.arm:.1f}" if ppl else "–")
        lines.append(f"| `{r.arm}` | " + " | ".join(cells) + " |")
    return lines


def _seed_lines(groups: list[SpreadGroup]) -> list[str]:
    if not groups:
        return []
    lines = [
        "",
        "## Repeated training (`seeds`)",
        "",
        "Each arm below was trained once per seed; mean ± sample standard deviation over seeds, "
        "range, and every seed's value. A difference between arms smaller than this spread is "
        "not a finding.",
        "",
        "| task | arm | metric | mean ± sd | min – max | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for g in groups:
        rows = list(g.metrics.items())
        if g.forgetting_mean:
            rows.append(("forgetting (mean over probes)", g.forgetting_mean))
        lines += [_spread_line(g, name, m, "per_seed") for name, m in rows]
        if g.not_ok:
            lines.append(
                f"| {g.task} | `{g.arm}` | seeds that did not finish | "
                + ", ".join(f"{s}: {st}" for s, st in g.not_ok.items())
                + " | | |"
            )
    return lines


def _style_lines(info: TaskInfo) -> list[str]:
    """The task's answer style and what it set, and the ceiling the length limit allows."""
    st = info.style
    if not st:
        return []
    how = f"inferred: {st.reason}" if st.inferred else "set in the suite"
    lines = [
        "",
        f"Answer style **{st.answer_style}** ({_cell(how)}): max_new_tokens "
        f"{st.max_new_tokens}, prompt budget {st.max_prompt_tokens} tokens"
        + (f", style sentence “{_cell(st.style_instruction)}”" if st.style_instruction else "")
        + ".",
    ]
    ceiling = info.ceiling
    if ceiling and ceiling.metrics:
        parts = ", ".join(f"{_cell(n)} {m.value:.3f}" for n, m in ceiling.metrics.items())
        how = (
            f"each gold answer cut to {ceiling.max_new_tokens} tokens, scored; "
            f"{ceiling.answers_cut} cut"
            if ceiling.answers_cut is not None
            else "gold answers scored uncut: no tokenizer for the endpoint model (set "
            "model.endpoint.tokenizer)"
        )
        lines += ["", f"Ceiling ({how}): {parts}."]
    return lines


def _usage_lines(runs: list[RunRecord]) -> list[str]:
    """Token usage as an endpoint reported it, for the arms that ran on one."""
    usage = [(r.arm, r.server_tokens()) for r in runs]
    if not any(u for _, u in usage):
        return []
    return [
        "",
        "Token usage as the endpoint reported it (prompt / completion tokens per request): "
        + "; ".join(f"`{arm}` {u}" for arm, u in usage if u)
        + ". Answers from the response cache keep the latency measured when first sent.",
    ]


def _prompt_tokens(e: Efficiency) -> str:
    mean = e.prompt_tokens_mean
    if mean is None:
        return "–"
    over = e.prompts_over_budget or 0
    return f"{mean:.0f} ({e.prompt_tokens_max})" + (f", {over} over budget" if over else "")


def _variant_lines(groups: list[SpreadGroup]) -> list[str]:
    if not groups:
        return []
    lines = [
        "",
        "## Prompt wordings (`prompt_variants`)",
        "",
        "Each arm below ran once per wording of its instruction and grounding sentence; mean ± "
        "sample standard deviation over wordings, range, and every wording's value. A difference "
        "between arms smaller than this spread depends on how the prompt is phrased.",
        "",
        "| task | arm | metric | mean ± sd | min – max | per wording |",
        "|---|---|---|---|---|---|",
    ]
    for g in groups:
        lines += [_spread_line(g, name, m, "per_variant") for name, m in g.metrics.items()]
    return lines


def _spread_line(group: SpreadGroup, name: str, m: Spread, per: str) -> str:
    """One table row: an arm's metric over its seeds or wordings (mean ± sd, range, each)."""
    sd = f" ± {m.std:.3f}" if m.std is not None else ""
    each = ", ".join(f"{_cell(k)}: {v:.3f}" for k, v in getattr(m, per).items())
    return (
        f"| {_cell(group.task)} | `{_cell(group.arm)}` | {_cell(name)} | "
        f"{m.mean:.3f}{sd} | {m.min:.3f} – {m.max:.3f} | {each} |"
    )


def _decision_lines(decisions: list[Verdict]) -> list[str]:
    lines = ["", "## Decision", ""]
    for d in decisions:
        head = (
            f"**{d.task}: recommend `{d.recommended}`**"
            if d.recommended
            else f"**{d.task}: no recommendation**"
        )
        lines.append(head + (f" (decided on {d.metric})" if d.metric else ""))
        lines += [f"- {r}" for r in d.reasons]
        if d.bottleneck:
            lines.append(f"- Where RAG loses: {d.bottleneck.text}.")
        if d.would_change:
            lines.append("- What would change the verdict: " + "; ".join(d.would_change) + ".")
        lines.append("")
    return lines


def _versus_base_lines(comps: list[Comparison]) -> list[str]:
    if not comps:
        return []
    lines = [
        "",
        "## Compared with `base` (paired, same items)",
        "",
        f"Delta = arm - base. Exact McNemar for 0/1 scores, paired bootstrap otherwise, a paired "
        f"cluster bootstrap where items share a gold document; p Holm-adjusted across these "
        f"{len(comps)} comparisons. **not shown different** = not significant at 0.05 (which is "
        f"not the same as equal); higher / lower = a significant difference on a metric with no "
        f"good direction. Design effect: the variance of the delta under clustering over the "
        f"item-level one (1 = items independent); item-level p beside it, for comparison.",
        "",
        "| task | arm | metric | n | delta | 95% CI | design effect | p (Holm) | item-level p | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in comps:
        r = c.result
        verdict = {"better": "**better**", "worse": "**worse**", "tie": "not shown different"}.get(
            c.verdict, c.verdict
        )
        verdict += " (†)" if c.tie_despite_ci else ""
        item_p = (r.item_level or r).p_value
        lines.append(
            f"| {c.task} | `{_cell(c.b)}` | {_cell(c.metric)} | {r.n} | {r.delta:+.3f} | "
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}] | {r.design_effect:.2f} | "
            f"{c.p_adjusted:.2g} | {item_p:.2g} | {verdict} |"
        )
    if any(c.tie_despite_ci for c in comps):
        lines += ["", TIE_DESPITE_CI]
    return lines


def _failed_lines(runs: list[RunRecord]) -> list[str]:
    failed = [r for r in runs if not r.ok]
    if not failed:
        return []
    return ["", "**Runs that did not finish:**", ""] + [
        f"- `{r.arm}`: {r.status}: {_cell(r.reason or '')}" for r in failed
    ]


def _definition_lines(runs: list[RunRecord], definitions: dict[str, MetricDefinition]) -> list[str]:
    used = sorted({n for r in runs for n in r.metrics})
    if not used:
        return []
    return (
        ["", "## Metric definitions", ""]
        + [
            f"- **{_cell(n)}**: {_cell(definitions[n].description)}"
            for n in used
            if n in definitions
        ]
        + ["", INTERVALS]
    )


def render_markdown(view: ReportView) -> str:
    results, run_dir = view.results, view.run_dir
    env, model = results.environment, results.model
    lines = [
        f"# adaptbench: {results.suite}",
        "",
        f"Model `{model.name}` ({model.source}, fingerprint `{model.fingerprint}`) on "
        f"{env.device} ({env.device_name}), dtype {env.dtype}, seed {env.seed}. "
        f"adaptbench {env.adaptbench}, git {str(env.git_sha)[:10]}"
        f"{' (dirty)' if env.git_dirty else ''}. Written {results.created}.",
        "",
        "Values are means with 95% confidence intervals: Wilson score intervals for proportions "
        "(every item scores 0 or 1), percentile bootstrap for other scores, both accounting for "
        "items that share a cluster (see the end of this report); n is the number of items the "
        "metric applies to. Arrows: ↑ higher is better, ↓ lower is better.",
    ]
    definitions = results.metric_definitions
    for task, info in results.tasks.items():
        runs = [r for r in results.runs if r.task == task]
        metric_names: list[str] = []
        for r in runs:
            for name in r.metrics:
                if name not in metric_names:
                    metric_names.append(name)
        lines += ["", f"## Task `{task}`", ""]
        lines.append(
            f"{info.eval_items} eval items (of {info.eval_items_total}); splits: "
            + ", ".join(f"{k} {v}" for k, v in info.splits.items())
            + "."
        )
        lines += _style_lines(info)
        leak = info.leakage
        if leak.total:
            lines.append(
                f"**Leakage warning:** {leak.total} dev/eval questions are identical or near-identical "
                f"(TF-IDF cosine ≥ {leak.threshold}) to train questions."
            )
        lines += [f"**Training warning:** {w}." for r in runs if (w := r.training_warning())]
        arrows = {True: " ↑", False: " ↓", None: ""}
        header = ["arm", "status"] + [
            f"{n}{arrows[definitions[n].higher_is_better if n in definitions else None]}"
            for n in metric_names
        ]
        lines += ["", "| " + " | ".join(map(_cell, header)) + " |", "|" + "---|" * len(header)]
        for r in runs:
            cells = [f"`{r.arm}`", r.status_label()]
            cells += [fmt_metric(r.metrics.get(n)) for n in metric_names]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines += [
            "",
            "| arm | runs on | prompt tokens mean (max) | gen tokens/s | latency p50 | latency p95 | peak memory | params (trainable) | predict time |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            e = r.efficiency
            params = e.params_total
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{r.arm}`",
                        _cell(r.runs_on()),
                        _prompt_tokens(e),
                        fmt_num(e.tokens_per_s),
                        fmt_num(e.latency_p50_s, " s", 3),
                        fmt_num(e.latency_p95_s, " s", 3),
                        fmt_bytes(e.peak_memory_bytes)
                        + (f" ({e.memory_kind})" if e.memory_kind else ""),
                        f"{params / 1e6:.1f}M ({e.params_trainable or 0:,})" if params else "–",
                        fmt_num(e.phase_seconds("predict"), " s"),
                    ]
                )
                + " |"
            )
        lines += _usage_lines(runs)
        lines += _forgetting_lines(runs)
        lines += judge_lines(runs, run_dir)  # reports.judges: judged metrics and their agreement
        lines += _failed_lines(runs)
    lines += _seed_lines(results.seed_groups)
    lines += _variant_lines(results.variant_groups)
    lines += _versus_base_lines(view.versus_base)
    lines += knowledge_lines(results)  # issue 25: the knowledge drills
    lines += _decision_lines(view.decisions)
    lines += cost_lines(results) + curve_lines(results)  # reports.costs_view, reports.curve
    lines += _definition_lines(results.runs, definitions)
    lines += [
        "",
        "Latency is the wall time of the batch an item was generated in (what a caller waits when "
        "requests are served in batches of `model.batch_size`).",
        "",
    ]
    return "\n".join(lines)
