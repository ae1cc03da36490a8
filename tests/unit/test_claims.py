"""The claims registry, its validation (with line numbers), verdict rules and evidence adapters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.claims import registry as claims
from bench.claims import verdicts
from bench.claims.ceilings import Ceiling, bound_of, fraction_of_ceiling
from bench.claims.evidence import (
    Evidence,
    RemoteObservation,
    gather,
    remote_observation,
    vendor_of,
)
from bench.core.errors import ConfigError
from bench.core.records import CaseResult, RunConfig, RunRecord

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = ROOT / "configs" / "claims.toml"
# The seeds sit beside the checkout (../shared), or beside the worktrees' folder.
SEEDS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "seeds", ROOT.parents[1] / "shared" / "seeds")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "seeds",
)
FIGURES_MD_CLAIMS = (
    "groq-riyadh-latency",
    "groq-riyadh-lpus",
    "groq-riyadh-largest-inference",
    "groq-riyadh-largest-datacentre",
    "groq-riyadh-funding",
    "groq-speed-inference",
    "frontier-models-q1-2025",
    "openai-fabs-capital",
    "openai-fabs-7t",
    "oreus-grenoble-gpus",
    "oreus-europe-most-powerful",
    "g42-cerebras-cluster",
    "nvidia-hopper-supply",
)


@pytest.fixture(scope="module")
def reg() -> claims.Registry:
    return claims.load(REGISTRY)


def test_registry_holds_every_claim_of_figures_md(reg):
    assert tuple(c.id for c in reg.claims) == FIGURES_MD_CLAIMS
    assert len(reg.figures) == 39
    for e in (*reg.claims, *reg.figures):
        assert e.sources and e.date, e.id
        assert e.test != "none" or e.reason, e.id
    for c in reg.claims:
        assert c.quote_fr and c.quote_en and c.sources[0].endswith(".txt"), c.id


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed articles (../shared/seeds) are not here")
def test_every_french_quote_is_verbatim_in_its_article(reg):
    for c in reg.claims:
        text = " ".join(_normal((SEEDS / s).read_text(encoding="utf-8")) for s in c.sources)
        for fragment in c.quote_fr.split(claims.QUOTE_JOIN):
            assert _normal(fragment) in text, (c.id, fragment)


def test_datasheet_figures_keep_dense_and_sparse_apart(reg):
    dense = reg.figure("h100-sxm-bf16-dense")
    sparse = reg.figure("h100-sxm-bf16-sparse")
    assert dense.si() == 989e12 and sparse.si() == 1979e12
    assert sparse.test == "none"
    sheet = claims.datasheet_ceilings(reg, "h100-sxm", "cupy")
    assert {(c.kind, c.dtype, c.per_s) for c in sheet} == {
        ("matrix", "float16", 989e12),
        ("matrix", "bfloat16", 989e12),
        ("matrix", "float8", 1979e12),
        ("memory", "", 3.35e12),
    }


def test_devices_match_measured_names(reg):
    assert reg.match_device("NVIDIA H100 80GB HBM3").id == "h100-sxm"
    assert reg.match_device("NVIDIA H100 PCIe").id == "h100-pcie"
    assert reg.match_device("NVIDIA H200").id == "h200-sxm"
    assert reg.match_device("nvidia  h200").id == "h200-sxm"  # case and spacing aside
    assert reg.match_device("AMD EPYC 7B13") is None


@pytest.mark.parametrize(
    "name", ["NVIDIA GH200 480GB", "NVIDIA H200 NVL", "NVIDIA H100 NVL", "NVIDIA H100 80GB HBM3e"]
)
def test_other_products_never_match_by_a_fragment(reg, name):
    # GH200: 96 GB HBM3, ~4 TB/s; H200 NVL: 600 W, lower clocks: other datasheets entirely
    assert reg.match_device(name) is None


def test_speech_and_money_claims_are_never_tested_by_a_measurement(reg):
    by_id = {c.id: c for c in reg.claims}
    for cid in ("groq-speed-inference", "g42-cerebras-cluster", "openai-fabs-7t"):
        assert by_id[cid].test == "none" and not by_id[cid].compare_to, cid
    speed = by_id["groq-speed-inference"]
    assert "l'hypothèse que les futures applications" in speed.quote_fr  # the hedge is kept
    assert "not a quote of Ian Andrews" in speed.conditions["speaker"]
    assert "dénié" in by_id["openai-fabs-7t"].quote_fr  # the denial beside the figure
    assert by_id["openai-fabs-capital"].sources == ("002_f2c2cef0a5ffc3ff.txt",)  # no splice


def test_a_test_can_only_hold_its_own_kind_of_metric():
    money = GOOD.replace('test = "none"', 'test = "remote_speed"\nvendor = "groq"')
    msg = _error(money)
    assert msg.startswith("claims.toml:12: claim 'a': test 'remote_speed' cannot hold metric")
    assert "(it tests: output_speed, ttft)" in msg
    borrowed = GOOD.replace('metric = "device_count"', 'metric = "population_within_latency"')
    borrowed = borrowed.replace('unit = "devices"', 'unit = "people"')
    borrowed = borrowed.replace('test = "none"', 'test = "reach"\ncompare_to = ["f"]')
    assert "compare_to 'f' measures 'memory_bandwidth'" in _error(borrowed)


def test_stated_values(reg):
    by_id = {c.id: c for c in reg.claims}
    assert by_id["groq-riyadh-latency"].stated() == ">= 4 billion people"
    assert by_id["oreus-grenoble-gpus"].stated() == "~8,500 devices (±5%)"
    assert by_id["groq-riyadh-lpus"].stated() == ">= 18,000 devices"
    assert by_id["openai-fabs-capital"].stated() == "5 trillion-7 trillion USD"
    assert reg.figure("h100-sxm-bandwidth").stated() == "3.35 TB/s"


# --- validation, with the line of the problem ---

GOOD = """\
schema = 1

