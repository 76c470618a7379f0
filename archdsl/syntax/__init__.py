"""The front end: text (.arch or YAML) to AST. Knows nothing about layer kinds."""
