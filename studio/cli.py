"""The headless face of Assetsmith. Tests and tools outside this repo rely on this contract.

Exit status: 0 done; 1 the job failed; 2 bad input (one clear line, no traceback);
130 interrupted (Ctrl-C cancels the job cleanly).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from engines import devices
from engines.api import ParamError, Request, describe
from studio import cli_models, cli_train, models, settings
from studio.project import Project, ProjectError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class BadInput(Exception):
    """Bad input from the command line: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one clear line, not a usage dump
        raise BadInput(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="assetsmith", description="Local AI studio for game and ad assets.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = sub.add_parser("generate", help="make outputs with an engine and record them in a project")
    gen.add_argument("--engine", required=True, help="engine name (see `assetsmith engines`)")
    gen.add_argument("--model", help="model reference: folder, .safetensors file, hub id, starter:ENGINE/NAME")
    gen.add_argument("--prompt", default="", help="what to make")
    gen.add_argument("--negative", default="", help="what to avoid (negative prompt)")
    gen.add_argument("--seed", type=int, help="seed (random when left out); output i uses seed + i")
    gen.add_argument("--count", type=int, default=1, help="number of outputs")
    gen.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="engine parameter; VALUE is parsed as JSON when it parses, else taken as text")
    gen.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    gen.add_argument("--threads", type=int,
                     help="CPU threads (default: the `threads` setting; recorded: it changes the bits on CPU)")
    _project_arg(gen)

    remake = sub.add_parser("remake", help="re-run a recorded generation and say whether it is identical")
    remake.add_argument("id", type=int)
    _project_arg(remake)

    show = sub.add_parser("show", help="print a generation object")
    show.add_argument("id", type=int)
    _project_arg(show)

    lst = sub.add_parser("list", help="list the project's generations, newest first")
    lst.add_argument("--search", help="text to find in prompts")
    lst.add_argument("--engine")
    lst.add_argument("--json", action="store_true", help="a JSON list of generation objects")
    _project_arg(lst)

    eng = sub.add_parser("engines", help="list engines and their parameters")
    eng.add_argument("--json", action="store_true")

    exp = sub.add_parser("export", help="export text outputs as .txt, .json or .csv")
    exp.add_argument("ids", type=int, nargs="*", help="generation ids (all text generations when none)")
    exp.add_argument("--out", required=True, type=Path, help="file to write; its suffix picks the format")
    exp.add_argument("--format", choices=("txt", "json", "csv"), help="format, when the suffix does not say")
    _project_arg(exp)
    threads = sub.add_parser("threads", help="show or set the CPU thread count that generations and training "
                                             "use unless told otherwise (the window's too)")
    threads.add_argument("count", nargs="?", help="a number, or auto for torch's own (the physical cores)")
    cli_train.add_parser(sub)
    cli_models.add_parser(sub)
    return parser


