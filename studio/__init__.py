"""The core, Qt-free: project store, jobs, model registry, metadata, export, CLI."""

# The CLI's sub-commands (studio/cli.py): the `assetsmith` launcher routes them here without
# importing the CLI, which the window does not need.
COMMANDS = ("generate", "remake", "show", "list", "engines", "export", "threads", "train", "models")
