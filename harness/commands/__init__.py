"""Commands: one thin module per farm-harness subcommand and the registry that names them; nothing imports a command."""
