"""The dev profile's demo catalog: the original's four rows (Flyway V2 and V4) and a believable shop around them.

Each product names its picture, one of the storefront's catalog pictures (served at /app/images/catalog/NAME.svg,
drawn from the Fluent Emoji Flat set, MIT: see src/ecommerce/services/storefront/static/catalog/NOTICE). The
original's rows keep their ids, titles, SKUs and stock; their price 0.00 becomes a shop price here (dev only).
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

PICTURES = "/app/images/catalog/{}.svg"


class DemoProduct(NamedTuple):
    category_id: int
    title: str
    description: str
    price: str
    quantity: int
    sku: str
    picture: str

    @property
    def price_unit(self) -> Decimal:
        return Decimal(self.price)

    @property
    def image_url(self) -> str:
        return PICTURES.format(self.picture)


# The original's three categories first (ids 1-3), then the demo shop's.
CATEGORIES = [
    (1, "Computer"),
    (2, "Mode"),
    (3, "Game"),
    (4, "Audio & Photo"),
    (5, "Home & Kitchen"),
    (6, "Sport & Outdoor"),
    (7, "Books & Stationery"),
]

# The original's rows, ids 1-4, titles and SKUs as they were.
ORIGINAL = [
    DemoProduct(
        1,
        "asus",
        "A 14-inch everyday laptop with 16 GB of memory and a 512 GB SSD.",
        "749.00",
        50,
        "dfqejklejrkn",
        "laptop",
    ),
    DemoProduct(
        1,
        "hp",
        "A quiet desktop tower with a 24-inch screen, keyboard and mouse.",
        "629.00",
        50,
        "zsejfedbjh",
        "desktop-computer",
    ),
    DemoProduct(
        2, "Armani", "A slim-fit silk tie in deep navy, hand-finished in Italy.", "89.00", 50, "fjdvf", "necktie"
    ),
    DemoProduct(
        3, "GTA", "The open-world crime classic, complete edition on disc.", "29.99", 50, "qsdkjnvfrekjrf", "video-game"
    ),
]

# Ids 5 and up, in this order.
SHOP = [
    # Computer
    DemoProduct(
        1,
        "Wireless Mouse M220",
        "Silent clicks, a two-year battery and a tiny USB receiver.",
        "19.90",
        120,
        "CMP-1001",
        "computer-mouse",
    ),
    DemoProduct(
        1,
        "Mechanical Keyboard K8",
        "Hot-swappable brown switches, white backlight, USB-C.",
        "79.00",
        35,
        "CMP-1002",
        "keyboard",
    ),
    DemoProduct(
        1,
        "Laser Printer L1440",
        "Mono laser, 30 pages a minute, duplex and Wi-Fi.",
        "149.00",
        12,
        "CMP-1003",
        "printer",
    ),
    DemoProduct(
        1,
        "USB-C Hub 7-in-1",
        "HDMI 4K, three USB-A ports, SD and microSD readers, 100 W charging.",
        "34.50",
        80,
        "CMP-1004",
        "electric-plug",
    ),
    DemoProduct(
        1,
        "Portable SSD 1 TB",
        "Pocket-sized drive, 1,050 MB/s, shock resistant.",
        "94.99",
        40,
        "CMP-1005",
        "computer-disk",
    ),
    DemoProduct(
        1,
        "Smartphone Nova 6",
        "6.1-inch OLED screen, 128 GB, a camera that shines at night.",
        "399.00",
        25,
        "CMP-1006",
        "mobile-phone",
    ),
    DemoProduct(
        1, "Power Bank 20000", "Charges a phone four times; two USB-C ports, 22.5 W.", "29.90", 4, "CMP-1007", "battery"
    ),
    # Mode
    DemoProduct(
        2,
        "Organic Cotton T-Shirt",
        "Heavyweight crew neck in washed blue, sizes XS to XXL.",
        "24.00",
        150,
        "MOD-2001",
        "t-shirt",
    ),
    DemoProduct(2, "Straight Leg Jeans", "Rigid denim, mid-rise, five pockets.", "69.00", 60, "MOD-2002", "jeans"),
    DemoProduct(
        2, "Summer Wrap Dress", "Light viscose with a tie waist, knee length.", "59.00", 30, "MOD-2003", "dress"
    ),
    DemoProduct(2, "Wool Scarf", "Merino wool, 180 cm long, warm without the itch.", "39.00", 45, "MOD-2004", "scarf"),
    DemoProduct(
        2,
        "Leather Handbag",
        "Full-grain leather, an inside zip pocket and an adjustable strap.",
        "129.00",
        15,
        "MOD-2005",
        "handbag",
    ),
    DemoProduct(
        2, "Aviator Sunglasses", "Polarised lenses, UV400, gold metal frame.", "45.00", 3, "MOD-2006", "sunglasses"
    ),
    DemoProduct(
        2,
        "Classic Wristwatch",
        "Steel case, sapphire glass, water resistant to 50 m.",
        "179.00",
        18,
        "MOD-2007",
        "watch",
    ),
    DemoProduct(
        2,
        "Canvas Sneakers",
        "Low-top canvas shoes with a natural rubber sole.",
        "54.90",
        70,
        "MOD-2008",
        "running-shoe",
    ),
    # Game
    DemoProduct(
        3,
        "Wireless Game Controller",
        "Hall-effect sticks, 30 hours of play, works with PC and console.",
        "49.99",
        55,
        "GAM-3001",
        "joystick",
    ),
    DemoProduct(
        3,
        "Chess Set in Walnut",
        "Weighted pieces, a folding board with felt storage.",
        "64.00",
        20,
        "GAM-3002",
        "chess-pawn",
    ),
    DemoProduct(
        3,
        "1000-Piece Puzzle: Coral Reef",
        "Thick card pieces, a poster for the box lid included.",
        "17.50",
        40,
        "GAM-3003",
        "puzzle-piece",
    ),
    DemoProduct(
        3,
        "Dice Game Night Box",
        "Twelve classic dice games in one box, for 2 to 6 players.",
        "22.00",
        35,
        "GAM-3004",
        "game-die",
    ),
    DemoProduct(
        3,
        "Playing Cards, Twin Pack",
        "Plastic-coated cards that shuffle smoothly for years.",
        "9.90",
        200,
        "GAM-3005",
        "joker",
    ),
    DemoProduct(
        3, "Plush Teddy Bear", "A 40 cm bear, soft and machine washable.", "26.00", 0, "GAM-3006", "teddy-bear"
    ),
    # Audio & Photo
    DemoProduct(
        4,
        "Over-Ear Headphones ANC",
        "Active noise cancelling, 40 hours, folds flat.",
        "199.00",
        22,
        "AUD-4001",
        "headphone",
    ),
    DemoProduct(
        4,
        "Studio Microphone USB",
        "Cardioid condenser for podcasts and calls, with a stand.",
        "89.00",
        16,
        "AUD-4002",
        "studio-microphone",
    ),
    DemoProduct(
        4, "Mirrorless Camera Z50", "24 MP, 4K video, with a 16-50 mm kit lens.", "849.00", 6, "AUD-4003", "camera"
    ),
    DemoProduct(
        4,
        "Bluetooth Speaker Go",
        "Waterproof, 12 hours of sound, clips to a bag.",
        "59.00",
        48,
        "AUD-4004",
        "speaker-high-volume",
    ),
    DemoProduct(
        4, "Acoustic Guitar", "Spruce top, full size, with a padded gig bag.", "229.00", 9, "AUD-4005", "guitar"
    ),
    DemoProduct(
        4, "Digital Radio DAB+", "FM and DAB+, 40 presets, a warm wooden case.", "79.90", 27, "AUD-4006", "radio"
    ),
    DemoProduct(
        4, 'Smart TV 43"', "4K HDR screen with the streaming apps built in.", "349.00", 8, "AUD-4007", "television"
    ),
    # Home & Kitchen
    DemoProduct(
        5,
        "Ceramic Teapot",
        "1.2 litres, a stainless steel infuser, dishwasher safe.",
        "32.00",
        38,
        "HOM-5001",
        "teapot",
    ),
    DemoProduct(
        5, "Cast Iron Skillet 26 cm", "Pre-seasoned, oven safe, lasts a lifetime.", "44.90", 26, "HOM-5002", "cooking"
    ),
    DemoProduct(
        5,
        "Chef's Knife 20 cm",
        "German steel, a full tang and a balanced handle.",
        "59.00",
        30,
        "HOM-5003",
        "kitchen-knife",
    ),
    DemoProduct(5, "Scented Candle, Cedar", "Soy wax, 45 hours of burning time.", "18.00", 90, "HOM-5004", "candle"),
    DemoProduct(
        5,
        "Potted Monstera",
        "An easy houseplant, 60 cm tall, in a ceramic pot.",
        "39.50",
        14,
        "HOM-5005",
        "potted-plant",
    ),
    DemoProduct(
        5,
        "Linen Sofa Cushion Set",
        "Two 45 cm cushions in stone linen with feather filling.",
        "49.00",
        24,
        "HOM-5006",
        "couch-and-lamp",
    ),
    DemoProduct(
        5,
        "Alarm Clock Retro",
        "Twin bells, a silent sweep hand, a soft night light.",
        "24.90",
        50,
        "HOM-5007",
        "alarm-clock",
    ),
    # Sport & Outdoor
    DemoProduct(
        6,
        "City Bike 7-Speed",
        "Aluminium frame, mudguards, a rear rack and lights.",
        "489.00",
        5,
        "SPO-6001",
        "bicycle",
    ),
    DemoProduct(
        6, "Tennis Racket Pro 100", "300 g graphite frame, strung at 24 kg.", "119.00", 17, "SPO-6002", "tennis"
    ),
    DemoProduct(6, "Football, Size 5", "Thermo-bonded panels, match quality.", "29.00", 65, "SPO-6003", "soccer-ball"),
    DemoProduct(
        6,
        "Two-Person Tent",
        "Sets up in five minutes, 2.1 kg, stands in wind and rain.",
        "159.00",
        11,
        "SPO-6004",
        "tent",
    ),
    DemoProduct(
        6,
        "Hiking Backpack 30 L",
        "A ventilated back, a rain cover and hip-belt pockets.",
        "79.00",
        33,
        "SPO-6005",
        "backpack",
    ),
    DemoProduct(
        6,
        "Skateboard Complete",
        "A 7-ply maple deck, 52 mm wheels, ABEC-7 bearings.",
        "69.00",
        21,
        "SPO-6006",
        "skateboard",
    ),
    # Books & Stationery
    DemoProduct(
        7,
        "Hardcover Notebook A5",
        "192 dotted pages of 100 g paper, a ribbon marker.",
        "14.50",
        140,
        "BOO-7001",
        "notebook-with-decorative-cover",
    ),
    DemoProduct(
        7,
        "Fountain Pen Classic",
        "A medium steel nib, a converter and five cartridges.",
        "35.00",
        40,
        "BOO-7002",
        "fountain-pen",
    ),
    DemoProduct(
        7, "World Atlas, 2025 Edition", "300 maps, city plans and a full index.", "42.00", 19, "BOO-7003", "world-map"
    ),
    DemoProduct(
        7,
        "Cookbook: Everyday Italian",
        "120 recipes for weeknights, photographed step by step.",
        "27.90",
        28,
        "BOO-7004",
        "open-book",
    ),
    DemoProduct(
        7,
        "Watercolour Set, 24 Colours",
        "Artist-grade half pans with two brushes.",
        "31.00",
        36,
        "BOO-7005",
        "artist-palette",
    ),
]

PRODUCTS = [*ORIGINAL, *SHOP]