[[claim]]
id = "a"
source = "000.txt"
quote_fr = "bonjour"
quote_en = "hello"
metric = "device_count"
value = 10
unit = "devices"
date = "2024"
test = "none"
reason = "context"

[[device]]
id = "d"
name = "D"
match = ["D"]

[[figure]]
id = "f"
source = "datasheet"
device = "d"
metric = "memory_bandwidth"
value = 1.0
unit = "TB/s"
date = "2024-01"
test = "ceiling"
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        claims.parse(text, "claims.toml")
    return str(info.value)


def test_the_minimal_registry_is_valid():
    reg = claims.parse(GOOD, "claims.toml")
    assert [c.line for c in reg.claims] == [3]
    assert [f.line for f in reg.figures] == [20]


def test_unknown_metric_names_its_line():
    msg = _error(GOOD.replace('metric = "device_count"', 'metric = "speed"'))
    assert msg.startswith("claims.toml:8: claim 'a': unknown metric 'speed' (known: ")


def test_unknown_unit_names_its_line_and_the_known_units():
    msg = _error(GOOD.replace('unit = "TB/s"', 'unit = "TiB/s"'))
    assert msg.startswith("claims.toml:26: figure 'f': unknown unit 'TiB/s' for metric")
    assert "GB/s, TB/s, PB/s" in msg


def test_missing_source_names_the_table_line():
    msg = _error(GOOD.replace('source = "000.txt"\n', ""))
    assert msg == "claims.toml:3: claim 'a': missing 'source': every claim needs one"


def test_missing_or_empty_quote():
    msg = _error(GOOD.replace('quote_fr = "bonjour"\n', ""))
    assert msg == "claims.toml:3: claim 'a': missing 'quote_fr': every claim needs one"
    msg = _error(GOOD.replace('quote_en = "hello"', 'quote_en = ""'))
    assert "missing 'quote_en'" in msg


def test_duplicate_id_names_both_lines():
    msg = _error(GOOD.replace('id = "f"', 'id = "a"'))
    assert msg == "claims.toml:20: duplicate id 'a' (first at line 3)"


