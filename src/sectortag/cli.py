"""The `sectortag` command: train | evaluate | predict | report. Errors become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .errors import Interrupted, ModelMismatchWarning, SectorTagError
from .home import default_config



NEEDS_ARTICLES = ("needs whole articles: a folder, a glob, a .txt/.html file, or --articles with --id-column for a "
                  "file of one article a row")


class Progress:
    """Rows done, rows per second and time left, on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None = None, enabled: bool | None = None):
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        left = f", {((self.total - self.done) / rate):.0f} s left" if self.total and rate else ""
        sys.stderr.write(f"\r{self.done:,} rows, {rate:,.0f} rows/s{left}   ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() not in (".jsonl", ".json", ".csv"):
        return None
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip()) - (1 if path.suffix.lower() == ".csv" else 0)


def cmd_train(args: argparse.Namespace) -> int:
    from .jobs.train import train
    from .metrics import format_table

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise SectorTagError(f"--set {item!r}: expected section.key=value, e.g. model.C=4")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    config = Path(args.config or default_config())
    result = train(config, root=config.resolve().parent.parent, extra=args.extra, overrides=overrides,
                   say=lambda s: print(s, flush=True))
    print(format_table(result.metrics))
    prev = "none" if result.previous_champion is None else f"{result.previous_champion:.4f}"
    print(f"registered sectortag version {result.version} as '{result.alias}' "
          f"(dev selection macro-F1 {result.score:.4f}, champion before {prev}); "
          f"run {result.run_id}; champion file {result.model_path}; {result.seconds:.1f} s")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import read_file
    from .metrics import format_table, report
    from .model import SectorTagger

    tagger = SectorTagger.load(args.model)
    sets = {}
    if args.data:
        sets[Path(args.data).name] = read_file(args.data, labelled=True)
    else:
        from .corpus import evaluation_sets
        from .settings import load_settings

        config = Path(args.config or default_config())
        for name, parts in evaluation_sets(load_settings(config), config.resolve().parent.parent,
                                           include=("ours", "seed", "news", "news_articles")).items():
            for part in ("test", "dev") if name != "ours" else ("test", "articles"):
                if part in parts:
                    sets[f"{name}_{part}"] = parts[part]
    summaries = {name: report(list(d["labels"]), tagger.predict(list(d["text"])), tagger.labels_)
                 for name, d in sets.items()}
    for s in summaries.values():
        for key in ("none_share_true", "none_share_pred", "n_none"):
            s.pop(key)
    if args.json:
        print(json.dumps(next(iter(summaries.values())) if args.data else summaries, ensure_ascii=False))
    else:
        print(format_table(summaries))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if args.engine == "spark":  # a folder of Parquet parts, written by Spark (sectortag.spark)
        from .spark import predict_files

        r = predict_files(args.input, args.output, model=args.model, master=args.master, text_column=args.text_column)
        print(f"tagged {r['rows_out']:,} of {r['rows_in']:,} rows into {r['output']} ({r['parts']} Parquet parts, "
              f"Spark {r['master']}); {r['error_rows']:,} rows could not be tagged (see the 'error' column)",
              file=sys.stderr)
        return 1 if args.strict and r["error_rows"] else 0
    from .jobs import predict as job
    from .model import SectorTagger
    from .output import ChunkWriter

    if args.chunk_size < 1:
        raise SectorTagError(f"--chunk-size {args.chunk_size}: must be at least 1")
    job.check_paths(args.input, args.output)
    articles = args.articles or job.is_article_input(args.input)
    if args.summary and not articles:
        raise SectorTagError(f"--summary {NEEDS_ARTICLES}")
    if args.summary:
        if args.summary == args.output:
            raise SectorTagError(f"--summary {args.summary}: the summary needs a file of its own, not the output")
        job.check_paths(args.input, args.summary)
    tagger = SectorTagger.load(args.model)
    if args.n_jobs is not None:
        tagger.n_jobs = args.n_jobs
    with ChunkWriter(args.output, excel=args.excel) as writer:
        if articles:
            total = len(job.article_files(args.input)) if job.is_article_input(args.input) else None
            progress = Progress(total)
            counts, summaries = job.tag_articles(tagger, args.input, writer, args.chunk_size, args.captions,
                                                 args.id_column, args.text_column, args.explain, progress)
        else:
            progress = Progress(_count_lines(Path(args.input)) if args.input != "-" and Path(args.input).is_file() else None)
            counts = job.tag_rows(tagger, args.input, writer, args.chunk_size, args.text_column, args.explain, progress)
    progress.close()
    where = "standard output" if args.output == "-" else args.output
    what = f"{counts.articles:,} article{'s' if counts.articles != 1 else ''}, " if articles else ""
    job.say(f"tagged {what}{counts.rows:,} rows into {where} with model {('version ' + tagger.provenance()['model_version']) if tagger.provenance()['model_version'] else 'file'} "
            f"(sha256 {tagger.provenance()['model_sha256'][:12]}); {counts.errors:,} rows could not be tagged "
            f"(see the 'error' column)")
    if counts.dropped and any(counts.dropped.values()):
        left = ", ".join(f"{n:,} {why}" for why, n in counts.dropped.items() if n)
        job.say(f"lines left out as not body text: {left} (captions={args.captions}; see README 'Whole articles')")
    if args.summary:
        n = job.write_summary(summaries, args.summary, args.excel)
        job.say(f"summary of {n:,} article{'s' if n != 1 else ''} written to {args.summary}")
    return 1 if args.strict and counts.errors else 0


