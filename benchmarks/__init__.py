"""Speed benchmarks: this project's loop against the report's, on the same machine, in one run."""
