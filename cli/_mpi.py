"""``rhip mpi …``: the master patient index from the command line (bulk linking of a file)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from hub.mpi import InputError, LinkReport, Weights, link_registrations, read_registrations

__all__ = ["mpi"]

_ENCODINGS = ("auto", "utf-8", "gb18030")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def mpi() -> None:
    """Link residents' registrations to master persons (the master patient index).

    \b
    Example:
        rhip mpi link --input residents.csv --output links.csv
    """


@mpi.command("link")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV of registrations: record_id,family_name,given_name,sex,birth_date,id_number,"
    "other_id,phone,address,village,township (any order; only record_id is required).",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="CSV to write: record_id,master_id, one row per input row, in input order.",
)
@click.option(
    "--review",
    "review_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the pairs a person should decide: record_a,record_b,probability,rule.",
)
@click.option(
    "--weights",
    "weights_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Use these weights (JSON, as --save-weights writes) instead of estimating them from the file.",
)
@click.option(
    "--save-weights",
    "save_weights_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the weights used (estimated by EM unless --weights) as JSON, e.g. for the hub's index.",
)
@click.option("--prefix", default="M", show_default=True, help="Prefix of the master ids written.")
@click.option(
    "--encoding",
    type=click.Choice(_ENCODINGS),
    default="auto",
    show_default=True,
    help="The input's text encoding; auto reads UTF-8 (with or without BOM), else GB18030.",
)
def link(
    *,
    input_path: Path,
    output_path: Path,
    review_path: Path | None,
    weights_path: Path | None,
    save_weights_path: Path | None,
    prefix: str,
    encoding: str,
) -> None:
    """Link a file of registrations to master persons (a legacy system's residents, say).

    Every row gets a master id; rows of one person share it. A value that
    cannot be read (a malformed date, a placeholder identity number) is
    dropped and counted, never fatal. A summary (counts only) goes to stderr.

    \b
    Example:
        rhip mpi link --input residents.csv --output links.csv --review review.csv
    """
    text = _read_text(input_path, encoding)
    weights = None
    if weights_path is not None:
        try:
            weights = Weights.from_json(json.loads(weights_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, AttributeError) as exc:
            raise click.ClickException(f"--weights: {weights_path} is not a weights file ({exc})") from None
    report = LinkReport()
    try:
        registrations = list(read_registrations(io.StringIO(text, newline=""), report))
    except InputError as exc:
        raise click.ClickException(f"--input: {exc}") from None
    result = link_registrations(registrations, weights=weights, prefix=prefix, report=report)
    with output_path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("record_id", "master_id"))
        writer.writerows((r.record_id, m) for r, m in zip(registrations, result.master_ids, strict=True))
    if review_path is not None:
        with review_path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(("record_a", "record_b", "probability", "rule"))
            writer.writerows((p.record_a, p.record_b, f"{p.probability:.4f}", p.rule) for p in result.reviews)
    if save_weights_path is not None:
        save_weights_path.write_text(json.dumps(result.weights.as_json(), indent=1), encoding="utf-8")
    problems = ", ".join(f"{k} {v}" for k, v in sorted(report.problems.items())) or "none"
    click.echo(
        f"{report.records} registrations, {report.masters} master persons, {report.auto_links} auto-links, "
        f"{len(result.reviews)} pairs to review; unreadable values: {problems}",
        err=True,
    )


def _read_text(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if encoding == "auto":
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return data.decode("gb18030", errors="replace")
    return data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
