"""The `ats` commands, one module per command group: each module's `add_commands` adds its
subcommands to the parser with their help, and the function that runs each one
(`run(args, config) -> exit status`, with `needs_config` saying whether `main` loads the
configuration first).  `ats.cli` puts them together in the order `ats --help` lists them.
"""
