"""`imgpipe search`: the images nearest a phrase, or nearest one analysed image, by their embeddings.

The function embeds each image with a multimodal model (Titan Multimodal Embeddings G1 by default) and
keeps the vector in the stack's S3 Vectors index under the image key (enable_embeddings). A phrase is
embedded with the same model into the same space; `--like KEY` uses that image's stored vector. The
index answers the nearest vectors (cosine), filtered on their metadata (status, flagged, labels);
each hit is joined with its record in the results table, and a hit whose record is gone or describes
another version of the image (a vector left behind) is dropped, never shown.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from image_analysis.adapters.embeddings import Embeddings
from image_analysis.adapters.vectors import Neighbour, VectorIndex
from image_analysis.domain import vectors as design
from image_analysis.domain.errors import PipelineError
from image_analysis.domain.states import FINAL_STATUSES
from image_analysis.domain.table import normalise_label
from rich.console import Console
from rich.table import Table

from .. import recordview as view
from ..arguments import whole_number
from ..errors import CommandError
from ..results import clean, get_record, get_records
from ..target import Target, VectorTarget, add_target_options, open_target
from .common import print_json, shown_key, status_console

DEFAULT_TOP = 10
MAX_TOP = 100  # S3 Vectors returns at most 100 neighbours per query

HELP = """\
Find images by meaning: the ones nearest a phrase, or nearest an image already analysed. Needs a
stack deployed (or run locally) with enable_embeddings. Filters combine with the ranking.

examples:
  imgpipe search "red car at night"            the 10 images nearest the phrase, most similar first
  imgpipe search --like trip/a.jpg --top 5      the 5 images most like trip/a.jpg
  imgpipe search "beach" --label person --not-flagged --json

