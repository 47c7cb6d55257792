"""What each rank reports to rank 0 after a sampled step, and how rank 0 makes one pass per source of them.

Why a module of its own: the merge is where a multi-process run must equal a single-process one
(the FSDP2 test holds it to that), and where other ranks' failures become rank 0's counts; the
controller only sends a report and folds the merged passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from em_monitor.runtime.own_answers import AnswerPass

__all__ = ["MergedPasses", "PromptPass", "RankReport", "TrainScores", "merge_reports"]

#: One rank's probe-prompt pass: scores by signal, and the seconds it took.
PromptPass = tuple[dict[str, torch.Tensor], float]


@dataclass(frozen=True)
class RankReport:
    """What one rank sends rank 0 at the end of a sampled step: per source, its scores, the stage that failed, or None (not run here)."""

    train: dict[str, torch.Tensor] | str | None = None
    prompts: PromptPass | str | None = None
    answers: AnswerPass | str | None = None
    #: The realignment's in-domain prompts (``realign.in_domain_prompts``), when that pass ran.
    in_domain: PromptPass | str | None = None


@dataclass(frozen=True)
class TrainScores:
    """Every rank's training-batch scores, concatenated in rank order, as rank 0 sees them."""

    scores: dict[str, torch.Tensor]
    origins: list[tuple[int, int]]  # (rank, index in that rank's batch) per concatenated sample
    seconds: float


@dataclass(frozen=True)
class MergedPasses:
    """One pass per source for rank 0 to fold in (None: not due, or dropped)."""

    prompts: PromptPass | None
    answers: AnswerPass | None
    train: TrainScores | None
    in_domain: PromptPass | None = None


def merge_reports(reports: Sequence[RankReport], seconds: float, count_error: Callable[[str], None]) -> MergedPasses:
    """Every rank's reports made one pass per source, in rank order.

    Rank order is prompt order: under sharding each rank asked a contiguous share. Other ranks'
    failures go to ``count_error`` (rank 0's own were counted where they happened). A probe pass
    with a failed share is dropped whole, so a pass always means the same prompts; the training
    batch keeps the ranks that scored theirs.
    """
    for report in reports[1:]:
        for stage in (report.train, report.prompts, report.answers, report.in_domain):
            if isinstance(stage, str):
                count_error(stage)
    answer_parts = [report.answers for report in reports if report.answers is not None]
    answers = AnswerPass.merge(answer_parts) if answer_parts and not any(isinstance(part, str) for part in answer_parts) else None
    ranks = [(rank, report.train) for rank, report in enumerate(reports) if isinstance(report.train, dict) and report.train]
    train = None
    if ranks:
        merged = {name: torch.cat([scores[name] for _, scores in ranks]) for name in ranks[0][1]}
        origins = [(rank, index) for rank, scores in ranks for index in range(len(next(iter(scores.values()))))]
        train = TrainScores(merged, origins, seconds)
    return MergedPasses(_merge_prompt_passes([report.prompts for report in reports]), answers, train,
                        _merge_prompt_passes([report.in_domain for report in reports]))


def _merge_prompt_passes(parts: Sequence[PromptPass | str | None]) -> PromptPass | None:
    """Each rank's share of a prompt pass, concatenated in rank (= prompt) order; ``None`` if not run or any share failed."""
    shares = [part for part in parts if part is not None]
    if not shares or any(isinstance(part, str) for part in shares):
        return None
    return ({name: torch.cat([scores[name] for scores, _ in shares]) for name in shares[0][0]}, max(seconds for _, seconds in shares))
