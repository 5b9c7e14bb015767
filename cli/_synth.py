"""``rhip synth``: fill a node with a synthetic township (SYNTHETIC DATA ONLY)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from tqdm import tqdm

from ._node import HOME, open_home

__all__ = ["synth"]


@click.command("synth", context_settings={"help_option_names": ["-h", "--help"]})
@HOME
@click.option(
    "--residents",
    required=True,
    type=click.IntRange(min=1),
    help="Residents of the township (births add more).",
)
@click.option(
    "--years",
    default=3,
    show_default=True,
    type=click.IntRange(0, 30),
    help="Years of care before today: visits, follow-ups, births, deaths.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives the same township.")
@click.option(
    "--township",
    help="Township code (9-digit GB/T 2260) or name in the demo county; default 511321100 南隆镇.",
)
def synth(home: Path, residents: int, years: int, seed: int, township: str | None) -> None:
    """Fill a node with a synthetic township: residents, families and years of their care.

    Every name, identity number and visit is made up. Records go through the
    node's store like staff writes (validated, with outbox entries), so they
    sync to the hub like real ones: use a demo or test node, never a live one.

    \b
    Example:
        rhip node init --home ./clinic --clinic 511321100 --name "南隆镇卫生院"
        rhip synth --home ./clinic --residents 2000 --years 3
    """
    from node._synth import fill

    try:
        h = open_home(home)
    except click.ClickException as exc:
        raise click.BadParameter(exc.message, param_hint="'--home'") from None
    db = h.database()
    started = time.monotonic()
    try:
        with tqdm(total=residents, unit=" residents", file=sys.stderr, leave=False, disable=None) as bar:

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            counts = fill(
                h.store(db), residents=residents, years=years, seed=seed, progress=progress, township=township
            )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--township'") from None
    except RuntimeError as exc:
        raise click.ClickException(
            f"{exc} (is this node already filled with this seed? use another --seed)"
        ) from exc
    finally:
        db.close()
    click.echo(
        f"synthesised {counts['residents']} residents and {counts['records']} records "
        f"in {time.monotonic() - started:.1f} s"
    )
