"""python -m benchmarks: see benchmarks/speed.py, or python -m benchmarks --help."""
import sys

from benchmarks.speed import main

sys.exit(main())
