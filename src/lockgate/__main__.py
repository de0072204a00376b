"""``python -m lockgate`` is the ``lockgate`` command."""

from lockgate.controllers.cli.main import main

main()
