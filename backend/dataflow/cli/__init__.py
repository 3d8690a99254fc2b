"""The `dataflow` command: serve, validate, import, export, run, openapi."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx
import msgspec

from dataflow import __version__
from dataflow.cli.access import add_commands as add_access_commands
from dataflow.cli.client import add_server_options, client, not_signed_in_hint, problem_text
from dataflow.cli.secrets import add_commands as add_secret_commands


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from dataflow.api import create_app
    from dataflow.cli.protocol import with_header_deadline
    from dataflow.settings import Settings

    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        journal_url=args.journal_url,
        flowfiles_dir=args.flowfiles,
        allow_python=True if args.allow_python else None,
        static_dir=args.static_dir,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
        # h11 whatever else is installed: its header limit is the one set here.
        http=with_header_deadline(settings.header_timeout_seconds),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
    )
    return 0


def _validate(args: argparse.Namespace) -> int:
    from dataflow.graph import validate_document
    from dataflow.processor import default_registry

    failed = False
    for file in args.files:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            print(f"{file}: {exc.strerror}", file=sys.stderr)
            failed = True
            continue
        _, report = validate_document(data, default_registry())
        for issue in report.errors:
            print(f"{file}: error: {issue.path}: {issue.message} [{issue.code}]")
        for issue in report.warnings:
            print(f"{file}: warning: {issue.path}: {issue.message} [{issue.code}]")
        if report.valid:
            print(f"{file}: valid ({len(report.warnings)} warning(s))")
        failed |= not report.valid
    return 1 if failed else 0


def _import(args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    with client(args) as http:
        response = http.post(
            "/api/v1/flows/import", content=data, headers={"Content-Type": "application/json"}
        )
    if response.status_code != 201:
        print(problem_text(response), file=sys.stderr)
        if response.status_code == 401:
            print(not_signed_in_hint(args), file=sys.stderr)
        return 1
    body = response.json()
    print(f"imported {args.file} as flow {body['flow']['id']} (version {body['version']})")
    return 0


def _export(args: argparse.Namespace) -> int:
    with client(args) as http:
        response = http.get(f"/api/v1/flows/{args.flow_id}/export")
    if response.status_code != 200:
        print(problem_text(response), file=sys.stderr)
        if response.status_code == 401:
            print(not_signed_in_hint(args), file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(response.content)
    else:
        sys.stdout.buffer.write(response.content)
    return 0


def _run(args: argparse.Namespace) -> int:
    from dataflow.cli.run import run_file

    return run_file(
        Path(args.file),
        data_dir=Path(args.data_dir),
        allow_python=args.allow_python,
        quiet=args.quiet,
    )


def _openapi(args: argparse.Namespace) -> int:
    from dataflow.api import create_app
    from dataflow.api.openapi import openapi_document

    # Building the app opens nothing (the journal opens at startup): no server, no data dir.
    document = openapi_document(create_app())
    if args.output:
        Path(args.output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dataflow", description=__doc__)
    p.add_argument("--version", action="version", version=f"dataflow {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="start the server (API, editor, runtime)")
    s.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=None, help="port (default 8080)")
    s.add_argument("--data-dir", default=None, help="data directory (default ./data)")
    s.add_argument(
        "--journal-url",
        default=None,
        help="sqlite:///PATH (default: DATA_DIR/journal.db) or postgresql://...",
    )
    s.add_argument(
        "--flowfiles", default=None, help="directory of example flows imported on first start"
    )
    s.add_argument("--static-dir", default=None, help="the editor's build (default frontend/dist)")
    s.add_argument(
        "--allow-python",
        action="store_true",
        help="let an admin enable the python processor (runs arbitrary code)",
    )
    s.add_argument("--tls-cert", default=None, help="PEM certificate (chain): serve HTTPS")
    s.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    s.add_argument("--log-level", default="info")
    s.set_defaults(func=_serve)

    v = sub.add_parser("validate", help="validate flow files; exit 1 on errors")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=_validate)

    i = sub.add_parser("import", help="import a flow file into a server")
    i.add_argument("file")
    add_server_options(i)
    i.set_defaults(func=_import)

    e = sub.add_parser("export", help="export a flow from a server")
    e.add_argument("flow_id")
    e.add_argument("-o", "--output", help="file to write (default: stdout)")
    add_server_options(e)
    e.set_defaults(func=_export)

    r = sub.add_parser("run", help="run a flow file in the terminal until it completes")
    r.add_argument("file")
    r.add_argument("--data-dir", default=".")
    r.add_argument("--allow-python", action="store_true")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.set_defaults(func=_run)

    o = sub.add_parser("openapi", help="write the API's OpenAPI document (JSON), no server needed")
    o.add_argument("-o", "--output", help="file to write (default: stdout)")
    o.set_defaults(func=_openapi)

    add_access_commands(sub)
    add_secret_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except httpx.HTTPError as exc:
        url = getattr(args, "url", "")
        print(f"cannot reach the server at {url}: {exc} (set it with --url)", file=sys.stderr)
        return 2
    except msgspec.ValidationError as exc:
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
