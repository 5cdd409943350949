"""Like with like: what must agree before two runs (or a run and a baseline) are compared.

Two sides are comparable when they come from the same suite, task, model and metric
definitions (METRICS_VERSION), and their items are paired by id *and* content hash: an item
whose content changed under the same id is not the same item. A mismatch is bad input
(`MismatchError`, exit 2) unless the user allows that kind explicitly; an allowed mismatch
becomes a note that the output states. Sides that share no items cannot be compared at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.spec.record import Results

MISMATCH_KINDS = ("suite", "task", "items", "metrics", "model")


class MismatchError(ValueError):
    """Two sides that do not measure the same thing; the message names what differs."""


def _metric_versions(results: Results) -> dict[str, str]:
    return {
        name: str(d.version)
        for name, d in results.metric_definitions.items()
        if d.version is not None
    }


def _fingerprint(results: Results) -> str | None:
    return results.model.fingerprint if results.model else None


@dataclass
class Agreement:
    """The outcome of checking two sides: notes for what was allowed or could not be checked."""

    a_name: str
    b_name: str
    allow: frozenset[str]
    notes: list[str] = field(default_factory=list)

    def mismatch(self, kind: str, detail: str) -> None:
        """Record an allowed mismatch as a note, or refuse a forbidden one."""
        if kind in self.allow:
            self.notes.append(f"{kind} mismatch allowed by --allow-mismatch {kind}: {detail}")
            return
        raise MismatchError(
            f"{self.a_name} and {self.b_name} are not comparable: {detail}. "
            f"Compare like with like (re-freeze the baseline or rerun), or pass "
            f"--allow-mismatch {kind} to compare anyway (the output will say so)"
        )


def check_sides(
    a: Results,
    b: Results,
    a_name: str,
    b_name: str,
    allow: set[str] | frozenset[str] = frozenset(),
) -> Agreement:
    """Suite, model and metric definitions of two runs' results (or a baseline)."""
    unknown = set(allow) - set(MISMATCH_KINDS)
    if unknown:
        raise MismatchError(f"--allow-mismatch: unknown kind(s) {sorted(unknown)}")
    agreement = Agreement(a_name, b_name, frozenset(allow))
    if a.suite != b.suite:
        agreement.mismatch("suite", f"suite {a.suite!r} in {a_name}, {b.suite!r} in {b_name}")
    fa, fb = _fingerprint(a), _fingerprint(b)
    if fa and fb and fa != fb:
        agreement.mismatch(
            "model",
            f"model {a.model.name} (weights {fa}) in {a_name}, "
            f"{b.model.name} (weights {fb}) in {b_name}",
        )
    va, vb = _metric_versions(a), _metric_versions(b)
    differing = sorted(m for m in set(va) & set(vb) if va[m] != vb[m])
    if differing:
        m = differing[0]
        agreement.mismatch(
            "metrics",
            f"metric definitions differ (METRICS_VERSION {va[m]} in {a_name}, {vb[m]} in "
            f"{b_name}; metrics: {', '.join(differing)})",
        )
    return agreement


def check_tasks(
    agreement: Agreement, a_tasks: set[str], b_tasks: set[str], both_ways: bool = False
) -> None:
    """Every task of side b must exist on side a (and, `both_ways`, every task of a on b)."""
    missing = sorted(b_tasks - a_tasks)
    if both_ways and not missing and a_tasks - b_tasks:
        agreement.a_name, agreement.b_name = agreement.b_name, agreement.a_name
        try:
            check_tasks(agreement, b_tasks, a_tasks)
        finally:
            agreement.a_name, agreement.b_name = agreement.b_name, agreement.a_name
        return
    if missing:
        agreement.mismatch(
            "task",
            f"task(s) {missing} of {agreement.b_name} are not in {agreement.a_name} "
            f"(it has {sorted(a_tasks)})",
        )


def shared_items(
    agreement: Agreement,
    cell: str,
    a_ids: set[str],
    a_hashes: dict[str, str] | None,
    b_ids: set[str],
    b_hashes: dict[str, str] | None,
) -> set[str]:
    """Ids of the items both sides scored with the same content; a changed item is a mismatch.

    A side without item hashes (written by an older adaptbench) is matched by id alone, and a
    note says so.
    """
    common = a_ids & b_ids
    if a_hashes is None or b_hashes is None:
        older = agreement.a_name if a_hashes is None else agreement.b_name
        note = (
            f"{older} has no per-item content hashes (written by an older adaptbench): items "
            f"matched by id alone; re-freeze or rerun it to match on content"
        )
        if note not in agreement.notes:
            agreement.notes.append(note)
        return common
    changed = sorted(i for i in common if a_hashes.get(i) != b_hashes.get(i))
    if changed:
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        agreement.mismatch(
            "items",
            f"{cell}: {len(changed)} item(s) have the same id but other content ({shown})",
        )
        return common - set(changed)
    return common
