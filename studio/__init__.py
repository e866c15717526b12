"""The core, Qt-free: project store, jobs, model registry, metadata, export, CLI."""