def _project_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", required=True, type=Path, help="project folder (created when missing)")


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def main(argv: list[str] | None = None) -> int:
    debug = bool(os.environ.get("ASSETSMITH_DEBUG"))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args = build_parser().parse_args(argv)
        return COMMAND_FUNCS[args.command](args)
    except (BadInput, ParamError, ProjectError, models.ModelError) as exc:
        print(f"assetsmith: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except settings.SettingsError as exc:  # the choice was fine; the disk or the folder is not
        print(f"assetsmith: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("assetsmith: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _emit(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def cmd_generate(args) -> int:
    request = Request(
        engine=args.engine,
        model=args.model,
        prompt=args.prompt,
        negative_prompt=args.negative,
        seed=args.seed,
        count=args.count,
        params=parse_params(args.param),
    )
    with _open(args.project) as project:
        job = _run(project, request, device=args.device, threads=args.threads)
        return _finish(job)


def cmd_remake(args) -> int:
    with _open(args.project) as project:
        original = project.get(args.id)
        recipe = original.recipe
        runtime = recipe.get("runtime", {})
        device = runtime.get("device", "auto")
        try:
            device = devices.resolve(device)
        except ValueError:
            print(f"assetsmith: {device} is not available here; re-making on another device "
                  "may change the result", file=sys.stderr)
            device = "auto"
        job = _run(project, Request.from_dict(recipe), device=device,
                   threads=runtime.get("threads"), parent_id=original.id)
        if job.result is not None:
            new = project.get(job.result["generation_id"])
            # Compare what was made (pixels, samples, text); the files differ in their recipes.
            before = {o.index: o.content_sha256 for o in original.outputs}
            after = {o.index: o.content_sha256 for o in new.outputs}
            same = [before[i] == after.get(i) for i in sorted(before)]
            job.result.update(
                identical=bool(same) and all(same),
                outputs_identical=same,
                original_id=original.id,
                model_changed=new.recipe.get("model_hash") != recipe.get("model_hash"),
            )
        return _finish(job)


def cmd_show(args) -> int:
    with _open(args.project) as project:
        _emit(project.get(args.id).to_object())
    return EXIT_OK


def cmd_list(args) -> int:
    with _open(args.project) as project:
        generations = project.query(search=args.search, engine=args.engine)
        if args.json:
            _emit([g.to_object() for g in generations])
            return EXIT_OK
        print(f"{'id':>5}  {'status':<11} {'engine':<10} {'seed':>10}  {'outputs':>7}  prompt")
        for g in generations:
            r = g.recipe
            prompt = (r.get("prompt") or "").replace("\n", " ")
            print(f"{g.id:>5}  {g.status:<11} {r.get('engine', ''):<10} {r.get('seed', ''):>10}  "
                  f"{len(g.outputs):>7}  {prompt[:60]}")
    return EXIT_OK


def cmd_engines(args) -> int:
    from engines import registry

    specs = [describe(e) for e in registry.all_engines()]
    if args.json:
        _emit(specs)
        return EXIT_OK
    for spec in specs:
        prompt = "prompt" if spec["takes_prompt"] else "no prompt"
        print(f"{spec['name']}  ({spec['modality']}, {prompt})")
        for p in spec["params"]:
            bounds = ""
            if p["choices"]:
                bounds = " one of: " + ", ".join(p["choices"])
            elif p["min"] is not None or p["max"] is not None:
                bounds = f" [{p['min']} .. {p['max']}]"
            default = "model's own" if p["default"] is None else p["default"]
            print(f"    {p['name']:<18} {p['type']:<7} default {default}{bounds}")
            if p["help"]:
                print(f"    {'':<18} {p['help']}")
    return EXIT_OK


class _open:
    """Open a project for one command, printing what reconciling found."""

    def __init__(self, root: Path):
        self.root = root

    def __enter__(self) -> Project:
        self.project = Project.open(self.root)
        if not self.project.report.ok():
            print(f"assetsmith: {self.project.report.summary()}", file=sys.stderr)
        return self.project

    def __exit__(self, *exc) -> None:
        self.project.close()


def _run(project: Project, request: Request, **submit):
    """Run one job to its end, with a progress bar on a terminal; Ctrl-C cancels it."""
    from studio.jobs import JobRunner
    from studio.recording import ProjectSink

    runner = JobRunner()
    job = runner.submit(request, sink=ProjectSink(project), project=project, **submit)
    bar = _progress_bar(runner, job)
    try:
        while not job.wait(0.2):
            pass
    except KeyboardInterrupt:
        runner.cancel(job.id)
        job.wait()
    finally:
        if bar is not None:
            bar.close()
        runner.shutdown()
    return job


def _progress_bar(runner, job):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=1, desc=job.request.engine, unit="step", file=sys.stderr, leave=False)

    def on_event(event):
        if event.job_id == job.id and event.kind == "progress":
            step, total = event.progress
            bar.total = total
            bar.n = step
            bar.refresh()

    runner.subscribe(on_event)
    return bar


def _finish(job) -> int:
    if job.result is not None:
        _emit(job.result)
    if job.state == "failed":
        print(f"assetsmith: generation failed: {job.error}", file=sys.stderr)
        return EXIT_FAILED
    if job.state == "cancelled":
        print("assetsmith: cancelled" + (" (finished outputs are recorded)" if job.result else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def cmd_export(args) -> int:
    from studio.export import ExportError, export_text

    with _open(args.project) as project:
        generations = [project.get(i) for i in args.ids] if args.ids else project.query(modality="text")
        try:
            n = export_text(generations, args.out, args.format)
        except ExportError as exc:
            raise BadInput(str(exc)) from None
    print(f"exported {n} text(s) to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_threads(args) -> int:
    if args.count is not None:
        count = 0 if args.count == "auto" else _whole_number(args.count)
        try:
            settings.set_threads(count)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    chosen = settings.threads()
    print(f"CPU threads: {chosen}" if chosen else f"CPU threads: auto ({os.cpu_count()} logical cores here; "
          "torch takes the physical ones)")
    return EXIT_OK


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadInput(f"threads must be a whole number or auto, got {text!r}") from None


COMMAND_FUNCS = {
    "generate": cmd_generate,
    "remake": cmd_remake,
    "show": cmd_show,
    "list": cmd_list,
    "engines": cmd_engines,
    "export": cmd_export,
    "threads": cmd_threads,
    "train": cli_train.cmd_train,
    "models": cli_models.cmd_models,
}
