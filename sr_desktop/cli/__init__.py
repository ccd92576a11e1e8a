"""The `sr-desktop` command line: one module per subcommand, all over the engine."""
