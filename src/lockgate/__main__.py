"""``python -m lockgate`` is the ``lockgate`` command."""

from lockgate.controllers.cli import main

main()
