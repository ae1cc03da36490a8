"""Workload kernels: pure compute against an array namespace `xp`, plus ONNX graph builders."""
