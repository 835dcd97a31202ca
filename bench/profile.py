"""Profile the in-process hook for one patient with pyinstrument.

    python -m bench.profile heavy [--config deployed|off] [--iterations N]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pyinstrument import Profiler

from .features import CONFIG_NAMES, EXTRA_CONFIG_NAMES, Available, build_config
from .inprocess import HOOK_PATH, TEST_CLIENT_BASE
from .patients import PATIENT_NAMES, make_patient
from .run import RESULTS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("patient", choices=PATIENT_NAMES)
    parser.add_argument("--config", choices=CONFIG_NAMES + EXTRA_CONFIG_NAMES, default="deployed")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.0005,
                        help="sampling interval in seconds")
    args = parser.parse_args(argv)

    from service import create_app

    patient = make_patient(args.patient)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = RESULTS_DIR / f"profile-{args.patient}-{args.config}-{stamp}"
    with tempfile.TemporaryDirectory(prefix="mcas-bench-profile-") as tmp:
        from .features import TokenMint

        config = build_config(args.config, Available.detect(), Path(tmp), TokenMint())
        headers = config.headers(TEST_CLIENT_BASE + HOOK_PATH)
        headers.prepare(args.iterations + 3)
        with (Path(tmp) / "service.log").open("w") as log, contextlib.redirect_stderr(log):
            app = create_app(dict(config.settings))
            client = app.test_client()
            for _ in range(3):  # warm-up outside the profile
                client.post(HOOK_PATH, data=patient.body, headers=headers())
            profiler = Profiler(interval=args.interval)
            with profiler:
                for _ in range(args.iterations):
                    response = client.post(HOOK_PATH, data=patient.body, headers=headers())
                    if response.status_code != 200:
                        print(f"status {response.status_code}", file=sys.stdout)
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    stem.with_suffix(".txt").write_text(text, encoding="utf-8")
    stem.with_suffix(".html").write_text(profiler.output_html(), encoding="utf-8")
    print(text)
    print(f"profile: {stem}.txt / .html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
