"""One module per `tinymodels` sub-command (argument parsing and dispatch only)."""
