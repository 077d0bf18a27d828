from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from example_shop.shop.models import Product
from example_shop.shop.seeding import SeedError, SeedParams, seed_shop


def _date(value: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--end: expected YYYY-MM-DD, got {value!r}") from exc
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Generate a synthetic catalog and a simulated shopping history (deterministic by --seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        d = SeedParams()
        parser.add_argument("--products", type=int, help=f"products (default {d.products})")
        parser.add_argument("--shoppers", type=int, help=f"shoppers (default {d.shoppers})")
        parser.add_argument("--events", type=int, help=f"events to simulate, at least (default {d.events})")
        parser.add_argument("--days", type=int, help=f"length of the history window (default {d.days})")
        parser.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")
        parser.add_argument("--end", type=_date, help="last day of the window, YYYY-MM-DD (default today)")
        parser.add_argument("--small", action="store_true", help="test preset: 300 products, 300 shoppers, ~10k events")
        parser.add_argument("--flush", action="store_true", help="delete the catalog, orders and seeded data first")
        parser.add_argument("--if-empty", action="store_true", help="do nothing (successfully) if the shop has products")

    def handle(self, *args: Any, **opts: Any) -> None:
        base = SeedParams.small() if opts["small"] else SeedParams()
        given = {k: opts[k] for k in ("products", "shoppers", "events", "days", "seed", "end") if opts[k] is not None}
        if any(given.get(k, 1) < 1 for k in ("products", "shoppers", "events", "days")):
            raise CommandError("--products, --shoppers, --events and --days must be positive")
        params = SeedParams(**{**base.__dict__, **given})
        if opts["if_empty"] and not opts["flush"] and (n := Product.objects.count()):
            self.stdout.write(f"the shop already has {n} products: not seeding (use --flush to replace them)")
            return
        began, cpu = time.monotonic(), time.process_time()
        try:
            r = seed_shop(params, flush=opts["flush"], progress=lambda m: self.stdout.write(f"==> {m}"))
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        start, end = r.window
        self.stdout.write(self.style.SUCCESS(
            f"seeded in {time.monotonic() - began:.1f}s ({time.process_time() - cpu:.1f}s CPU; seed {params.seed})"
        ))
        self.stdout.write(f"  window        {start:%Y-%m-%d} .. {end:%Y-%m-%d} ({params.days} days)")
        self.stdout.write(f"  catalog       {r.categories} categories, {r.brands} brands, {r.products} products")
        self.stdout.write(f"                {r.cold_products} cold (launched in the last weeks), {r.out_of_stock} out of stock, "
                          f"{len(r.trending)} trending in the last weeks")
        self.stdout.write(f"  shoppers      {r.shoppers} ({r.late_shoppers} arrived late)")
        self.stdout.write(f"  events        {r.events:,}: " + ", ".join(f"{k} {v:,}" for k, v in r.event_counts.items()))
        self.stdout.write("  demo logins   shopper / shopper123, admin / admin")