Locally, a phrase needs an embedding model: --simulated-ai (imgpipe's simulated services, results
marked SIMULATED) or --aws-ai (Bedrock, with credentials). --like needs no model.
"""


@dataclass(frozen=True)
class Hit:
    record: dict[str, Any]
    similarity: float


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "search",
        help="find images by meaning: nearest a phrase, or like an analysed image (needs enable_embeddings)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("phrase", nargs="?", help="what the images should show, in words")
    parser.add_argument("--like", metavar="KEY", help="an analysed image, by key: find the ones like it")
    parser.add_argument(
        "--top",
        type=whole_number(1, MAX_TOP),
        default=DEFAULT_TOP,
        help=f"most results (default {DEFAULT_TOP})",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME",
        help="only images with this label (repeatable: all)",
    )
    flagged = parser.add_mutually_exclusive_group()
    flagged.add_argument("--flagged", action="store_true", help="only images moderation flagged")
    flagged.add_argument("--not-flagged", action="store_true", help="only images moderation did not flag")
    parser.add_argument(
        "--status", choices=[s.value for s in FINAL_STATUSES], help="only images with this status"
    )
    parser.add_argument("--json", action="store_true", help="print the hits as JSON (for scripts)")
    ai = parser.add_argument_group("the local stack's embedding model").add_mutually_exclusive_group()
    ai.add_argument(
        "--simulated-ai", action="store_true", help="embed the phrase with imgpipe's simulated services"
    )
    ai.add_argument(
        "--aws-ai", action="store_true", help="embed the phrase with Amazon Bedrock (AWS credentials)"
    )
    add_target_options(parser)
    parser.set_defaults(run=run)


def metadata_filter(args: argparse.Namespace) -> dict[str, Any] | None:
    """The S3 Vectors filter for the options (labels as the function stores them: normalised)."""
    parts: list[dict[str, Any]] = [{design.LABELS: normalise_label(name)} for name in args.label]
    if args.flagged or args.not_flagged:
        parts.append({design.FLAGGED: bool(args.flagged)})
    if args.status:
        parts.append({design.STATUS: args.status})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def run(args: argparse.Namespace, console: Console) -> int:
    if (args.phrase is None) == (args.like is None):
        raise CommandError('Give a phrase or --like KEY (one of them), e.g. imgpipe search "red car".', 2)
    status = status_console()
    with open_target(args, status) as target:
        vectors = _vectors(target)
        index = VectorIndex(vectors.s3vectors, vectors.bucket, vectors.index)
        try:
            query, like_key = _query_vector(args, target, vectors, index)
            # More than asked for: the image itself (--like) and stray vectors are dropped afterwards.
            found = index.query(query, min(MAX_TOP, 2 * args.top + 1), metadata_filter(args))
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc
        hits, strays = join_records(target, [n for n in found if n.key != like_key])
    hits = hits[: args.top]
    if args.json:
        print_json(
            [
                {
                    "image_key": h.record["image_key"],
                    "similarity": round(h.similarity, 6),
                    "record": clean(h.record),
                }
                for h in hits
            ]
        )
    elif hits:
        console.print(_table(hits, target, console.width))
    else:
        console.print("No image matches.")
    if strays:
        status.print(
            f"[yellow]Left out {strays} vector(s) whose image was removed or re-uploaded since (their "
            "analysis replaces them).",
            highlight=False,
        )
    return 0


def _vectors(target: Target) -> VectorTarget:
    if target.vectors is None:
        raise CommandError(
            f"Embeddings are off in the {target.name}: deploy (or run) it with enable_embeddings=true "
            "(`-c enable_embeddings=true`), then analyse the images (`imgpipe backfill --force`).",
            exit_code=2,
        )
    return target.vectors


def _query_vector(
    args: argparse.Namespace, target: Target, vectors: VectorTarget, index: VectorIndex
) -> tuple[list[float], str | None]:
    if args.like is None:
        if vectors.bedrock is None or not vectors.model_id:
            why = vectors.why_no_model or "the stack does not name its embedding model"
            raise CommandError(f"Cannot embed the phrase: {why}. --like KEY needs no model.", exit_code=2)
        dimension = int(
            vectors.s3vectors.get_index(vectorBucketName=vectors.bucket, indexName=vectors.index)["index"][
                "dimension"
            ]
        )
        return Embeddings(vectors.bedrock).embed_text(
            args.phrase, model_id=vectors.model_id, dimension=dimension
        ), None
    key = (
        args.like
        if args.like.startswith(target.layout.input_prefix)
        else target.layout.input_prefix + args.like
    )
    stored = index.get(key)
    if stored is None:
        raise CommandError(_no_vector(target, key), exit_code=2)
    return stored[0], key


def _no_vector(target: Target, key: str) -> str:
    record = get_record(target, key)
    shown = shown_key(target, key)
    if record is None:
        return f"{shown} has no vector: no image {key} has been analysed in the {target.name}."
    return (
        f"{shown} has no vector (its record is {record.get('status')}): it was analysed while embeddings "
        "were off, or embedding it failed (see `imgpipe query --key " + shown + " --json`); "
        "`imgpipe backfill --force` analyses it again."
    )


def join_records(target: Target, found: list[Neighbour]) -> tuple[list[Hit], int]:
    """The hits whose record exists and describes the version the vector was made of, in rank order,
    and how many were left out (a vector whose image was removed or replaced since)."""
    records = get_records(target, [n.key for n in found])
    hits = []
    for neighbour in found:
        record = records.get(neighbour.key)
        version = neighbour.metadata.get(design.VERSION_TAG)
        if record is None or (version is not None and record.get("version_tag") != version):
            continue
        hits.append(Hit(record, neighbour.similarity))
    return hits, len(found) - len(hits)


def _table(hits: list[Hit], target: Target, width: int) -> Table:
    table = Table(show_lines=width < view.NARROW)
    table.add_column("#", justify="right")
    table.add_column("image", overflow="fold", ratio=2)
    table.add_column("similarity", justify="right")
    table.add_column("found", overflow="fold", ratio=4)
    for rank, hit in enumerate(hits, 1):
        record = hit.record
        caption = record.get("caption")
        found = "\n".join(
            line
            for line in (
                str(caption) if caption else "",
                f"labels: {view.labels_cell(record, 5)}",
                f"location: {view.location_cell(record)}",
            )
            if line
        )
        table.add_row(str(rank), shown_key(target, record["image_key"]), f"{hit.similarity:.3f}", found)
    if any(h.record.get("simulated") for h in hits):
        table.caption = (
            f"{view.SIMULATED_MARK}: the simulated AI services answered, not Bedrock or Rekognition"
        )
    return table
