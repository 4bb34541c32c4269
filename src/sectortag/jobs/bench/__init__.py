"""`make bench`: how fast sectortag tags, measured side by side in one run on this machine.

Measures (see the benchmark issue): underthesea `word_tokenize` alone (the floor), `SectorTagger.predict`
end to end with n_jobs=1, 2 and -1, batch sizes small and large, `sectortag predict` on a 200,000-paragraph
file (wall time, peak RSS) against a 10,000-paragraph one, cold start, model file size, `sectortag train` on
the full dataset, a fastText peer (optional `bench` extra) trained on the same split with the same tokens, and
200,000 distinct paragraphs in one process against Spark local[2] (optional `spark` extra; `--no-spark` skips it).

Everything runs in a temporary folder with its own MLflow store (sqlite) and its own models/: the project's
mlflow.db, mlruns/ and models/ are not touched. Writes reports/bench.json and reports/bench.md. Run it from
the project root:

    python -m sectortag.jobs.bench --shared ../shared           # the full benchmark (about 15 minutes on 2 cores)
    python -m sectortag.jobs.bench --shared ../shared --quick   # a small smoke run (a few minutes), same report format

Modules: `workloads` (the paragraphs measured and the sample files), `measure` (timing, CPU, RSS of
processes, the machine), `peer` (the fastText peer), `spark` (one process vs Spark), `report` (targets and the
markdown table), `run` (the whole flow, `main`).
"""
