"""The store's CLI end to end on a SQLite store: db upgrade, tokens, ingest, review, lookup, pay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from detector.cli import main_group
from detector.store.db import HEAD_REVISION
from tests.store.support import Keys


def _run(runner: CliRunner, *args: str) -> tuple[int, object]:
    r = runner.invoke(main_group, list(args), catch_exceptions=False)
    try:
        return r.exit_code, json.loads(r.stdout)
    except ValueError:
        return r.exit_code, r.output


def test_cli_flow(tmp_path: Path, keys: Keys, bundles: list[Path]) -> None:
    cfg = tmp_path / "store.yaml"
    cfg.write_text(
        f"url: sqlite:///store.db\nevidence_dir: ev\nquarantine_dir: q\ntrusted_keys: {keys.trusted_dir}\n"
    )
    runner = CliRunner()
    c = ["--store-config", str(cfg)]
    assert _run(runner, "db", "upgrade", *c) == (0, {"revision": HEAD_REVISION})
    code, tok = _run(runner, "tokens", "create", *c, "--role", "reviewer", "--name", "ann", "--days", "1")
    assert (
        code == 0 and isinstance(tok, dict) and tok["token"].startswith("dtk_") and tok["role"] == "reviewer"
    )

    bad = tmp_path / "bad"
    shutil.copytree(bundles[1], bad)
    (bad / "before.jpg").write_bytes(b"edited")
    code, out = _run(runner, "ingest", *c, "--actor", "edge-1", str(bundles[0]), str(bad))
    assert code == 1 and isinstance(out, list)
    assert [o["status"] for o in out] == ["accepted", "rejected"]
    vid = out[0]["violation_id"]

    code, pending = _run(runner, "review", "list", *c)
    assert code == 0 and isinstance(pending, list) and [v["id"] for v in pending] == [vid]
    code, res = _run(runner, "review", "confirm", *c, str(vid), "--actor", "ann", "--reason", "clear")
    assert code == 0 and isinstance(res, dict) and res["fine"]["amount_due_vnd"] == 19_000_000
    code, fines = _run(runner, "fines", "lookup", *c, "51f 123.45")
    assert code == 0 and isinstance(fines, list) and len(fines) == 1
    fid = str(fines[0]["fine_id"])
    code, receipt = _run(runner, "fines", "pay", *c, fid, "--amount", "19000000", "--key", "cli-1")
    assert code == 0 and isinstance(receipt, dict) and not receipt["replayed"]
    code, again = _run(runner, "fines", "pay", *c, fid, "--amount", "19000000", "--key", "cli-1")
    assert code == 0 and isinstance(again, dict) and again["replayed"]
    assert (tmp_path / "store.db").is_file() and (tmp_path / "q").is_dir()

    # the edge box re-ingests its whole evidence root: known bundles are duplicates, new ones accepted
    code, out = _run(runner, "ingest", *c, "--root", str(bundles[0].parent.parent))
    assert code == 0 and isinstance(out, list)
    assert [o["status"] for o in out] == ["duplicate", "accepted", "accepted", "accepted"]
    assert _run(runner, "ingest", *c)[0] == 2  # nothing to ingest is a usage error
