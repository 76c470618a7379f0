"""The `archdsl` command line: one module per verb, dispatched by `archdsl.cli.main`."""