def test_other_mistakes_are_clear():
    assert "unknown key 'vaule'" in _error(GOOD.replace("value = 10", "vaule = 10"))
    assert "claims.toml:11:" in _error(GOOD.replace('date = "2024"', 'date = "last year"'))
    assert "needs a 'reason'" in _error(GOOD.replace('reason = "context"\n', ""))
    grok = GOOD.replace('reason = "context"', 'reason = "x"\nvendor = "grok"')
    assert "unknown vendor 'grok' (known: openai, groq, cerebras, synthetic)" in _error(grok)
    assert "unknown device 'zz'" in _error(GOOD.replace('device = "d"', 'device = "zz"'))
    assert "must be a non-negative number" in _error(GOOD.replace("value = 10", 'value = "10"'))
    assert "malformed TOML" in _error(GOOD + "\n[[claim]\n")
    bad_compare = GOOD.replace('reason = "context"', 'reason = "x"\ncompare_to = ["nope"]')
    assert "claims.toml:14: claim 'a': compare_to names no figure 'nope'" in _error(bad_compare)


def test_load_names_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the claims registry"):
        claims.load(tmp_path / "none.toml")


# --- verdict rules at their boundaries ---

POLICY = claims.VerdictPolicy(supported_at=0.9, partly_at=0.5)


@pytest.mark.parametrize(
    ("bound", "tolerance", "value", "verdict"),
    [
        ("at_least", None, 3.83 / 4, "partly supported"),  # 3.83 billion is not "4 billion"
        ("at_least", None, 1.0, "supported"),
        ("at_most", None, 0.99, "partly supported"),
        ("about", 0.05, 0.95, "supported"),
        ("about", 0.05, 0.9499, "partly supported"),
        ("about", None, 0.9, "supported"),  # no stated band: the registry's supported_at
        ("exact", None, 0.8999, "partly supported"),
        ("range", None, 0.4, "contradicted"),
    ],
)
def test_bounds_are_read_as_stated(bound, tolerance, value, verdict):
    assert claims.bounded_verdict(value, bound, tolerance, POLICY) == verdict


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        (2.0, "supported"),
        (0.9, "supported"),
        (0.8999999, "partly supported"),
        (0.5, "partly supported"),
        (0.4999999, "contradicted"),
        (0.0, "contradicted"),
    ],
)
def test_verdict_boundaries(value, verdict):
    assert claims.verdict_for(value, POLICY) == verdict


def test_verdict_rejects_nan_and_ratio_direction():
    with pytest.raises(ValueError, match="NaN"):
        claims.verdict_for(float("nan"), POLICY)
    assert claims.ratio(100.0, 90.0, "output_speed") == pytest.approx(0.9)
    assert claims.ratio(0.24, 0.48, "ttft") == pytest.approx(0.5)  # twice as slow
    assert claims.ratio(0.24, 0.12, "ttft") == pytest.approx(2.0)


def test_policy_is_read_from_the_registry():
    text = GOOD.replace(
        "schema = 1\n", "schema = 1\n[verdict]\nsupported_at = 0.8\npartly_at = 0.4\n"
    )
    assert claims.parse(text, "x").policy == claims.VerdictPolicy(0.8, 0.4)
    bad = GOOD.replace("schema = 1\n", "schema = 1\n[verdict]\nsupported_at = 0.3\n")
    assert "partly_at <= supported_at" in _error(bad)


# --- evidence: the remote adapter and the ceilings ---


def _case(**kw) -> CaseResult:
    base = dict(
        case_id="c",
        workload="chat",
        params={},
        backend="groq",
        options={},
        scenario="latency",
        status="ok",
    )
    return CaseResult(**{**base, **kw})


