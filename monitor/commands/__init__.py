"""One module per `seizure-monitor` subcommand."""
