"""A studio training job's own process: ``python -m artforge.studio.train_worker JOB_DIR`` runs ``api.train`` as
``artforge train`` does (a new run, or ``--resume`` of the job's run), in its main thread, so that SIGINT is the
CLI's Ctrl-C: the loop stops at the next step and writes a checkpoint. The request is ``JOB_DIR/train-request.json``;
the outcome goes to ``JOB_DIR/train-result.json``. A lock file keeps two processes off one run, and when the server
that started it dies (``kill -9``) the process stops itself the same clean way."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from artforge import api

REQUEST, RESULT, LOCK = "train-request.json", "train-result.json", "train.lock"
LOCK_WAIT_S = 120.0  # a stopping orphan of a killed server may need this long to write its checkpoint


def _watch_parent(parent: int) -> None:
    """SIGINT to this process (a clean stop) once the server that started it is gone."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGINT)


def _write(folder: Path, result: dict[str, Any]) -> None:
    tmp = folder / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, folder / RESULT)


def _lock(folder: Path) -> Any:
    """An exclusive lock on the job's run, waiting for a previous process (an orphan that is stopping) to let go."""
    f = open(folder / LOCK, "a")  # noqa: SIM115 - held until this process ends
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise api.ArtforgeError("another process still trains this run; try again in a minute") from None
            time.sleep(0.5)


def run(folder: Path) -> int:
    request = json.loads((folder / REQUEST).read_text(encoding="utf-8"))
    threading.Thread(target=_watch_parent, args=(int(request["parent"]),), daemon=True).start()
    try:
        held = _lock(folder)
        if request.get("resume"):
            last = api.train(resume=request["resume"], progress=False, **request["overrides"])
        else:
            cfg = api.TrainConfig.from_dict(request["config"])
            last = api.train(cfg, out=folder / "runs", progress=False)
    except api.TrainingInterrupted as e:
        _write(folder, {"status": "interrupted", "checkpoint": str(e.checkpoint)})
        return 130
    except api.ArtforgeError as e:
        _write(folder, {"status": "failed", "error": str(e).splitlines()[0] if str(e) else "error"})
        return 1
    except KeyboardInterrupt:  # stopped before the training loop began: nothing to keep
        _write(folder, {"status": "interrupted", "checkpoint": None})
        return 130
    except Exception as e:  # noqa: BLE001 - the log keeps the trace, the page gets one line
        traceback.print_exc()
        _write(folder, {"status": "failed", "error": f"{type(e).__name__}: {e}".splitlines()[0]})
        return 1
    held.close()
    _write(folder, {"status": "done", "checkpoint": str(last)})
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