def test_remote_adapter_reads_flat_and_nested_figures():
    flat = _case(
        params={"model": "llama-3.1-8b-instant"},
        details={
            "ttft_s": 0.21,
            "output_tokens_per_s": 512.0,
            "x_groq_usage": {"queue_time": 0.01, "prompt_time": 0.02},
        },
    )
    obs = remote_observation(flat, "groq", "run1", "accelbench run configs/groq.toml")
    assert (obs.vendor, obs.model, obs.ttft_s, obs.output_tokens_per_s) == (
        "groq",
        "llama-3.1-8b-instant",
        0.21,
        512.0,
    )
    assert obs.server_ttft_s == pytest.approx(0.03)
    nested = _case(
        backend="openai",
        options={"base_url": "https://api.cerebras.ai/v1"},
        details={"ttft": {"median_s": 0.3}, "output_speed": {"median": 1500.0}, "model": "m"},
    )
    obs = remote_observation(nested, "cerebras", "run2", "cmd")
    assert (obs.vendor, obs.ttft_s, obs.output_tokens_per_s) == ("cerebras", 0.3, 1500.0)
    assert remote_observation(_case(backend="numpy"), None, "r", "c") is None
    failed = _case(status="failed", details={"ttft_s": 1})
    assert remote_observation(failed, "groq", "r", "c") is None


def _run(backends: dict, *cases: CaseResult) -> RunRecord:
    return RunRecord("r", "2026-01-01", RunConfig(kind="run"), {}, backends=backends, cases=cases)


def test_the_vendor_comes_from_the_backend_description_never_a_url():
    at_cerebras = _case(backend="openai", options={"base_url": "https://api.cerebras.ai/v1"})
    described = _run({"openai": {"vendor": "openai", "base_url": "https://api.cerebras.ai/v1"}})
    assert vendor_of(described, at_cerebras) == "openai"
    renamed = _case(backend="my-endpoint")
    assert vendor_of(_run({"my-endpoint": {"vendor": "groq"}}), renamed) == "groq"
    # files written before descriptions carried the vendor: the backend's name decides
    assert vendor_of(_run({"groq": {"version": "0.1"}}), _case(backend="groq")) == "groq"
    assert vendor_of(_run({}), _case(backend="synthetic")) == "synthetic"
    assert vendor_of(_run({}), _case(backend="groq-mirror")) is None  # no prefix matching
    assert vendor_of(_run({"numpy": {"device": "cpu"}}), _case(backend="numpy")) is None
    ttft = {"details": {"ttft_s": 0.2, "output_tokens_per_s": 100.0}}
    record = _run({"custom": {"vendor": "cerebras"}}, _case(backend="custom", **ttft))
    (obs,) = gather([record]).remote
    assert (obs.vendor, obs.backend) == ("cerebras", "custom")


def test_fraction_of_ceiling_uses_the_roofline():
    ceilings = [
        Ceiling("numpy", "cpu", "matrix", "float32", 100e9, "gemm", "cal"),
        Ceiling("numpy", "cpu", "memory", "float32", 20e9, "copy", "cal"),
    ]
    gemm = _case(backend="numpy", params={"dtype": "float32"}, gflops_per_s=80.0, gb_per_s=1.0)
    gemm = CaseResult(**{**gemm.__dict__, "intensity_flop_per_byte": 80.0})
    assert fraction_of_ceiling(gemm, ceilings) == pytest.approx(0.8)
    assert bound_of(gemm, ceilings) == "compute"  # ridge at 5 FLOP/byte
    # intensity 0.5: the roof is 0.5 x 20 GB/s = 10 GFLOP/s
    triad = CaseResult(
        **{**gemm.__dict__, "gflops_per_s": 5.0, "gb_per_s": 10.0, "intensity_flop_per_byte": 0.5}
    )
    assert fraction_of_ceiling(triad, ceilings) == pytest.approx(0.5)
    assert bound_of(triad, ceilings) == "memory"
    copy = _case(backend="numpy", params={"dtype": "float32"}, gb_per_s=15.0)
    assert fraction_of_ceiling(copy, ceilings) == pytest.approx(0.75)
    assert fraction_of_ceiling(_case(backend="onnxruntime", gb_per_s=1.0), ceilings) is None
    # the roof is the device's: another backend's better copy on the same CPU raises it
    faster = [*ceilings, Ceiling("onnxruntime", "cpu", "memory", "float32", 30e9, "copy", "c")]
    assert fraction_of_ceiling(copy, faster) == pytest.approx(0.5)
    elsewhere = [*ceilings, Ceiling("cupy", "H100", "memory", "float32", 3e12, "copy", "c")]
    assert fraction_of_ceiling(copy, elsewhere) == pytest.approx(0.75)


