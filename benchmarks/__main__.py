"""python -m benchmarks: see benchmarks/speed.py, or python -m benchmarks --help;
python -m benchmarks --project REPORT|all: see benchmarks/project.py;
python -m benchmarks --startup: see benchmarks/startup.py."""
import sys

# The projection has its own options; --project picks it, as the speed benchmark's --help says.
if any(a == "--project" or a.startswith("--project=") for a in sys.argv[1:]):
    from benchmarks.project import main
elif "--startup" in sys.argv[1:]:
    from benchmarks.startup import main
else:
    from benchmarks.speed import main

sys.exit(main())
