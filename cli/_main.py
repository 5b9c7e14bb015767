"""``rhip``: the command-line entry point and its groups."""

from __future__ import annotations

import click

from ._card import card
from ._demo import demo
from ._desk import desk
from ._hub import hub
from ._mpi import mpi
from ._node import node
from ._referrals import consult, referral
from ._synth import synth

__all__ = ["main", "rhip"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="rhip")
def rhip() -> None:
    """rhip: regional health information platform.

    Township clinic nodes keep residents' records offline; a regional hub
    reconciles them. Every command has an example in its --help.

    \b
    Example:
        rhip node init --home /var/lib/rhip --clinic 511321100 --name "南隆镇卫生院"
    """


rhip.add_command(node)
rhip.add_command(synth)
rhip.add_command(demo)
rhip.add_command(hub)
rhip.add_command(card)
rhip.add_command(desk)
rhip.add_command(mpi)
rhip.add_command(referral)
rhip.add_command(consult)


def main() -> None:
    rhip(prog_name="rhip")