# --- rows from evidence ---


def _rows(reg, evidence) -> dict[str, verdicts.Row]:
    return {r.id: r for r in verdicts.build(reg, evidence, None).rows}


def test_rows_without_evidence_say_what_would_measure_them(reg):
    rows = _rows(reg, Evidence())
    assert rows["groq-riyadh-funding"].verdict == claims.NOT_TESTABLE
    assert (
        rows["groq-riyadh-funding"].note == "an investment and a schedule, not a performance claim"
    )
    assert rows["groq-speed-inference"].verdict == claims.NOT_TESTABLE
    assert "l'hypothèse" in rows["groq-speed-inference"].quote_fr
    assert rows["h100-sxm-bf16-dense"].verdict == "not yet measured"
    assert "on a NVIDIA H100 SXM" in rows["h100-sxm-bf16-dense"].command
    assert rows["groq-riyadh-latency"].verdict == "not yet measured"  # no gazetteer given
    assert rows["groq-riyadh-lpus"].verdict == claims.NOT_TESTABLE
    lpus = rows["groq-riyadh-lpus"]
    # 614 LPUs hold the weights alone; with an 8K-token KV cache a copy takes 626: 28 copies
    assert lpus.measured == (
        "derived: 28-1,489 concurrent users at 50 tokens/s (llama-3.1-70b, 8,192-token context;"
        " limited by memory)"
    )
    assert (
        "614 x 230 MB hold the 141.1 GB of weights alone, leaving 112.6 MB: no room for one"
        " user's 2.684 GB KV cache; 626 per copy with one"
    ) in lpus.note


def test_remote_rows_compare_measured_speed_with_the_published_one(reg):
    obs = RemoteObservation(
        "groq", "groq", "llama-3.1-8b-instant", 0.2, 504.0, None, "run1", "case1", "cmd"
    )
    rows = _rows(reg, Evidence(remote=(obs,)))
    row = rows["groqcloud-llama-3.1-8b-speed"]
    assert row.ratio == pytest.approx(504 / 560) and row.verdict == "supported"
    assert row.evidence == "run run1, case case1" and row.command == "cmd"
    # a strategy statement and an investment never borrow a verdict from token speed
    assert rows["groq-speed-inference"].verdict == claims.NOT_TESTABLE
    assert rows["groq-speed-inference"].ratio is None
    assert rows["groqcloud-llama-3.3-70b-speed"].verdict == "not yet measured"
    slow = RemoteObservation(
        "groq", "groq", "llama-3.1-8b-instant", 0.2, 280.0, None, "r", "c", "x"
    )
    assert _rows(reg, Evidence(remote=(slow,)))["groqcloud-llama-3.1-8b-speed"].verdict == (
        "partly supported"
    )
    slow = RemoteObservation("cerebras", "cerebras", "llama3.1-8b", 0.5, 800.0, None, "r", "c", "x")
    rows = _rows(reg, Evidence(remote=(slow,)))
    assert rows["cerebras-inference-llama-3.1-8b-speed"].verdict == "contradicted"
    fast = RemoteObservation(
        "cerebras", "cerebras", "llama3.1-8b", 0.2, 1700.0, None, "r", "c", "x"
    )
    rows_fast = _rows(reg, Evidence(remote=(fast,)))
    assert rows_fast["cerebras-inference-llama-3.1-8b-speed"].verdict == "supported"
    for r in (rows, rows_fast):
        assert r["g42-cerebras-cluster"].verdict == claims.NOT_TESTABLE
        assert r["g42-cerebras-cluster"].ratio is None


def test_historical_figures_and_fp8_say_why_they_cannot_be_measured(reg):
    rows = _rows(reg, Evidence())
    row = rows["cerebras-inference-llama-3.1-8b-speed"]
    assert row.verdict == claims.NOT_TESTABLE and "retired llama3.1-8b" in row.note
    assert "no longer served on GroqCloud" in rows["groq-llama-2-70b-speed"].note
    fp8 = rows["h100-sxm-fp8-dense"]
    assert fp8.verdict == claims.NOT_TESTABLE
    assert fp8.note == "accelbench has no fp8 GEMM (its GEMM dtypes: float16, float32, float64)"