def cmd_models(args: argparse.Namespace) -> int:
    from .jobs import models

    if args.action == "list":
        rows = models.list_versions()
        if args.json:
            print(json.dumps([r.__dict__ for r in rows], ensure_ascii=False))
        else:
            print(models.format_versions(rows))
    elif args.action == "show":
        print(json.dumps(models.show(args.version), ensure_ascii=False, indent=1))
    else:
        previous, path = models.promote(args.version)
        if previous == str(args.version):
            print(f"version {args.version} is already the champion; {path} checked")
        else:
            print(f"version {args.version} is now the champion (was {previous or 'none'}; recorded on the version "
                  f"as promoted_from); {path} refreshed")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"sectortag {version('sectortag')}"
    except PackageNotFoundError:
        return "sectortag (not installed)"


def cmd_report(args: argparse.Namespace) -> int:
    import pandas as pd

    from .jobs import predict as job
    from .model import SectorTagger
    from .report import write_report

    start = time.perf_counter()
    if not (args.articles or job.is_article_input(args.input)):
        raise SectorTagError(f"report {NEEDS_ARTICLES}")
    if Path(args.output).suffix.lower() not in (".html", ".htm"):
        raise SectorTagError(f"{args.output}: the report is a web page; name the output .html")
    if not 0 <= args.margin < 1:
        raise SectorTagError(f"--margin {args.margin}: must be at least 0 and below 1")
    job.check_paths(args.input, args.output)
    if not Path(args.output).parent.exists():
        raise SectorTagError(f"{args.output}: folder {Path(args.output).parent} does not exist")
    tagger = SectorTagger.load(args.model)
    frames = [tagged for _, tagged in job.tagged_article_batches(tagger, args.input, 5000, args.captions,
                                                                  args.id_column, args.text_column)]
    counts = write_report(tagger, pd.concat(frames, ignore_index=True), args.output, margin=args.margin,
                          source=args.input)
    print(f"report of {counts.articles:,} article{'s' if counts.articles != 1 else ''}, {counts.paragraphs:,} paragraphs, {counts.review:,} to review "
          f"(margin {args.margin:g}) written to {args.output} in {time.perf_counter() - start:.1f} s")
    return 0


