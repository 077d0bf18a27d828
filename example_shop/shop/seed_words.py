"""Word lists of the synthetic catalog: categories, their product types, tags and brands.

Each category carries its own vocabulary (product nouns, name adjectives, tags and
description words) so that a product's name, tags and description all point to its
category: text features carry real signal for a hybrid model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategorySpec:
    name: str
    base_price: float  # a mid-range product of this category, in dollars
    consumable: bool  # shoppers re-buy these products
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    tags: tuple[str, ...]
    words: tuple[str, ...]  # description vocabulary
    brands: tuple[str, ...]  # brands whose home is this category


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "Outdoor & Hiking", 85, False,
        ("Rain Jacket", "Daypack", "Tent", "Hiking Boots", "Trekking Poles", "Sleeping Bag",
         "Headlamp", "Water Bottle", "Fleece", "Camp Stove"),
        ("Alpine", "Ridge", "Summit", "Trail", "Storm", "Basecamp"),
        ("waterproof", "lightweight", "camping", "hiking", "trail", "insulated", "packable"),
        ("mountain", "weather", "summit", "rugged", "wilderness", "breathable membrane",
         "reinforced seams", "multi-day trips"),
        ("Nordkap", "Alpenglow", "Ridgeway", "Fjellmark", "Cairn Co."),
    ),
    CategorySpec(
        "Running & Fitness", 55, False,
        ("Running Shoes", "Training Shorts", "Yoga Mat", "Dumbbell Set", "Sports Bra",
         "Fitness Tracker", "Foam Roller", "Resistance Bands", "Running Tights", "Gym Bag"),
        ("Pace", "Tempo", "Sprint", "Flex", "Core", "Stride"),
        ("running", "breathable", "cushioned", "yoga", "strength", "cardio", "reflective"),
        ("workout", "training", "marathon", "stretch", "sweat-wicking", "grip", "recovery",
         "personal best"),
        ("Stridely", "Pulsefit", "Kinetix", "Tempo Labs", "Vantage Sport"),
    ),
    CategorySpec(
        "Kitchen & Cooking", 45, False,
        ("Chef's Knife", "Frying Pan", "Dutch Oven", "Cutting Board", "Saucepan",
         "Mixing Bowls", "Stand Mixer", "Baking Tray", "Spatula Set", "Pressure Cooker"),
        ("Artisan", "Bistro", "Copper", "Heritage", "Everyday", "Pro"),
        ("stainless", "nonstick", "cast-iron", "baking", "dishwasher-safe", "induction", "wooden"),
        ("recipe", "simmer", "sear", "even heat", "home cook", "chef", "oven-safe", "family meals"),
        ("Copperleaf", "Hearth & Co.", "Maison Rouge", "Panwise", "Saltbox"),
    ),
    CategorySpec(
        "Coffee & Tea", 14, True,
        ("Espresso Beans", "Ground Coffee", "Green Tea", "Earl Grey", "Breakfast Tea",
         "Matcha Powder", "Chai Blend", "Cold Brew Pack", "Herbal Infusion", "Decaf Beans"),
        ("Morning", "Highland", "Velvet", "Golden", "Smoky", "House"),
        ("organic", "fair-trade", "single-origin", "decaf", "espresso", "loose-leaf", "dark-roast"),
        ("aroma", "roasted", "brew", "cup", "notes of chocolate", "citrus finish", "harvest",
         "freshly packed"),
        ("Bean & Leaf", "Roastery 47", "Kettle Hill", "Mokka Bros", "Teagarden"),
    ),
    CategorySpec(
        "Home & Living", 40, False,
        ("Throw Blanket", "Scented Candle", "Table Lamp", "Cushion Cover", "Wall Clock",
         "Vase", "Storage Basket", "Picture Frame", "Rug", "Bedside Table"),
        ("Nordic", "Calm", "Hygge", "Loft", "Coastal", "Oak"),
        ("cosy", "minimalist", "scandinavian", "handmade", "linen", "ceramic", "vintage"),
        ("living room", "interior", "warm light", "texture", "bedroom", "timeless design",
         "natural materials", "decor"),
        ("Hyggehus", "Linen Lane", "Oakroom", "Casa Calma", "Driftwood Home"),
    ),
    CategorySpec(
        "Electronics", 95, False,
        ("Wireless Earbuds", "Bluetooth Speaker", "Smartwatch", "Power Bank", "USB-C Charger",
         "Headphones", "E-Reader", "Webcam", "Mechanical Keyboard", "Portable SSD"),
        ("Nova", "Pulse", "Volt", "Aero", "Quantum", "Echo"),
        ("wireless", "bluetooth", "fast-charging", "noise-cancelling", "usb-c", "portable",
         "smart-home"),
        ("battery life", "sound", "pairing", "firmware", "high resolution", "low latency",
         "app control", "charging"),
        ("Voltra", "Sonique", "Bitwave", "Lumen Tech", "Arcadia Audio"),
    ),
    CategorySpec(
        "Books", 18, False,
        ("Novel", "Cookbook", "Travel Guide", "Biography", "Graphic Novel", "Poetry Collection",
         "History Book", "Science Book", "Children's Book", "Essay Collection"),
        ("The Quiet", "The Last", "Midnight", "Northern", "The Hidden", "Silver"),
        ("fiction", "crime", "fantasy", "history", "science", "bestseller", "paperback"),
        ("chapter", "author", "story", "readers", "award-winning", "page-turner", "characters",
         "first edition"),
        ("Inkwell Press", "Marginalia", "Paperlane", "Foxglove Books", "Atlas House"),
    ),
    CategorySpec(
        "Toys & Games", 30, False,
        ("Board Game", "Jigsaw Puzzle", "Building Blocks", "Plush Toy", "Card Game",
         "Remote Control Car", "Wooden Train Set", "Art Kit", "Science Kit", "Doll House"),
        ("Happy", "Tiny", "Rainbow", "Clever", "Jolly", "Star"),
        ("family", "educational", "strategy", "wooden", "creative", "ages-3-plus", "party"),
        ("play", "kids", "game night", "imagination", "hours of fun", "players", "safe materials",
         "gift"),
        ("Playfield", "Tumbletot", "Brainy Bear", "Meeple & Co.", "Kiddo Works"),
    ),
    CategorySpec(
        "Beauty & Skincare", 22, True,
        ("Face Cream", "Cleanser", "Serum", "Lip Balm", "Shampoo", "Conditioner",
         "Body Lotion", "Sunscreen", "Face Mask", "Hand Cream"),
        ("Pure", "Glow", "Daily", "Botanical", "Soft", "Bloom"),
        ("vegan", "fragrance-free", "organic", "sensitive-skin", "hydrating", "spf", "cruelty-free"),
        ("skin", "moisture", "gentle", "dermatologist tested", "radiance", "routine",
         "natural oils", "glow"),
        ("Dewdrop", "Lumiere Skin", "Botanica", "Velour", "Aloe & Oak"),
    ),
    CategorySpec(
        "Pet Supplies", 26, True,
        ("Dry Dog Food", "Wet Cat Food", "Dog Treats", "Cat Litter", "Puppy Food",
         "Senior Dog Food", "Cat Treats", "Dental Chews", "Bird Seed", "Fish Flakes"),
        ("Happy Paws", "Wild", "Farm", "Prime", "Tender", "Tail-Wag"),
        ("grain-free", "dog", "cat", "natural", "high-protein", "puppy", "senior"),
        ("pet", "nutrition", "vet approved", "tasty", "healthy coat", "digestion", "real meat",
         "daily feeding"),
        ("Pawsome", "Whisker Co.", "Barkley", "Tailwind Pet", "Nibbles"),
    ),
    CategorySpec(
        "Garden", 35, False,
        ("Garden Hose", "Pruning Shears", "Plant Pot", "Seed Kit", "Watering Can",
         "Garden Gloves", "Raised Bed", "Compost Bin", "Solar Lights", "Bird Feeder"),
        ("Green", "Meadow", "Terra", "Sunny", "Wild", "Cottage"),
        ("organic", "outdoor", "herbs", "solar", "durable", "balcony", "eco"),
        ("plants", "soil", "grow", "harvest", "flower beds", "weatherproof", "backyard",
         "green fingers"),
        ("Greenthumb", "Terrafirma", "Meadowlark", "Bloom & Root", "Potting Shed"),
    ),
    CategorySpec(
        "Fashion & Accessories", 48, False,
        ("Leather Wallet", "Sunglasses", "Wool Scarf", "Canvas Tote", "Beanie", "Leather Belt",
         "Watch", "Umbrella", "Weekend Bag", "Cap"),
        ("Classic", "Urban", "Heritage", "Metro", "Weekend", "Studio"),
        ("leather", "wool", "classic", "recycled", "unisex", "everyday", "gift"),
        ("style", "craftsmanship", "timeless", "stitching", "wardrobe", "fit", "season",
         "soft-touch"),
        ("Atelier Nord", "Mason & Finch", "Urbanite", "Halden", "Wren & Co."),
    ),
)

# Brand price levels: 1 budget, 2 mid-range, 3 premium, 4 luxury.
PRICE_LEVEL_FACTOR = {1: 0.6, 2: 1.0, 3: 1.6, 4: 2.6}
PRICE_LEVEL_NAMES = {1: "budget", 2: "mid-range", 3: "premium", 4: "luxury"}

MODEL_SUFFIXES = ("", "", "", "Pro", "Lite", "2", "Max", "Classic", "Plus", "Mini", "XL", "Edition")

# Variants that tell apart products which would otherwise share a name.
COLOURS = ("Slate", "Sand", "Forest", "Navy", "Coral", "Graphite", "Ivory", "Olive", "Berry", "Ocean")

OPENERS = (
    "Meet the {name}",
    "Say hello to the {name}",
    "Designed by {brand}: the {name}",
    "Our {level} pick, the {name}",
    "A customer favourite, the {name}",
)