def test_the_wse3_peak_is_never_a_dense_fp16_peak(reg):
    peak = reg.figure("cerebras-wse-3-peak")
    assert (peak.precision, peak.sparsity) == ("not stated", "not stated")
    from bench.claims.fleet import device_figures

    figures = device_figures(reg, "cerebras-wse-3", "llama-3.1-70b", Evidence())
    assert figures.peak_flops == 0.0 and figures.peak_origin == ""


def test_groq_chip_figures_cite_the_product_brief(reg):
    for fid in ("groq-lpu-int8", "groq-lpu-fp16", "groq-lpu-sram", "groq-lpu-sram-bandwidth"):
        assert reg.figure(fid).source.startswith("Groq, GroqChip processor product brief"), fid


def test_ceiling_rows_compare_a_matching_device_only(reg):
    h100 = Ceiling(
        "cupy", "NVIDIA H100 80GB HBM3", "matrix", "float16", 700e12, "gemm", "cal1", "g"
    )
    cpu = Ceiling("numpy", "AMD EPYC", "matrix", "float16", 1e12, "gemm", "cal1", "g")
    rows = _rows(reg, Evidence(ceilings=(h100, cpu)))
    row = rows["h100-sxm-bf16-dense"]
    assert row.ratio == pytest.approx(700 / 989) and row.verdict == "partly supported"
    assert rows["h200-sxm-bf16-dense"].verdict == "not yet measured"
    assert "AMD EPYC" in rows["h200-sxm-bf16-dense"].note


def test_decoder_cases_at_llama_shapes_become_projections(reg):
    from bench.claims import evidence
    from bench.core.records import RunConfig, RunRecord
    from bench.core.stats import summarize
    from kernels import decoder

    params = {**decoder.PRESETS["llama-3.1-8b"], "batch": 1, "dtype": "float16"}
    layer = _case(
        workload="decoder",
        backend="numpy",
        params=params,
        stats=summarize([0.02, 0.021, 0.019]),
        bytes_moved=decoder.bytes_moved(params),
    )
    triad = _case(workload="triad", backend="numpy", params={"dtype": "float32"}, gb_per_s=25.0)
    config = RunConfig(kind="run", source="configs/x.toml")
    record = RunRecord("r1", "t", config, {}, {"numpy": {"device": "cpu"}})
    record = record.with_case(layer).with_case(triad)
    ev = evidence.gather([record])
    (timing,) = ev.layers
    assert (timing.model, timing.layer_s, timing.kv_len) == ("llama-3.1-8b", 0.02, 1024)
    report = verdicts.build(reg, ev, None)
    (p,) = report.decoder
    assert p.bandwidth_per_s == 25e9 and "not a calibrated ceiling" in p.bandwidth_origin
    assert p.tokens_per_s == pytest.approx(1 / (32 * 0.02 + p.head_s))
    published = dict(report.published)["llama-3.1-8b"]
    assert {f.id for f in published} == {
        "groqcloud-llama-3.1-8b-speed",
        "cerebras-inference-llama-3.1-8b-speed",
    }
    # a batch-4 layer or a non-Llama shape is no single-stream projection
    other = _case(workload="decoder", params={**params, "batch": 4}, stats=layer.stats)
    assert evidence.layer_timing(record, other) is None


def _hand_gazetteer(home: float):
    from bench.claims import geo

    places = [
        geo.City("Riyadh", "SA", 24.69, 46.72, 5e6),
        geo.City("Dammam", "SA", 26.43, 50.10, 1e6),
        geo.City("Far", "XX", 24.69, 46.72 + 50.0, 1e6),  # ~5,000 km east
    ]
    far_km = float(geo.haversine_km(24.69, 46.72, 24.69, 96.72))
    return geo.scale_to_countries(places, {"SA": home, "XX": 1e9}, "hand-made"), far_km


def _reach_rows(reg, evidence, gaz):
    report = verdicts.build(reg, evidence, gaz)
    return report, {r.id: r for r in report.rows}


