from archdsl.cli.main import entry

entry()
