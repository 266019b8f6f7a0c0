"""The fleet's fixed data: shares of the fleet's life, countries and company names, device
models and prices, the staff and the texts of their decisions."""

from __future__ import annotations

import random

BUDGET_PER_SELLER_CENTS = 1000_00  # monthly money budget per seller: no order is cut for money
# Monthly budget in test orders per seller of the fleet. The real programme buys about 0.13
# a seller; the benchmark fleet buys one, so its tables hold about as many orders and
# inspections as before the budget-true planner (about 3,000 a month for 3,000 sellers).
BUDGET_ORDERS_PER_SELLER = 1
SOURCE = "fleet benchmark"

# Shares of the fleet and of orders (see the package docstring).
INITIAL_SHARE = 0.78
PENDING_SHARE = 0.02
CANCEL_SHARE = 0.01
LOST_SHARE = 0.01
OVERTURN_SHARE = 0.08
CASE_SHARE = 0.55
REVOKE_SHARE = 0.20
ACCEPT_SHARE = 0.80

# (code, weight, legal form, cities); weights are shares of the fleet.
COUNTRIES: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    ("DE", 22, "GmbH", ("Berlin", "Hamburg", "Köln", "Leipzig")),
    ("FR", 16, "SAS", ("Paris", "Lyon", "Lille", "Nantes")),
    ("IT", 11, "S.r.l.", ("Milano", "Torino", "Bologna", "Napoli")),
    ("ES", 11, "S.L.", ("Madrid", "Barcelona", "Valencia", "Sevilla")),
    ("NL", 8, "B.V.", ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven")),
    ("PL", 7, "sp. z o.o.", ("Warszawa", "Kraków", "Poznań", "Wrocław")),
    ("BE", 5, "SRL", ("Bruxelles", "Antwerpen", "Gent", "Liège")),
    ("AT", 5, "GmbH", ("Wien", "Graz", "Linz", "Salzburg")),
    ("SE", 4, "AB", ("Stockholm", "Göteborg", "Malmö", "Uppsala")),
    ("PT", 4, "Lda.", ("Lisboa", "Porto", "Braga", "Coimbra")),
    ("IE", 3, "Ltd", ("Dublin", "Cork", "Galway", "Limerick")),
    ("DK", 2, "ApS", ("København", "Aarhus", "Odense", "Aalborg")),
    ("CZ", 2, "s.r.o.", ("Praha", "Brno", "Ostrava", "Plzeň")),
)
NAME_HEADS = ("Re", "Neo", "Eco", "Second", "Green", "Smart", "Nova", "Prime", "Circular",
              "Revive", "Loop", "Bright", "Swift", "Urban", "Fresh", "Blue", "Phoenix", "Renew")
NAME_TAILS = ("Devices", "Mobile", "Tech", "Electronics", "Phones", "Trade", "Store", "Cycle",
              "Works", "Hub", "Market", "Labs", "Supply", "Gadgets", "Refurb")

# (device model, category, typical price in euros at grade excellent)
DEVICE_MODELS: tuple[tuple[str, str, int], ...] = (
    ("iPhone 11 64 GB", "smartphone", 239), ("iPhone 12 128 GB", "smartphone", 329),
    ("iPhone 13 128 GB", "smartphone", 419), ("iPhone 14 128 GB", "smartphone", 519),
    ("iPhone 15 128 GB", "smartphone", 639), ("Galaxy S21 128 GB", "smartphone", 289),
    ("Galaxy S22 256 GB", "smartphone", 379), ("Galaxy S23 256 GB", "smartphone", 499),
    ("Galaxy A54 128 GB", "smartphone", 219), ("Pixel 7 128 GB", "smartphone", 299),
    ("Pixel 8 128 GB", "smartphone", 429), ("Xiaomi 13 256 GB", "smartphone", 349),
    ("iPad (9th gen) 64 GB", "tablet", 229), ("iPad Air (5th gen) 64 GB", "tablet", 429),
    ("iPad Pro 11 (3rd gen) 128 GB", "tablet", 619), ("Galaxy Tab S8 128 GB", "tablet", 399),
    ("Galaxy Tab A8 32 GB", "tablet", 149),
    ("MacBook Air M1 256 GB", "laptop", 689), ("MacBook Air M2 256 GB", "laptop", 899),
    ("MacBook Pro 14 M1 Pro 512 GB", "laptop", 1349), ("ThinkPad T14 Gen 2", "laptop", 549),
    ("Dell Latitude 7420", "laptop", 499), ("HP EliteBook 840 G8", "laptop", 529),
    ("Surface Laptop 4", "laptop", 649),
)
CATEGORY_SHARE = {"smartphone": 0.8, "tablet": 0.35, "laptop": 0.35}
GRADE_WEIGHTS = {"premium": 10, "excellent": 40, "good": 35, "fair": 15}
GRADE_PRICE = {"premium": 1.12, "excellent": 1.0, "good": 0.9, "fair": 0.8}

