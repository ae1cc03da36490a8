"""Great-circle distances, country scaling and reach against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.claims import geo
from bench.core.errors import ConfigError

R = geo.EARTH_RADIUS_KM


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        # Published great-circle distances (spherical Earth), to within 1%.
        ((51.5074, -0.1278), (48.8566, 2.3522), 344.0),  # London - Paris
        ((51.5074, -0.1278), (40.7128, -74.0060), 5570.0),  # London - New York
        ((-33.8688, 151.2093), (-37.8136, 144.9631), 714.0),  # Sydney - Melbourne
        ((35.6762, 139.6503), (37.5665, 126.9780), 1159.0),  # Tokyo - Seoul
        ((24.7136, 46.6753), (25.2048, 55.2708), 870.0),  # Riyadh - Dubai
    ],
)
def test_haversine_matches_known_city_pairs(a, b, km):
    assert geo.haversine_km(*a, *b) == pytest.approx(km, rel=0.01)


def test_haversine_exact_geometric_cases():
    assert geo.haversine_km(0, 0, 0, 0) == 0.0
    assert geo.haversine_km(0, 0, 90, 0) == pytest.approx(math.pi / 2 * R, rel=1e-12)
    assert geo.haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * R, rel=1e-12)
    assert geo.haversine_km(0, 0, 0, 1) == pytest.approx(2 * math.pi * R / 360, rel=1e-12)
    # symmetric, and wrapping the date line takes the short way
    assert geo.haversine_km(10, 179, 10, -179) == pytest.approx(geo.haversine_km(10, -179, 10, 179))
    assert geo.haversine_km(0, 179, 0, -179) == pytest.approx(2 * 2 * math.pi * R / 360)


def test_haversine_broadcasts_over_arrays():
    d = geo.haversine_km(0.0, 0.0, np.zeros(3), np.array([0.0, 1.0, 2.0]))
    assert d.shape == (3,)
    assert d[2] == pytest.approx(2 * d[1])


def _small() -> geo.Gazetteer:
    """Country A (1,000 people) has two places on the equator; B (500) has none."""
    cities = [
        geo.City("Origin", "A", 0.0, 0.0, 100.0),
        geo.City("East5", "A", 0.0, 5.0, 300.0),
        geo.City("North10", "C", 10.0, 0.0, 50.0),
    ]
    return geo.scale_to_countries(cities, {"A": 1000.0, "B": 500.0, "C": 200.0}, "hand-made")


def test_scaling_spreads_each_country_total_over_its_places():
    g = _small()
    assert list(g.names) == ["Origin", "East5", "North10"]
    # A: 100 and 300 of 400 listed -> x 2.5; C: 50 of 50 -> x 4
    assert g.population.tolist() == [250.0, 750.0, 200.0]
    assert g.world_population == 1700.0
    assert g.unplaced_population == 500.0  # B has no listed place
    assert g.population.sum() + g.unplaced_population == g.world_population


def test_latency_budget_to_radius():
    assert geo.LatencyBudget(100, True, 200, 1.0).radius_km() == 10_000
    assert geo.LatencyBudget(100, False, 200, 1.0).radius_km() == 20_000
    assert geo.LatencyBudget(100, True, 200, 2.0).radius_km() == 5_000
    assert geo.LatencyBudget(100, True, 200, 1.0, server_ms=40).radius_km() == 6_000
    assert geo.LatencyBudget(100, True, 200, 1.0, server_ms=150).radius_km() == 0
    with pytest.raises(ConfigError, match="route factor 0.5"):
        geo.LatencyBudget(100, True, 200, 0.5).radius_km()


def test_reach_over_a_hand_computed_gazetteer():
    g = _small()
    origin = geo.City("Origin", "A", 0.0, 0.0, 0.0)
    east5 = 5 * 2 * math.pi * R / 360  # 556 km
    north10 = 10 * 2 * math.pi * R / 360  # 1,112 km
    # 6 ms round trip at 200 km/ms: 600 km radius -> Origin and East5
    r = geo.reach(g, origin, geo.LatencyBudget(6, True, 200, 1.0))
    assert r.radius_km == 600
    assert r.population == 1000.0
    assert r.share_of_world == pytest.approx(1000 / 1700)
    assert r.top_countries == (("A", 1000.0),)
    # route factor 2 -> 300 km: Origin alone
    assert geo.reach(g, origin, geo.LatencyBudget(6, True, 200, 2.0)).population == 250.0
    # one way 6 ms -> 1,200 km: everything placed
    assert geo.reach(g, origin, geo.LatencyBudget(6, False, 200, 1.0)).population == 1200.0
    assert east5 < 600 < north10 < 1200


def test_budget_needed_for_a_population():
    g = _small()
    origin = geo.City("Origin", "A", 0.0, 0.0, 0.0)
    base = geo.LatencyBudget(0, True, 200, 1.0)
    east5 = 5 * 2 * math.pi * R / 360
    # 1,000 people need East5: 2 x 556 km / 200 km/ms
    assert geo.budget_for_population(g, origin, base, 1000) == pytest.approx(2 * east5 / 200)
    assert geo.budget_for_population(g, origin, base, 250) == 0.0
    assert geo.budget_for_population(g, origin, base, 1201) is None


def test_reach_curve_grows_with_the_budget():
    g = _small()
    origin = geo.City("Origin", "A", 0.0, 0.0, 0.0)
    curve = geo.reach_curve(g, origin, geo.LatencyBudget(0, True, 200, 1.0), [1, 6, 12])
    assert [r.population for r in curve] == [250.0, 1000.0, 1200.0]


def test_find_place_folds_case_and_accents():
    g = geo.scale_to_countries(
        [geo.City("Zürich", "CH", 47.37, 8.54, 10.0), geo.City("Zürich", "US", 0, 0, 1.0)],
        {"CH": 10.0, "US": 1.0},
        "hand-made",
    )
    assert geo.find_place(g, "zurich").country == "CH"  # the most populous of the same name
    with pytest.raises(ConfigError, match="not in the gazetteer"):
        geo.find_place(g, "Atlantis")


def test_geonames_gazetteer_places_the_world():
    g = geo.from_geonames()
    riyadh = geo.find_place(g, "Riyadh")
    assert riyadh.country == "SA"
    assert riyadh.lat == pytest.approx(24.69, abs=0.05)
    assert g.population.sum() + g.unplaced_population == pytest.approx(g.world_population)
    assert g.unplaced_population < 0.01 * g.world_population
    assert not g.population.flags.writeable
