"""The ``lockgate`` command line (typer and rich): ``main`` holds the app and adds every
command group."""
