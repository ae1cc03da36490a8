"""The shipped suites, claims registry and model: installed as the package bench.configs."""