def _article_arguments(p: argparse.ArgumentParser) -> None:
    """The options that say how articles are read and which model tags them (predict and report)."""
    p.add_argument("--text-column", default="text", help="the column holding the text (default: text)")
    p.add_argument("--id-column", default="id", help="with --articles: the column naming each article (default: id)")
    p.add_argument("--articles", action="store_true",
                   help="each row of a .jsonl/.csv/.parquet input is a whole article (split into paragraphs)")
    p.add_argument("--captions", choices=("skip", "tag"), default="skip",
                   help="photo captions in articles: skip them (default) or tag them like paragraphs")
    p.add_argument("--model", help="model file or models:/ URI (default: the champion)")


def build_parser() -> argparse.ArgumentParser:
    from .report import DEFAULT_MARGIN

    parser = argparse.ArgumentParser(prog="sectortag", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train on the configured data, log to MLflow, register a version")
    p.add_argument("--config", help="default: training/config.toml of the project")
    p.add_argument("--extra", action="append", help="an extra labelled file for the training split (repeatable)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override one config value")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a model on labelled paragraphs")
    p.add_argument("--data", help="labelled file; default: the test split and ../shared sets when present")
    p.add_argument("--model", help="model file or models:/ URI (default: the champion)")
    p.add_argument("--config", help="default: training/config.toml of the project")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="tag every paragraph of a file, or every article of a folder")
    p.add_argument("--input", required=True,
                   help="paragraphs: .jsonl, .csv, .parquet, or - (JSONL on stdin); whole articles: a .txt or .html "
                        "file, a folder of them, or a quoted glob ('news/*.html')")
    p.add_argument("--output", required=True, help=".jsonl, .csv, .parquet, or - (JSONL on stdout)")
    _article_arguments(p)
    p.add_argument("--summary", help="also write a per-article summary (.csv, .jsonl or .parquet)")
    p.add_argument("--excel", action="store_true", help="CSV with a UTF-8 byte-order mark, for spreadsheet programs")
    p.add_argument("--chunk-size", type=int, default=5000)
    p.add_argument("--n-jobs", type=int, default=None, help="tokenizer processes (-1: all cores)")
    p.add_argument("--strict", action="store_true", help="exit 1 when any row could not be tagged")
    p.add_argument("--explain", action="store_true",
                   help="add why_<code> columns: the terms that pushed each predicted sector's score up")
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="spark: read Parquet/JSONL/CSV (file or folder), write a folder of Parquet parts")
    p.add_argument("--master", help="with --engine spark: local[N], spark://host:7077, yarn (default: local[*], "
                                    "or spark-submit's)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", help="registered versions: list, show one, promote one to champion")
    actions = p.add_subparsers(dest="action", required=True)
    q = actions.add_parser("list", help="versions, aliases, dev/test macro-F1, bundle hash, created, run")
    q.add_argument("--json", action="store_true", help="print one JSON array")
    q = actions.add_parser("show", help="everything about one version")
    q.add_argument("version")
    q = actions.add_parser("promote", help="make VERSION the champion (hash checked; champion file refreshed)")
    q.add_argument("version")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("report", help="one self-contained HTML page of tagged articles, for reading in a browser")
    p.add_argument("--input", required=True,
                   help="a folder of .txt/.html articles, a quoted glob, one article file, or with --articles a "
                        ".jsonl/.csv/.parquet file of one article a row")
    p.add_argument("--output", required=True, help="the page to write (.html)")
    _article_arguments(p)
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                   help="mark a paragraph 'to review' when a sector's score is within this of its threshold "
                        f"(default: {DEFAULT_MARGIN})")
    p.set_defaults(func=cmd_report)
    return parser


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """sectortag's own warnings as one line on stderr (others as Python prints them)."""
    if issubclass(category, ModelMismatchWarning):
        print(f"sectortag: note: {message}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


_show_warning = None


def main(argv: list[str] | None = None) -> int:
    global _show_warning
    import warnings

    args = build_parser().parse_args(argv)
    if _show_warning is None:
        _show_warning = warnings.showwarning
        warnings.showwarning = _note
    try:
        return args.func(args)
    except Interrupted as e:
        print(f"sectortag {args.command}: {e}", file=sys.stderr)
        return 130
    except SectorTagError as e:
        print(f"sectortag {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sectortag {args.command}: interrupted; output files are written only when complete",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
