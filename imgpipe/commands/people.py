"""`imgpipe people`: name the faces the people analysis indexed, find a person's images, forget a person.

Works only on a stack deployed (or run locally) with `enable_people`: its Lambda indexes each image's
faces into the stack's Rekognition collection (a feature vector per face: biometric data, see the
README). Names live in the results table (face and person items, image_analysis.domain.table).

  imgpipe people faces KEY           the faces indexed in one image, with their ids and names
  imgpipe people name FACE_ID NAME   name a face (renaming moves it)
  imgpipe people find NAME           every image with a face like one named NAME
  imgpipe people find --like FILE    every image with a face like the largest face in FILE
  imgpipe people forget NAME         delete NAME's faces, and every face like them, from the
                                     collection and the table (the images and results stay)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from image_analysis.adapters.faces import FaceCollection
from image_analysis.adapters.people import PeopleItems
from image_analysis.domain.errors import PipelineError
from rich.console import Console
from rich.table import Table

from ..errors import CommandError
from ..results import get_record
from ..target import Target, add_target_options, open_target
from .common import print_json, shown_key, status_console

DEFAULT_THRESHOLD = 90.0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "people",
        help="name indexed faces, find a person's images, forget a person (needs enable_people)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    faces = actions.add_parser("faces", help="the faces indexed in one image")
    faces.add_argument("key", help="the image, by key (relative to the input prefix, or in full)")
    name = actions.add_parser("name", help="name a face")
    name.add_argument("face_id")
    name.add_argument("person")
    find = actions.add_parser("find", help="the images of a person, or of a face like one in a file")
    find.add_argument("person", nargs="?")
    find.add_argument("--like", type=Path, metavar="FILE", help="a picture (JPEG or PNG) of the person")
    forget = actions.add_parser("forget", help="delete a person's faces (and faces like them) entirely")
    forget.add_argument("person")
    for action, run in ((faces, _faces), (name, _name), (find, _find), (forget, _forget)):
        action.add_argument(
            "--threshold", type=float, default=DEFAULT_THRESHOLD, help="least similarity (%%) of a match"
        )
        action.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        add_target_options(action)
        action.set_defaults(run=run)


def _faces(args: argparse.Namespace, console: Console) -> int:
    with _people(args) as (target, _, items):
        key = _image_key(target, args.key)
        record = get_record(target, key)
        if record is None:
            raise CommandError(f"No analysed image {key} in the {target.name}.", exit_code=2)
        ids = [str(face_id) for face_id in record.get("face_ids") or []]
        found = items.faces(ids)
    rows = [{"image_key": key, "face_id": i, "person": found.get(i, {}).get("person")} for i in ids]
    _show(args, console, target, rows, empty=f"No faces were indexed in {args.key}.")
    return 0


def _name(args: argparse.Namespace, console: Console) -> int:
    if not args.person.strip():
        raise CommandError("The name must not be empty.", exit_code=2)
    with _people(args, saves=True) as (target, _, items):
        try:
            face = items.name_face(args.face_id, args.person.strip(), _now())
        except LookupError:
            raise CommandError(
                f"No image has the face {args.face_id} (see `imgpipe people faces KEY`).", 2
            ) from None
    _show(args, console, target, [_row(face, None)], empty="")
    return 0


def _find(args: argparse.Namespace, console: Console) -> int:
    if (args.person is None) == (args.like is None):
        raise CommandError("Give a NAME or --like FILE (one of them).", exit_code=2)
    similar: dict[str, float | None]
    with _people(args) as (target, collection, items):
        if args.like is not None:
            try:
                image = args.like.read_bytes()
            except OSError as exc:
                raise CommandError(f"Cannot read {args.like}: {exc.strerror}", exit_code=2) from exc
            similar = {m.face_id: m.similarity for m in collection.search_by_image(image, args.threshold)}
        else:
            similar = _faces_of(args.person, args.threshold, collection, items)
        found = items.faces(list(similar))
    rows = sorted(
        (_row(face, similar[face_id]) for face_id, face in found.items()),
        key=lambda r: (-(r["similarity"] or 100.0), r["image_key"]),
    )
    who = args.person or f"the face in {args.like}"
    _show(args, console, target, rows, empty=f"No image shows {who}.")
    return 0


def _forget(args: argparse.Namespace, console: Console) -> int:
    with _people(args, saves=True) as (_, collection, items):
        faces = list(_faces_of(args.person, args.threshold, collection, items))
        if faces:
            collection.delete(faces)
            items.forget(faces)
    if args.json:
        print_json({"person": args.person, "faces_deleted": faces})
    else:
        console.print(f"Deleted {len(faces)} face(s) of {args.person} from the collection and the table.")
    return 0


def people_faces(
    target: Target, person: str, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, dict[str, Any]]:
    """The face items of `person`: the faces named so and every face like them (`imgpipe query
    --person`). CommandError when the people analysis is off."""
    if not target.people_collection:
        raise _people_off(target)
    collection = FaceCollection(target.rekognition, target.people_collection)
    items = PeopleItems(target.dynamodb, target.table)
    try:
        return items.faces(list(_faces_of(person, threshold, collection, items)))
    except PipelineError as exc:
        raise CommandError(str(exc)) from exc


def _people_off(target: Target) -> CommandError:
    return CommandError(
        f"The people analysis is off in the {target.name}: deploy (or run) it with "
        "enable_people=true (see the README on what it stores).",
        exit_code=2,
    )


def _faces_of(
    person: str, threshold: float, collection: FaceCollection, items: PeopleItems
) -> dict[str, float | None]:
    """The faces named `person` (similarity None) and every face like one of them."""
    named = items.named(person)
    found: dict[str, float | None] = dict.fromkeys(named)
    for face_id in named:
        for match in collection.search(face_id, threshold):
            previous = found.get(match.face_id)
            if match.face_id not in found or (previous is not None and match.similarity > previous):
                found[match.face_id] = match.similarity
    return found


@contextmanager
def _people(
    args: argparse.Namespace, *, saves: bool = False
) -> Iterator[tuple[Target, FaceCollection, PeopleItems]]:
    """The target with its collection and items, or a clear refusal; adapter failures become
    command errors. `saves`: the command writes to the table (locally, the snapshot keeps it)."""
    with open_target(args, status_console(), saves=saves) as target:
        if not target.people_collection:
            raise _people_off(target)
        collection = FaceCollection(target.rekognition, target.people_collection)
        try:
            yield target, collection, PeopleItems(target.dynamodb, target.table)
        except PipelineError as exc:
            raise CommandError(str(exc)) from exc


def _image_key(target: Target, key: str) -> str:
    return key if key.startswith(target.layout.input_prefix) else target.layout.input_prefix + key


def _row(face: dict[str, Any], similarity: float | None) -> dict[str, Any]:
    return {
        "image_key": face["image_key"],
        "face_id": face["face_id"],
        "person": face.get("person"),
        "similarity": similarity,
    }


def _show(
    args: argparse.Namespace, console: Console, target: Target, rows: list[dict[str, Any]], empty: str
) -> None:
    if args.json:
        print_json(rows)
        return
    if not rows:
        console.print(empty)
        return
    table = Table()
    for column in ("image", "face id", "person", "similarity"):
        table.add_column(column, overflow="fold")
    for row in rows:
        similarity = row.get("similarity")
        table.add_row(
            shown_key(target, row["image_key"]),
            row["face_id"],
            row.get("person") or "",
            "" if similarity is None else f"{similarity:.1f}%",
        )
    console.print(table)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
