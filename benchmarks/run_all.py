"""Run every benchmark (make bench)."""
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
for script in ("bench_frames.py", "bench_early_warning.py", "bench_render.py"):
    print(f"== {script}")
    subprocess.run([sys.executable, str(here / script)], check=False)
