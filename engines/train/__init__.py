"""Training: one harness (harness.py, its protocol in its docstring) that every trainer runs
in as a child process; the trainers (gan_trainer.py, vae_trainer.py), their parameter
schemas (schema.py, torch-free), checkpoints (checkpoint.py), augmentation and evaluation."""
