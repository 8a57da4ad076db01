"""One online visit's shopping funnel: land, browse, search, view, cart, checkout, order.

The rates are tuned to published e-commerce benchmarks: ~40% of visits bounce, ~10% of
product views add to cart, about half of carts reach checkout and ~60% of checkouts pay,
so 2-4% of visits convert.
"""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import identity
from bullseye_devtools.traffic.catalog import Product
from bullseye_devtools.traffic.envelope import Visit
from bullseye_devtools.traffic.money import eur
from bullseye_devtools.traffic.seeds import geometric, uuid_from
from bullseye_devtools.traffic.shoppers import Shopper
from bullseye_devtools.traffic.state import Cart, JourneyState, Order

BOUNCE = 0.40
ADD_TO_CART = 0.09
WISHLIST = 0.03
REMOVE_FROM_CART = 0.12
CHECKOUT = 0.45
PAY = 0.58
FAVOURITES = 0.7  # share of product views in the shopper's favourite categories
PAGES = (("/promotions", "Promotions"), ("/stores", "Find a store"), ("/help/delivery", "Delivery"))


def _product(state: JourneyState, shopper: Shopper) -> Product:
    favourites = shopper.favourite_leaves if state.rng.random() < FAVOURITES else ()
    return state.catalog.pick(state.rng, favourites)


def _category_page(state: JourneyState, visit: Visit, shopper: Shopper) -> None:
    product = _product(state, shopper)
    root, leaf = product.category_path[0], product.category
    visit.show(f"/c/{root}/{leaf}".lower(), f"{leaf} | {root}")
    state.emit(visit, ev.PageViewed(name="category", category=leaf))


def view_product(state: JourneyState, visit: Visit, product: Product, cart: Cart) -> None:
    """A product page; some views put the product in the cart or on the wishlist."""
    visit.show(f"/p/{product.item_id}-{product.slug}", product.title)
    price = eur(product.price_cents)
    state.emit(visit, ev.ProductViewed(product_id=product.item_id, category=product.category, price=price))
    roll = state.rng.random()
    if roll < ADD_TO_CART and product.in_stock:
        visit.wait(state.rng, 5, 60)
        quantity = state.rng.choices((1, 2, 3), weights=(85, 12, 3))[0]
        previous = cart.lines.get(product.item_id, (product, 0))[1]
        cart.lines[product.item_id] = (product, previous + quantity)
        added = ev.CartItemAdded(cart_id=cart.cart_id, product_id=product.item_id, quantity=quantity, price=price)
        state.emit(visit, added)
    elif roll < ADD_TO_CART + WISHLIST:
        visit.wait(state.rng, 3, 20)
        state.emit(visit, ev.WishlistItemAdded(product_id=product.item_id))


def _search(state: JourneyState, visit: Visit, shopper: Shopper, cart: Cart) -> None:
    rng = state.rng
    product = _product(state, shopper)
    words = product.title.split()
    query = rng.choice((product.category, words[-1], product.brand, " ".join(words[-2:]))).lower()
    if rng.random() < 0.07:  # a typo: the query finds nothing
        query = query[:-2] + query[-1] + query[-2] if len(query) > 3 else query + "x"
    visit.show(f"/search?q={query.replace(' ', '+')}", f"Search: {query}")
    count = state.catalog.search(query)
    state.emit(visit, ev.Searched(query=query, results_count=count))
    if count and rng.random() < 0.6:
        visit.wait(rng, 3, 30)
        view_product(state, visit, product, cart)


def _land(state: JourneyState, visit: Visit, shopper: Shopper, cart: Cart) -> None:
    roll = state.rng.random()
    if roll < 0.5:
        visit.show("/", "Bullseye Shop")
        state.emit(visit, ev.PageViewed(name="home"))
    elif roll < 0.8:
        _category_page(state, visit, shopper)
    else:
        view_product(state, visit, _product(state, shopper), cart)