def test_reach_gives_a_physics_row_and_a_measured_row(reg):
    gaz, far_km = _hand_gazetteer(3.9e9)
    groq = RemoteObservation(
        "groq", "groq", "llama-3.1-8b-instant", 0.3, 500.0, 0.04, "g1", "c", "x"
    )
    synth = RemoteObservation("synthetic", "synthetic", "s", 0.02, 100.0, 0.02, "s1", "c", "y")
    report, rows = _reach_rows(reg, Evidence(remote=(synth, groq)), gaz)
    physics, measured = rows["groq-riyadh-latency"], rows["groq-riyadh-latency:measured"]
    # propagation only: 100 / 2 x 200 / 1.5 = 6,667 km takes in "Far": 4.9 billion >= 4
    assert (physics.evidence_type, physics.verdict) == ("physics", "supported")
    assert physics.measured == "4.90 billion within 6,667 km"
    assert "server 0 ms (propagation only)" in physics.evidence
    # 4 billion need "Far": 2 x far_km / 200 ms at route factor 1, so the flip is at 100 / that
    assert physics.flips == (
        f"holds for route factor <= {100 / (2 * far_km / 200):.3g} (round trip, no server time)"
    )
    # Groq's own 40 ms off the budget: (100 - 40) / 2 x 200 / 1.5 = 4,000 km: 3.9 billion < 4
    assert measured.evidence_type == "measured" and measured.verdict == "partly supported"
    assert measured.measured == "3.90 billion within 4,000 km"
    assert "server 40 ms (groq server-side time, run g1)" in measured.evidence
    assert measured.flips.startswith(f"holds for route factor <= {60 / (2 * far_km / 200):.3g}")
    assert "with 20 ms server time (synthetic server-side time, run s1): 4.90 billion" in (
        measured.note
    )
    assert "bound 'at least': supported only at ratio >= 1" in physics.note
    origins = {c.server_origin for c in report.reach.cases}
    assert origins == {"", "synthetic server-side time, run s1", "groq server-side time, run g1"}


def test_the_physics_row_fails_when_the_route_is_longer(reg):
    from bench.claims import geo
    from bench.claims.rows import Assumptions

    gaz, far_km = _hand_gazetteer(3.9e9)
    budget = geo.LatencyBudget(100.0, True, geo.FIBRE_KM_PER_MS, 2.0)
    report = verdicts.build(reg, Evidence(), gaz, Assumptions(budget=budget))
    physics = {r.id: r for r in report.rows}["groq-riyadh-latency"]
    # 100 / 2 x 200 / 2 = 5,000 km stops short of "Far" (~5,050 km): 3.9 billion < 4
    assert far_km > 5000 and physics.measured == "3.90 billion within 5,000 km"
    assert physics.verdict == "partly supported" and physics.ratio == pytest.approx(3.9 / 4)
    assert physics.flips.startswith(f"holds for route factor <= {100 / (2 * far_km / 200):.3g}")


def test_reach_rows_without_a_groq_run(reg):
    gaz, _ = _hand_gazetteer(6e9)  # Riyadh alone holds 5 billion here
    synth = RemoteObservation("synthetic", "synthetic", "s", 0.02, 100.0, 0.02, "s1", "c", "y")
    _, rows = _reach_rows(reg, Evidence(remote=(synth,)), gaz)
    physics, measured = rows["groq-riyadh-latency"], rows["groq-riyadh-latency:measured"]
    assert "7.00 billion" in physics.measured and physics.verdict == "supported"
    assert "holds at any route factor" in physics.flips
    assert "from Dammam: 7.00 billion" in physics.note
    assert measured.verdict == "not yet measured" and measured.command.startswith("GROQ_API_KEY=")
    # the physics row never switches: a Groq run changes only the measured row
    groq = RemoteObservation("groq", "groq", "m", 0.3, 500.0, 0.09, "g1", "c", "x")
    _, with_groq = _reach_rows(reg, Evidence(remote=(synth, groq)), gaz)
    assert with_groq["groq-riyadh-latency"] == physics
    assert with_groq["groq-riyadh-latency:measured"].verdict == "supported"


