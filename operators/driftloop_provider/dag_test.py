"""``airflow dags test``, without the interpreter's teardown once the run has ended.

``python -m driftloop_provider.dag_test DAG_ID [airflow dags test arguments]`` runs Airflow's
own command. A ``dags test`` process holds Airflow, GX, pandas, XGBoost and whylogs, and
tearing that interpreter down (freeing every module and object) took 2-3 s after the run had
ended, which every ``driftloop ingest`` and ``train`` waited for. Here the exit handlers run,
logging and the standard streams are flushed, and the process leaves with ``os._exit``.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import traceback
from typing import NoReturn


def main(args: list[str]) -> NoReturn:
    """Run ``airflow dags test`` with ``args``; exit with its status."""
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", "dags", "test", *args]
    code = 0
    try:
        airflow_main()
    except SystemExit as stop:
        if isinstance(stop.code, int):
            code = stop.code
        elif stop.code:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()  # what a normal exit runs first; only the teardown is skipped
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