STAFF: tuple[tuple[str, str, str], ...] = (
    ("clara.weiss", "Clara Weiss", "vetting"),
    ("tomas.ortega", "Tomás Ortega", "vetting"),
    ("ingrid.larsen", "Ingrid Larsen", "compliance"),
    ("anna.becker", "Anna Becker", "inspector"),
    ("luca.romano", "Luca Romano", "inspector"),
    ("sofia.almeida", "Sofia Almeida", "inspector"),
    ("jan.devries", "Jan de Vries", "inspector"),
    ("marta.kowalska", "Marta Kowalska", "inspector"),
    ("emile.dubois", "Émile Dubois", "inspector"),
)
STAFF_DOMAIN = "fleet.labelkeeper.example"
CONFIRM_REASONS = (
    "Findings confirmed from the inspection photos and checkpoint notes.",
    "Statistics and the inspected units agree; the suspension stands.",
    "Reviewed the orders behind the signal; the defects are the seller's.",
)
CRITICAL_CONFIRM_NOTES = (
    "Checked on the device myself: the critical checkpoint fails again.",
    "Second look on the bench: same result, photos attached to the order.",
    "Confirmed on the device after a full reset.",
)
OVERTURN_REASONS = (
    "Transit damage documented by the carrier; the unit left the seller intact.",
    "The failed checkpoint was a mis-recorded result; the device works as listed.",
)
CASE_SUMMARIES = {
    "appeal": "The seller disputes the findings and sends its own test reports.",
    "corrective_action": "New final test station, battery supplier changed, staff retrained.",
}
ACCEPT_REASONS = ("Corrective actions verified on a sample of stock.",
                  "Appeal accepted after the seller's evidence was checked.")
REJECT_REASONS = ("The plan does not address the failed checkpoints.",
                  "The evidence does not explain the defects found.")


def identity(country: str, rng: random.Random) -> tuple[str, str]:
    """A plausible registration number and VAT ID (in the country's VIES format)."""
    if country == "DE":
        return f"HRB {rng.randint(10000, 299999)}", f"DE{rng.randint(10**8, 10**9 - 1)}"
    if country == "AT":
        return (f"FN {rng.randint(100000, 599999)}{rng.choice('abdfghikmpstvwxyz')}",
                f"ATU{rng.randint(10**7, 10**8 - 1)}")
    if country == "FR":
        siren = str(rng.randint(300000000, 999999999))
        return f"{siren[:3]} {siren[3:6]} {siren[6:]}", f"FR{rng.randint(10, 99)}{siren}"
    if country == "BE":
        number = f"0{rng.randint(200000000, 999999999)}"
        return f"{number[:4]}.{number[4:7]}.{number[7:]}", f"BE{number}"
    if country == "NL":
        return str(rng.randint(10**7, 10**8 - 1)), f"NL{rng.randint(10**8, 10**9 - 1)}B01"
    if country == "IT":
        return (f"{rng.choice(('MI', 'RM', 'TO', 'NA', 'BO'))}-{rng.randint(1000000, 2999999)}",
                f"IT{rng.randint(0, 10**11 - 1):011d}")
    if country == "ES":
        cif = f"B{rng.randint(10**7, 10**8 - 1)}"
        return f"{cif[0]}-{cif[1:]}", f"ES{cif}"
    if country == "PT":
        nipc = rng.randint(500000000, 599999999)
        return str(nipc), f"PT{nipc}"
    if country == "PL":
        return (f"KRS {rng.randint(1, 999999):010d}",
                f"PL{rng.randint(10**9, 10**10 - 1)}")
    if country == "SE":
        org = f"559{rng.randint(0, 9999999):07d}"
        return f"{org[:6]}-{org[6:]}", f"SE{org}01"
    if country == "DK":
        cvr = rng.randint(10**7, 10**8 - 1)
        return f"CVR {cvr}", f"DK{cvr}"
    if country == "IE":
        return (f"CRO {rng.randint(100000, 799999)}",
                f"IE{rng.randint(10**6, 10**7 - 1)}{rng.choice('ABCDEFGHIJKLMNOPQRSTUVW')}")
    ico = rng.randint(10**7, 10**8 - 1)  # CZ
    return f"ICO {ico}", f"CZ{ico}"


def units(rng: random.Random, size: float) -> int:
    """Monthly units of a listing: log-normal, times the seller's size (a few very large)."""
    return max(1, min(5000, int(size * rng.lognormvariate(2.3, 0.9))))
