"""``python -m cli``: the same as the ``rhip`` command."""

from . import main

main()
