"""`assetsmith models`: list, download, import, convert and remove models.

    assetsmith models list [--json] [--engine NAME] [--project DIR]
    assetsmith models pull REPO_ID [--engine NAME] [--revision REV] [--endpoint URL]
    assetsmith models import PATH [--link] [--name NAME] [--project DIR]
    assetsmith models convert PATH [--out DEST]
    assetsmith models remove REF [--force] [--dry-run] [--project DIR]
    assetsmith models offline [on|off]
    assetsmith models folders [add|remove FOLDER]

Results go to stdout as JSON (a table for `list` without --json); progress and what is about
to happen go to stderr. A pull stopped by Ctrl-C keeps what arrived: the same command resumes
it. Exit status as the other sub-commands: 0 done, 1 failed (a download that could not finish),
2 bad input, 130 interrupted.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from studio import models


def add_parser(sub) -> None:
    top = sub.add_parser("models", help="list, download, import, convert and remove models")
    verbs = top.add_subparsers(dest="models_command", required=True, parser_class=type(top))

    lst = verbs.add_parser("list", help="every model on this machine (Hugging Face cache, library, your folders ...)")
    lst.add_argument("--json", action="store_true", help="a JSON list of model objects")
    lst.add_argument("--engine", help="only the models this engine can use")
    lst.add_argument("--project", type=Path, help="also list this project's own models (models/)")

    pull = verbs.add_parser("pull", help="download a model from the Hugging Face Hub (resumable)")
    pull.add_argument("repo_id", metavar="REPO_ID", help="OWNER/NAME on the Hub")
    pull.add_argument("--engine", help="the engine it is for (an error when that engine cannot load what was downloaded)")
    pull.add_argument("--revision", help="branch, tag or commit (default: main)")
    pull.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT") or None,
                      help="a Hub mirror (default: HF_ENDPOINT, else huggingface.co)")
    pull.add_argument("--dry-run", action="store_true", help="show the files and sizes only")

    imp = verbs.add_parser("import", help="bring a .safetensors file or a model folder into the library")
    imp.add_argument("path", type=Path, metavar="PATH")
    imp.add_argument("--link", action="store_true", help="link to it instead of copying (the files stay where they are)")
    imp.add_argument("--name", help="name in the library (default: the file or folder name)")
    imp.add_argument("--project", type=Path, help="import into this project's models/ instead of the library")

    conv = verbs.add_parser("convert", help="convert pickle weights (.ckpt/.bin/.pt/.pth) to .safetensors")
    conv.add_argument("path", type=Path, metavar="PATH")
    conv.add_argument("--out", type=Path, help="where to write (default: beside it, NAME.safetensors or NAME-safetensors/)")

    rm = verbs.add_parser("remove", help="delete a model, showing the disk space it frees and who uses it")
    rm.add_argument("ref", metavar="REF", help="a reference or path from `assetsmith models list`")
    rm.add_argument("--project", type=Path, help="the open project: its recipes that use the model are shown")
    rm.add_argument("--force", action="store_true", help="remove it even though recipes of the project use it")
    rm.add_argument("--dry-run", action="store_true", help="show what would be removed, remove nothing")

    off = verbs.add_parser("offline", help="show or set offline mode (no network call at all)")
    off.add_argument("state", nargs="?", choices=("on", "off"))

    folders = verbs.add_parser("folders", help="show, add or remove your own model folders (an AUTOMATIC1111 "
                               "or ComfyUI models/ folder), searched in place, never copied")
    folders.add_argument("action", nargs="?", choices=("add", "remove"))
    folders.add_argument("folder", nargs="?", type=Path, metavar="FOLDER")


def cmd_models(args) -> int:
    return {"list": _list, "pull": _pull, "import": _import, "convert": _convert, "remove": _remove,
            "offline": _offline, "folders": _folders}[args.models_command](args)


def _list(args) -> int:
    from studio.cli import EXIT_OK, BadInput, _emit
    from studio.downloads import human_size, pending

    engines = None
    if args.engine:
        engines = [_engine(args.engine, BadInput)]
    found = models.discover(_existing_project(args.project, BadInput), engines=engines)
    if args.engine:
        found = [m for m in found if args.engine in m.engines]
    if args.json:
        _emit([m.to_dict() for m in found])
        return EXIT_OK
    print(f"{'reference':<44} {'type':<10} {'engines':<16} {'family':<9} {'size':>9}  {'source':<11} licence")
    for m in found:
        ref = m.ref if len(m.ref) <= 44 else "…" + m.ref[-43:]
        print(f"{ref:<44} {m.kind:<10} {','.join(m.engines) or '-':<16} {m.family or '-':<9} "
              f"{human_size(m.size_bytes):>9}  {m.source + (' (link)' if m.linked else ''):<11} {m.licence or '-'}")
    for d in pending():
        print(f"assetsmith: unfinished download of {d.get('repo_id')}: `assetsmith models pull {d.get('repo_id')}` "
              "resumes it", file=sys.stderr)
    return EXIT_OK


def _pull(args) -> int:
    from engines.api import Cancelled
    from studio import downloads
    from studio.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, BadInput, _emit

    if args.engine:
        _engine(args.engine, BadInput)
    if not models._looks_like_hub_id(args.repo_id):
        raise BadInput(f"{args.repo_id!r} is not a Hub repository id (OWNER/NAME); "
                       "to use files you already have, `assetsmith models import PATH`")
    bar = _ProgressLine(sys.stderr)
    try:
        the_plan = downloads.plan(args.repo_id, revision=args.revision, endpoint=args.endpoint)
        print(f"{args.repo_id}: {len(the_plan.files)} file(s), {downloads.human_size(the_plan.total_bytes)}"
              + (f", licence {the_plan.licence}" if the_plan.licence else "")
              + (f"; left on the Hub: {', '.join(the_plan.skipped)}" if the_plan.skipped else ""), file=sys.stderr)
        if args.dry_run:
            _emit(the_plan.to_dict())
            return EXIT_OK
        snapshot = downloads.pull(args.repo_id, revision=args.revision, endpoint=args.endpoint,
                                  on_progress=bar.update, the_plan=the_plan)
    except (Cancelled, KeyboardInterrupt):
        bar.close()
        print(f"assetsmith: download of {args.repo_id} cancelled; what arrived is kept: run the same command "
              "to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except downloads.DownloadError as exc:
        bar.close()
        print(f"assetsmith: {exc}", file=sys.stderr)
        return EXIT_FAILED
    bar.close()
    info = next((m for m in models.discover() if m.ref == args.repo_id and m.path == snapshot), None)
    result = info.to_dict() if info else {"ref": args.repo_id, "path": str(snapshot)}
    if args.engine and args.engine not in result.get("engines", []):
        fits = ", ".join(result.get("engines", [])) or "no engine of Assetsmith"
        print(f"assetsmith: downloaded, but engine {args.engine!r} cannot load {args.repo_id} (it fits: {fits})",
              file=sys.stderr)
        _emit(result)
        return EXIT_FAILED
    _emit(result)
    return EXIT_OK


class _ProgressLine:
    """Download progress on stderr: one line redrawn on a terminal, else a line a second."""

    def __init__(self, stream):
        self.stream, self.tty = stream, stream.isatty()
        self._last = 0.0
        self._drawn = False

    def update(self, p) -> None:
        from studio.downloads import human_duration, human_size

        now = time.monotonic()
        finished = p.done_bytes >= p.total_bytes
        if not finished and now - self._last < (0.2 if self.tty else 1.0):
            return
        self._last = now
        percent = 100 * p.done_bytes / p.total_bytes if p.total_bytes else 100
        eta = f"ETA {human_duration(p.eta_s)}" if p.eta_s is not None and not finished else ""
        line = (f"{p.repo_id}: {human_size(p.done_bytes)} / {human_size(p.total_bytes)} ({percent:.0f}%)  "
                f"{human_size(p.speed_bps)}/s  {eta}  {p.file}")
        if self.tty:
            self.stream.write("\r" + line[:120].ljust(120))
            self._drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _import(args) -> int:
    from studio.cli import EXIT_OK, BadInput, _emit

    root = None
    if args.project is not None:
        root = _existing_project(args.project, BadInput)
    info = models.import_model(args.path, link=args.link, name=args.name, project_root=root)
    how = "linked" if info.linked else "copied"
    print(f"assetsmith: {how} {args.path} as {info.ref} ({', '.join(info.engines) or 'no engine fits it'})",
          file=sys.stderr)
    _emit(info.to_dict())
    return EXIT_OK


def _convert(args) -> int:
    from studio.cli import EXIT_OK, _emit
    from studio.downloads import human_size

    report = models.convert_to_safetensors(args.path, args.out)
    for f in report["files"]:
        dropped = f" (left out, not tensors: {', '.join(f['dropped'][:5])}{' …' if len(f['dropped']) > 5 else ''})" \
            if f["dropped"] else ""
        print(f"assetsmith: wrote {f['target']}: {f['tensors']} tensors, {human_size(f['bytes'])}{dropped}",
              file=sys.stderr)
    if report.get("copied"):
        print(f"assetsmith: copied {len(report['copied'])} other file(s) beside them", file=sys.stderr)
    for s in report.get("skipped", []):
        print(f"assetsmith: left out {s['file']}: {s['why']}", file=sys.stderr)
    _emit(report)
    return EXIT_OK


def _remove(args) -> int:
    from studio.cli import EXIT_OK, BadInput, _emit
    from studio.downloads import human_size
    from studio.project import Project

    project = None
    if args.project is not None:
        project = Project.open(_existing_project(args.project, BadInput), create=False)
    try:
        plan = models.plan_removal(args.ref, project)
        paths = ", ".join(str(p) for p in plan.paths)
        print(f"assetsmith: {plan.model.ref}: frees {human_size(plan.size_bytes)}"
              + (" (a link: the files it points at stay)" if plan.model.linked else "")
              + f"; deletes {paths}", file=sys.stderr)
        if plan.used_by:
            ids = ", ".join(str(i) for i in plan.used_ids[:20]) + (" …" if len(plan.used_ids) > 20 else "")
            print(f"assetsmith: used by {plan.used_by} generation(s) of {project.root}: {ids} "
                  "(`assetsmith show ID` shows one); re-making them would need this model", file=sys.stderr)
        elif project is None:
            print("assetsmith: no --project given, so no recipes were checked", file=sys.stderr)
        result = {**plan.to_dict(), "removed": False, "freed_bytes": 0}
        if not args.dry_run:
            result["freed_bytes"] = models.remove(plan, force=args.force)
            result["removed"] = True
            print(f"assetsmith: removed {plan.model.ref}, {human_size(result['freed_bytes'])} freed", file=sys.stderr)
    finally:
        if project is not None:
            project.close()
    _emit(result)
    return EXIT_OK


def _offline(args) -> int:
    from studio import settings
    from studio.cli import EXIT_OK

    if args.state is not None:
        settings.set_offline(args.state == "on")
    env = os.environ.get(settings.OFFLINE_ENV, "").strip()
    state = "on" if settings.offline() else "off"
    note = f" ({settings.OFFLINE_ENV}={env} decides, whatever the preference says)" if env else ""
    print(f"offline mode: {state}{note}")
    return EXIT_OK


def _folders(args) -> int:
    from studio import settings
    from studio.cli import EXIT_OK, BadInput

    if args.action and args.folder is None:
        raise BadInput(f"models folders {args.action} needs a FOLDER")
    if args.action == "add":
        try:
            settings.add_model_folder(args.folder)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    elif args.action == "remove":
        settings.remove_model_folder(args.folder)
    for folder in settings.model_folders():
        print(f"{folder}{'' if folder.is_dir() else '  (missing)'}")
    return EXIT_OK


def _engine(name: str, error: type[Exception]) -> type:
    from engines import registry

    if name not in registry.names():
        raise error(f"no engine {name!r}; engines: {', '.join(registry.names())}")
    return registry.get(name)


def _existing_project(path: Path | None, error: type[Exception]) -> Path | None:
    """A project folder the user named: it must exist (listing or removing never creates one)."""
    if path is None:
        return None
    path = path.expanduser()
    if not path.is_dir():
        raise error(f"no project at {path}; give the folder of an existing project")
    return path.resolve()