def _step(state: JourneyState, visit: Visit, shopper: Shopper, cart: Cart) -> None:
    roll = state.rng.random()
    if roll < 0.5:
        view_product(state, visit, _product(state, shopper), cart)
    elif roll < 0.72:
        _category_page(state, visit, shopper)
    elif roll < 0.86:
        _search(state, visit, shopper, cart)
    else:
        path, title = state.rng.choice(PAGES)
        visit.show(path, title)
        state.emit(visit, ev.PageViewed(name=path.strip("/").split("/")[0]))


def browse(state: JourneyState, visit: Visit, shopper: Shopper) -> Cart:
    """Everything before checkout; returns the cart (maybe empty)."""
    cart = Cart(cart_id=f"c-{uuid_from(state.rng)}")
    _land(state, visit, shopper, cart)
    if state.rng.random() < BOUNCE:
        return cart
    for _ in range(geometric(state.rng, 2.5, minimum=1, maximum=40)):
        visit.wait(state.rng)
        _step(state, visit, shopper, cart)
    if cart.lines and state.rng.random() < REMOVE_FROM_CART:
        _remove_one(state, visit, cart)
    return cart


def _remove_one(state: JourneyState, visit: Visit, cart: Cart) -> None:
    product_id = state.rng.choice(sorted(cart.lines))
    _, quantity = cart.lines.pop(product_id)
    visit.show("/cart", "Your cart")
    state.emit(visit, ev.CartItemRemoved(cart_id=cart.cart_id, product_id=product_id, quantity=quantity))


def _make_sure_who(state: JourneyState, visit: Visit, shopper: Shopper) -> None:
    """Checkout needs a contact: log in, create the account now, or check out as a guest."""
    if visit.user_id:
        return
    if state.registered:
        identity.log_in(state, shopper, visit)
    elif shopper.status == "new" or state.rng.random() < 0.3:
        identity.sign_up(state, shopper, visit)
    else:
        identity.identify(state, shopper, visit, guest=True)


def checkout(state: JourneyState, visit: Visit, shopper: Shopper, cart: Cart) -> None:
    """Checkout started for a non-empty cart; about 60% of them pay."""
    visit.wait(state.rng, 5, 60)
    visit.show("/checkout", "Checkout")
    _make_sure_who(state, visit, shopper)
    value = eur(cart.value_cents)
    state.emit(visit, ev.CheckoutStarted(cart_id=cart.cart_id, value=value, items_count=cart.items))
    if state.rng.random() < PAY:
        visit.wait(state.rng, 30, 240)
        place_order(state, visit, tuple(cart.lines.values()))


def place_order(state: JourneyState, visit: Visit, lines: tuple[tuple[Product, int], ...]) -> None:
    """An order whose revenue is exactly the sum of its lines."""
    order = Order(f"o-{uuid_from(state.rng)}", visit.device, visit.user_id, visit.at, lines, phone=visit.phone)
    items = [
        ev.LineItem(product_id=p.item_id, quantity=q, unit_price=eur(p.price_cents), category=p.category, brand=p.brand)
        for p, q in lines
    ]
    visit.show("/checkout/confirmation", "Thank you for your order")
    state.emit(visit, ev.OrderCompleted(order_id=order.order_id, items=items, revenue=eur(order.total_cents)))
    state.orders.append(order)


def pay_at_till(state: JourneyState, visit: Visit, shopper: Shopper) -> None:
    """At a shop's till: one to three items scanned, then paid."""
    cart = Cart(cart_id=f"c-till-{state.rng.getrandbits(64):016x}")
    for _ in range(state.rng.randint(1, 3)):
        product = state.catalog.pick(state.rng, shopper.favourite_leaves)
        visit.wait(state.rng, 5, 30)
        price = eur(product.price_cents)
        state.emit(visit, ev.ProductViewed(product_id=product.item_id, category=product.category, price=price))
        state.emit(visit, ev.CartItemAdded(cart_id=cart.cart_id, product_id=product.item_id, quantity=1, price=price))
        cart.lines[product.item_id] = (product, cart.lines.get(product.item_id, (product, 0))[1] + 1)
    state.emit(visit, ev.CheckoutStarted(cart_id=cart.cart_id, value=eur(cart.value_cents), items_count=cart.items))
    visit.wait(state.rng, 20, 90)
    place_order(state, visit, tuple(cart.lines.values()))
