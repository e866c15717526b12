"""`assetsmith train`: train a GAN, a VAE, a diffusion or text LoRA or a language model on a
folder, resume a run, list the runs.

    assetsmith train --engine gan|vae --data FOLDER --project DIR [--name NAME] [--param KEY=VALUE ...]
    assetsmith train --engine lora-diffusion --base MODEL --data FOLDER --project DIR [...]
    assetsmith train --engine lora-text|causal-lm --base MODEL --data FOLDER --project DIR [...]
    assetsmith train --resume RUN_ID --project DIR
    assetsmith train --list --project DIR

Prints the run's events as JSON lines on stdout, exactly as the trainer writes them (protocol:
engines/train/harness.py), then `registered` with the model's `project:NAME`. Ctrl-C asks the
run to save a checkpoint and stop (resume it later with --resume). Exit status as the other
sub-commands: 0 finished, 1 failed, 2 bad input, 130 stopped.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from engines.api import ParamError
from engines.train import schema
from studio import models


def add_parser(sub) -> None:
    train = sub.add_parser("train", help="train a GAN, a VAE or a LoRA on a folder of images, or a text LoRA or "
                                          "a language model on a folder of text (JSON lines on stdout)")
    what = train.add_mutually_exclusive_group(required=True)
    what.add_argument("--engine", choices=tuple(schema.TRAINERS), help="what to train")
    what.add_argument("--resume", metavar="RUN_ID", help="continue a stopped or interrupted run")
    what.add_argument("--list", action="store_true", help="list the project's runs (JSON)")
    train.add_argument("--data", type=Path, help="folder to learn from, searched recursively: images; sounds "
                       "for wavegan; .txt, .md and .jsonl for lora-text and causal-lm")
    train.add_argument("--base", metavar="MODEL", help="the model a LoRA adapts or causal-lm trains (lora-diffusion, "
                       "lora-text, causal-lm): a folder, starter:..., project:... or a hub id in the Hugging Face cache")
    train.add_argument("--name", help="name of the finished model in the project (project:NAME)")
    train.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="training parameter (steps, batch_size, resolution, channels ...; "
                            "`assetsmith train --engine gan --help-params` lists them)")
    train.add_argument("--help-params", action="store_true", help="list the training parameters and exit")
    train.add_argument("--project", type=Path, help="project folder (created when missing)")


def cmd_train(args) -> int:
    from studio import training
    from studio.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, _open, parse_params

    if args.help_params:
        return _help_params(args.engine or "gan")
    if args.project is None:
        raise ParamError("--project DIR is needed: runs and the finished model are kept in the project")
    with _open(args.project) as project:
        root = project.root
        if args.list:
            json.dump(training.list_runs(root), sys.stdout, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        try:
            if args.resume:
                run = training.TrainingProcess.resume(root, args.resume)
            else:
                if args.data is None:
                    raise ParamError("--data FOLDER is needed to train (the images or text to learn from)")
                params = parse_params(args.param)
                if args.base:
                    from engines import registry

                    engine = schema.spec(args.engine).base_engine or args.engine  # the engine the base is a model of
                    params["base"] = str(models.resolve(args.base, registry.get(engine), root).path)
                run = training.TrainingProcess.start(root, args.engine, args.data, params, args.name)
        except training.TrainingError as exc:
            raise ParamError(str(exc)) from None
        last = None
        try:
            for event in run.events():
                print(json.dumps(event, ensure_ascii=False), flush=True)
                last = event
        except KeyboardInterrupt:
            print(f"assetsmith: stopping run {run.run_id} (saving a checkpoint) ...", file=sys.stderr)
            run.stop()
            print(f"assetsmith: stopped; continue with `assetsmith train --resume {run.run_id} "
                  f"--project {args.project}`", file=sys.stderr)
            return EXIT_INTERRUPTED
        kind = (last or {}).get("event")
        if kind == "registered":
            return EXIT_OK
        if kind == "stopped":
            return EXIT_INTERRUPTED
        error = (last or {}).get("error") or f"the trainer exited with status {run.wait()} (see {run.folder}/stderr.log)"
        print(f"assetsmith: training failed: {error}", file=sys.stderr)
        return 2 if (last or {}).get("kind") == "bad-input" else EXIT_FAILED


def _help_params(engine: str) -> int:
    from engines.train import schema

    for p in schema.all_params(engine):
        default = schema.spec(engine).defaults.get(p.name, p.default)
        print(f"    {p.name:<24} {p.type:<6} default {default}  {p.help}")
    return 0
