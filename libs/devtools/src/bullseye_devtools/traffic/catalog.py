"""A seeded product catalog: a category tree, invented brands, EUR prices, skewed popularity.

Popularity follows a Zipf-like law (a few bestsellers take most views), as in real shops;
recommendation benchmarks depend on that skew.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field

from bullseye_devtools.traffic.seeds import rng_for


@dataclass(frozen=True)
class Leaf:
    """A leaf category: its path from the root, a price range in euros, brands, product nouns."""

    path: str
    low: int
    high: int
    brands: str
    nouns: str


LEAVES = (
    Leaf("Home/Kitchen/Knives", 15, 180, "Lumen,Kiruna,Atelier Nord", "Chef Knife,Santoku,Paring Knife,Bread Knife"),
    Leaf("Home/Kitchen/Cookware", 20, 240, "Fonte,Kiruna,Casa Verde", "Frying Pan,Saucepan,Dutch Oven,Wok,Stockpot"),
    Leaf("Home/Kitchen/Coffee", 12, 450, "Moka Lab,Brewster,Lumen", "Espresso Machine,Grinder,French Press,Frother"),
    Leaf("Home/Living/Lighting", 18, 220, "Halo,Casa Verde,Atelier Nord", "Floor Lamp,Desk Lamp,Pendant,String Lights"),
    Leaf("Home/Living/Textiles", 9, 130, "Linnea,Casa Verde,Halo", "Cushion,Throw,Rug,Curtain Pair"),
    Leaf("Fashion/Women/Dresses", 29, 190, "Maison Ora,Velvet Fox,Linnea", "Wrap Dress,Midi Dress,Shirt Dress"),
    Leaf("Fashion/Women/Shoes", 35, 210, "Velvet Fox,Stride,Maison Ora", "Ankle Boots,Ballet Flats,Sneakers,Sandals"),
    Leaf("Fashion/Men/Shirts", 25, 120, "Harbor & Co,North Loom,Stride", "Oxford Shirt,Linen Shirt,Flannel Shirt,Polo"),
    Leaf("Fashion/Men/Sneakers", 45, 220, "Stride,Harbor & Co,Kinetic", "Runner,Court Sneaker,High-Top,Slip-On"),
    Leaf("Electronics/Audio/Headphones", 19, 399, "Sonora,Pulse,Wavelab", "Earbuds,Over-Ear Headphones,Sports Earbuds"),
    Leaf("Electronics/Audio/Speakers", 25, 499, "Sonora,Wavelab,Pulse", "Bluetooth Speaker,Soundbar,Smart Speaker"),
    Leaf("Electronics/Phone/Accessories", 8, 79, "Pulse,Voltix,Gripline", "Phone Case,Charger,Power Bank,Cable"),
    Leaf("Beauty/Skincare/Serums", 14, 95, "Aurea,Dermalys,Botanica", "Vitamin C Serum,Hyaluronic Serum,Retinol Serum"),
    Leaf("Beauty/Skincare/Creams", 11, 85, "Dermalys,Aurea,Botanica", "Day Cream,Night Cream,Eye Cream,SPF 50 Fluid"),
    Leaf("Sports/Running/Running Shoes", 59, 230, "Kinetic,Stride,Trailborn", "Road Shoe,Trail Shoe,Racing Flat"),
    Leaf("Sports/Outdoor/Camping", 15, 350, "Trailborn,Summit,Kinetic", "Tent,Sleeping Bag,Headlamp,Backpack,Stove"),
)

VARIANTS = ("Classic", "Pro", "Essential", "Eco", "Compact", "Premium", "Signature", "Urban", "Lite", "Heritage")
TAGS = ("new", "bestseller", "eco", "limited", "online-only", "gift-idea")


@dataclass(frozen=True)
class Product:
    item_id: str
    title: str
    category_path: tuple[str, ...]
    brand: str
    price_cents: int
    tags: tuple[str, ...]
    in_stock: bool

    @property
    def category(self) -> str:
        """The leaf category, as product events carry it."""
        return self.category_path[-1]

    @property
    def slug(self) -> str:
        return self.title.lower().replace(" ", "-").replace("&", "and")


@dataclass(frozen=True)
class Catalog:
    """Products with popularity weights; `pick` draws a product as shoppers would view it."""

    products: tuple[Product, ...]
    cumulative: tuple[float, ...]
    by_leaf: dict[str, tuple[int, ...]]
    searched: dict[str, int] = field(default_factory=dict, compare=False)  # query -> results

    def pick(self, rng: random.Random, leaves: tuple[str, ...] = ()) -> Product:
        """A product by popularity; from `leaves` (favourite categories) when given."""
        if not leaves:
            return self.products[self._draw(rng, range(len(self.products)))]
        candidates = self.by_leaf[rng.choice(leaves)]
        return self.products[self._draw(rng, candidates)]

    def _draw(self, rng: random.Random, indexes: range | tuple[int, ...]) -> int:
        if isinstance(indexes, range):
            return bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])
        weights = [self._weight(i) for i in indexes]
        return rng.choices(indexes, weights=weights)[0]

    def _weight(self, index: int) -> float:
        return self.cumulative[index] - (self.cumulative[index - 1] if index else 0.0)

    def leaves(self) -> tuple[str, ...]:
        return tuple(self.by_leaf)

    def search(self, query: str) -> int:
        """How many products a plain substring search would return."""
        if query not in self.searched:
            words = query.lower().split()
            haystacks = (f"{p.title} {' '.join(p.category_path)}".lower() for p in self.products)
            self.searched[query] = sum(all(w in h for w in words) for h in haystacks)
        return self.searched[query]


def _price(rng: random.Random, low: int, high: int) -> int:
    """A price in cents ending in .90/.99/.00 like real shelves, log-spread over the range."""
    euros = int(low * (high / low) ** rng.random())
    return max(1, euros) * 100 + rng.choice((-10, -1, -1, 0))


def _products(rng: random.Random, per_leaf: int) -> list[Product]:
    products: list[Product] = []
    number = itertools.count(1)
    for leaf in LEAVES:
        path, brands, nouns = tuple(leaf.path.split("/")), leaf.brands.split(","), leaf.nouns.split(",")
        for _ in range(per_leaf + rng.randint(-3, 3)):
            brand, noun, variant = rng.choice(brands), rng.choice(nouns), rng.choice(VARIANTS)
            products.append(
                Product(
                    item_id=f"sku-{next(number):05d}",
                    title=f"{brand} {variant} {noun}",
                    category_path=path,
                    brand=brand,
                    price_cents=_price(rng, leaf.low, leaf.high),
                    tags=tuple(sorted(set(rng.sample(TAGS, rng.choice((0, 1, 1, 2)))))),
                    in_stock=rng.random() > 0.06,
                )
            )
    return products


def build_catalog(seed: int, *, per_leaf: int = 18) -> Catalog:
    """About `per_leaf` products in each of the 16 leaf categories (~290 by default)."""
    rng = rng_for(seed, "catalog")
    products = _products(rng, per_leaf)
    ranks = list(range(1, len(products) + 1))
    rng.shuffle(ranks)
    cumulative = tuple(itertools.accumulate(1.0 / rank**0.9 for rank in ranks))
    by_leaf: dict[str, list[int]] = {}
    for index, product in enumerate(products):
        by_leaf.setdefault(product.category, []).append(index)
    return Catalog(tuple(products), cumulative, {leaf: tuple(ix) for leaf, ix in by_leaf.items()})
