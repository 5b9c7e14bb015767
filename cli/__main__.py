"""``python -m cli``: the same as the ``rhip`` command."""

from . import main

if __name__ == "__main__":  # worker processes (the hub's record checks) import this module too
    main()