def _capacities(reg, evidence=None, **assume):
    from bench.claims.projections import CapacityAssumptions
    from bench.claims.rows import Assumptions

    a = Assumptions(capacity=CapacityAssumptions(**assume))
    report = verdicts.build(reg, evidence or Evidence(), None, a)
    return {c.label: c for c in report.capacities}, report


def test_capacity_is_a_bounded_range_with_its_limit_named(reg):
    caps, _ = _capacities(reg)
    kv = 2 * 80 * 8 * 128 * 2 * 8192  # K and V, 80 layers, 8 kv heads of 128, 16-bit, 8K tokens
    lpu = caps["groq-riyadh-lpus"]
    assert lpu.kv_bytes_per_user == kv and lpu.weights_only_devices == 614
    assert (lpu.devices_per_replica, lpu.replicas) == (626, 28)
    assert lpu.users_low == 28 and lpu.limited_by == "memory"
    assert lpu.users_high == (18000 * 230e6 - lpu.model_bytes) // kv == 1489
    gpus = caps["oreus-grenoble-gpus"]  # 8,500 H100 SXM: bandwidth binds before memory
    assert (gpus.users_low, gpus.limited_by) == (4250, "bandwidth")
    assert gpus.users_high == (8500 * 3.35e12 / 50 - gpus.model_bytes) // kv
    cluster = caps["g42-cerebras-cluster"]  # 9 x 64 systems, as publicly described
    assert cluster.count == 576 and (cluster.devices_per_replica, cluster.replicas) == (4, 144)
    assert cluster.limited_by == "memory"  # no compute limit: 'peak AI' is no dense 16-bit peak
    assert {x.name: x.users is None for x in cluster.limits}["compute"]
    for c in caps.values():  # every printed range is bounded, low <= high
        assert c.users_low is not None and c.users_high is not None
        assert 0 < c.users_low <= c.users_high < 100 * c.users_low  # not 3,000x apart


def test_a_single_wse3_cannot_hold_the_model_and_gives_no_user_count(reg):
    caps, report = _capacities(reg, cerebras_systems=1)
    one = caps["g42-cerebras-cluster"]
    assert one.users_low is None and one.users_high is None and one.replicas == 0
    assert one.why_none.startswith("1 x Cerebras WSE-3 hold 44 GB: not the 141.1 GB")
    # the 8B model fits one wafer: then there is a count
    caps, _ = _capacities(reg, cerebras_systems=1, model="llama-3.1-8b")
    assert caps["g42-cerebras-cluster"].users_low == 1


def test_fleets_are_compared_like_with_like(reg):
    fp32 = Ceiling("numpy", "AMD EPYC", "matrix", "float32", 1e12, "gemm", "cal", "g")
    copy = Ceiling("numpy", "AMD EPYC", "memory", "", 20e9, "copy", "cal", "c")
    _, report = _capacities(reg, Evidence(ceilings=(fp32, copy)))
    on = {(label, q.workload) for label, q in report.equivalences}
    # fp16 peaks never against an fp32 GEMM; on-chip SRAM never against a DRAM copy
    assert not any(w == "gemm peak" for _, w in on)
    assert ("groq-riyadh-lpus", "memory bandwidth") not in on
    assert ("g42-cerebras-cluster", "memory bandwidth") not in on
    assert ("oreus-grenoble-gpus", "memory bandwidth") in on  # HBM against DRAM: both off-chip
    assert "groq-riyadh-lpus: on-chip SRAM bandwidth not compared with a DRAM/HBM copy" in (
        report.unmatched
    )
    assert "groq-riyadh-lpus: fp16 peak not compared with float32 GEMM" in report.unmatched
    fp16 = Ceiling("cupy", "NVIDIA H100 80GB HBM3", "matrix", "float16", 7e14, "gemm", "c", "g")
    _, report = _capacities(reg, Evidence(ceilings=(fp16,)))
    assert {label for label, q in report.equivalences if q.workload == "gemm peak"} == {
        "groq-riyadh-lpus",
        "oreus-grenoble-gpus",
    }
