"""The `sectortag` command: train | evaluate | predict. Errors become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .errors import Interrupted, SectorTagError



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
    result = train(args.config, extra=args.extra, overrides=overrides, say=lambda s: print(s, flush=True))
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

        for name, parts in evaluation_sets(load_settings(args.config), include=("ours", "seed", "news", "news_articles")).items():
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

        r = predict_files(args.input, args.output, model=args.model, master=args.master)
        print(f"tagged {r['rows_out']:,} of {r['rows_in']:,} rows into {r['output']} ({r['parts']} Parquet parts, "
              f"Spark {r['master']}); {r['error_rows']:,} rows could not be tagged (see the 'error' column)",
              file=sys.stderr)
        return 1 if args.strict and r["error_rows"] else 0
    from .data import iter_chunks
    from .model import SectorTagger
    from .output import ChunkWriter

    inp, out = Path(args.input), Path(args.output)
    if args.chunk_size < 1:
        raise SectorTagError(f"--chunk-size {args.chunk_size}: must be at least 1")
    if out.exists() and inp.exists() and out.resolve() == inp.resolve():
        raise SectorTagError(f"{out}: the output would overwrite the input; choose another output path")
    if out.is_dir():
        raise SectorTagError(f"{out}: is a folder; give an output file name (.jsonl, .csv or .parquet)")
    if out.parent.exists() and not os.access(out.parent, os.W_OK):
        raise SectorTagError(f"{out}: cannot write into folder {out.parent} (permission denied)")
    tagger = SectorTagger.load(args.model)
    if args.n_jobs is not None:
        tagger.n_jobs = args.n_jobs
    progress = Progress(_count_lines(inp) if inp.is_file() else None)
    rows = errors = 0
    with ChunkWriter(out) as writer:
        for chunk in iter_chunks(inp, args.chunk_size, tagger.min_chars):
            if "labels" in chunk:  # a labelled (or already tagged) file: keep the true labels once
                chunk = chunk.drop(columns="labels") if "labels_true" in chunk else chunk.rename(columns={"labels": "labels_true"})
            tagged = tagger.predict_frame(chunk.drop(columns=[c for c in chunk if str(c).startswith(("score_", "why_"))
                                                              or c == "error"]))
            if args.explain:
                tagged = with_reasons(tagger, tagged)
            writer.write(tagged)
            rows += len(tagged)
            errors += int(tagged["error"].notna().sum())
            progress.update(len(tagged))
    progress.close()
    print(f"tagged {rows:,} rows into {out}; {errors:,} rows could not be tagged (see the 'error' column)",
          file=sys.stderr)
    if inp.suffix.lower() == ".txt":
        from .text import short_lines, unwrap

        dropped = short_lines(unwrap(inp.read_text(encoding="utf-8")), tagger.min_chars)
        if dropped:
            print(f"{dropped:,} lines shorter than {tagger.min_chars} characters (captions, bylines, headings) were "
                  f"not tagged", file=sys.stderr)
    return 1 if args.strict and errors else 0


def with_reasons(tagger, tagged, top: int = 5):
    """Add `why_<code>` per sector: for each predicted sector, the terms that pushed its score up the most,
    as "term (+contribution), …"; empty where the sector was not predicted."""
    texts = [t if isinstance(t, str) else "" for t in tagged["text"]]
    reasons = tagger.explain(texts, top=top)
    for code in tagger.labels_:
        tagged[f"why_{code}"] = [
            ", ".join(f"{term} ({c:+.2f})" for term, c in why[code]["up"]) if code in labels else None
            for why, labels in zip(reasons, tagged["labels"])
        ]
    return tagged


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sectortag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train on the configured data, log to MLflow, register a version")
    p.add_argument("--config", default="training/config.toml")
    p.add_argument("--extra", action="append", help="an extra labelled file for the training split (repeatable)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override one config value")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a model on labelled paragraphs")
    p.add_argument("--data", help="labelled file; default: the test split and ../shared sets when present")
    p.add_argument("--model", help="model file or models:/ URI (default: the champion)")
    p.add_argument("--config", default="training/config.toml")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="tag every paragraph of a file")
    p.add_argument("--input", required=True, help=".jsonl, .csv, .parquet or a .txt article")
    p.add_argument("--output", required=True, help=".jsonl, .csv or .parquet")
    p.add_argument("--model", help="model file or models:/ URI (default: the champion)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
