"""The demo pool of buyer identities: 40 private buyers across the marketplace's countries, with
a plausible name, shipping address and masked payment reference each.

Generated from a fixed seed, so every demo database gets the same pool; added through the
buyer identity service (`qc.services.buyers`), like identities a compliance officer types in.
"""

from __future__ import annotations

import hashlib
import random

from sqlalchemy import select

from core.db import db
from core.models import User
from qc.models import BuyerIdentity
from qc.services.buyers import IdentityInput, create_identity, name_key

DEMO_POOL_SIZE = 40
SEED = "labelkeeper demo buyer identities"

# Identities per country (the marketplace's 13), roughly as its sellers are spread; 40 in all.
SHARES = (("DE", 7), ("FR", 5), ("IT", 4), ("ES", 4), ("NL", 3), ("PL", 3), ("BE", 2),
          ("AT", 2), ("SE", 2), ("PT", 2), ("IE", 2), ("DK", 2), ("CZ", 2))

# Per country: first names, surnames, streets, (postcode, town) and the country as addressed.
PEOPLE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...],
                        tuple[tuple[str, str], ...], str]] = {
    "DE": (("Anna", "Jonas", "Lea", "Felix", "Miriam", "Tobias", "Katrin", "Stefan", "Julia"),
           ("Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Schäfer", "Koch",
            "Richter", "Klein"),
           ("Hauptstraße", "Lindenstraße", "Schillerstraße", "Goethestraße", "Bahnhofstraße",
            "Am Mühlbach", "Kastanienallee"),
           (("10115", "Berlin"), ("20095", "Hamburg"), ("50667", "Köln"), ("04109", "Leipzig"),
            ("80331", "München"), ("70173", "Stuttgart")), "Germany"),
    "FR": (("Camille", "Julien", "Manon", "Thomas", "Claire", "Nicolas", "Élodie", "Antoine"),
           ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux"),
           ("rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Voltaire",
            "rue des Lilas"),
           (("75011", "Paris"), ("69003", "Lyon"), ("59000", "Lille"), ("44000", "Nantes"),
            ("31000", "Toulouse")), "France"),
    "IT": (("Giulia", "Marco", "Francesca", "Luca", "Chiara", "Matteo", "Sara", "Andrea"),
           ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
           ("Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele II", "Via Mazzini",
            "Via dei Mille"),
           (("20121", "Milano MI"), ("10121", "Torino TO"), ("40121", "Bologna BO"),
            ("80134", "Napoli NA")), "Italy"),
    "ES": (("Lucía", "Javier", "Marta", "Pablo", "Elena", "Sergio", "Carmen", "Álvaro"),
           ("García", "Fernández", "López", "Martínez", "Sánchez", "Romero", "Navarro", "Torres"),
           ("Calle Mayor", "Calle de Alcalá", "Avenida de la Constitución", "Calle Real",
            "Paseo de Gracia"),
           (("28013", "Madrid"), ("08007", "Barcelona"), ("46002", "Valencia"),
            ("41004", "Sevilla")), "Spain"),
    "NL": (("Sanne", "Daan", "Lotte", "Bram", "Eva", "Ruben"),
           ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit"),
           ("Keizersgracht", "Hoofdstraat", "Kerkstraat", "Stationsweg", "Dorpsstraat"),
           (("1015 CX", "Amsterdam"), ("3011 AA", "Rotterdam"), ("3511 LX", "Utrecht"),
            ("5611 AB", "Eindhoven")), "Netherlands"),
    "PL": (("Katarzyna", "Piotr", "Agnieszka", "Tomasz", "Magdalena", "Paweł"),
           ("Nowak", "Kowalski", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski"),
           ("ul. Marszałkowska", "ul. Długa", "ul. Słowackiego", "ul. Mickiewicza"),
           (("00-624", "Warszawa"), ("31-011", "Kraków"), ("61-772", "Poznań"),
            ("50-077", "Wrocław")), "Poland"),
    "BE": (("Louise", "Arthur", "Emma", "Lucas", "Nora"),
           ("Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Claes"),
           ("Rue Royale", "Meir", "Veldstraat", "Rue Saint-Gilles"),
           (("1000", "Bruxelles"), ("2000", "Antwerpen"), ("9000", "Gent"),
            ("4000", "Liège")), "Belgium"),
    "AT": (("Lena", "Florian", "Sophie", "Lukas", "Theresa"),
           ("Gruber", "Huber", "Bauer", "Pichler", "Steiner", "Moser"),
           ("Mariahilfer Straße", "Herrengasse", "Landstraße", "Getreidegasse"),
           (("1060", "Wien"), ("8010", "Graz"), ("4020", "Linz"), ("5020", "Salzburg")),
           "Austria"),
    "SE": (("Elin", "Erik", "Maja", "Oskar", "Ebba"),
           ("Andersson", "Johansson", "Karlsson", "Nilsson", "Lindqvist"),
           ("Drottninggatan", "Storgatan", "Kungsgatan", "Västra Hamngatan"),
           (("111 51", "Stockholm"), ("411 07", "Göteborg"), ("211 22", "Malmö"),
            ("753 20", "Uppsala")), "Sweden"),
    "PT": (("Inês", "João", "Beatriz", "Tiago", "Mariana"),
           ("Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa"),
           ("Rua Augusta", "Avenida da Liberdade", "Rua de Santa Catarina", "Rua do Souto"),
           (("1100-053", "Lisboa"), ("4000-443", "Porto"), ("4700-327", "Braga"),
            ("3000-150", "Coimbra")), "Portugal"),
    "IE": (("Aoife", "Cian", "Niamh", "Seán", "Róisín"),
           ("Murphy", "Kelly", "O'Sullivan", "Walsh", "Byrne", "Ryan"),
           ("Grafton Street", "Main Street", "Patrick Street", "Shop Street"),
           (("D02 XY45", "Dublin 2"), ("T12 P2C8", "Cork"), ("H91 E2K3", "Galway"),
            ("V94 T9PX", "Limerick")), "Ireland"),
    "DK": (("Freja", "Mads", "Ida", "Rasmus", "Sofie"),
           ("Jensen", "Nielsen", "Hansen", "Pedersen", "Christensen"),
           ("Vesterbrogade", "Nørregade", "Strøget", "Jernbanegade"),
           (("1620", "København V"), ("8000", "Aarhus C"), ("5000", "Odense C"),
            ("9000", "Aalborg")), "Denmark"),
    "CZ": (("Tereza", "Jakub", "Lucie", "Martin", "Veronika"),
           ("Novák", "Svobodová", "Dvořák", "Černá", "Procházka"),
           ("Vinohradská", "Masarykova", "Nádražní", "Palackého"),
           (("120 00", "Praha 2"), ("602 00", "Brno"), ("702 00", "Ostrava"),
            ("301 00", "Plzeň")), "Czech Republic"),
}
CARD_BRANDS = ("card", "Visa", "Mastercard", "Maestro", "Visa debit")


def _address(country: str, street: str, number: int, rng: random.Random) -> tuple[str, ...]:
    """A street line in the country's usual order (number first in FR, IE)."""
    if country in ("FR", "IE"):
        return (f"{number} {street}",)
    if country == "ES":
        return (f"{street} {number}, {rng.randint(1, 6)}º {rng.choice('ABCD')}",)
    if country == "PL":
        return (f"{street} {number} m. {rng.randint(1, 40)}",)
    if country == "AT":
        return (f"{street} {number}/{rng.randint(1, 12)}",)
    if country == "DK":
        return (f"{street} {number}, {rng.randint(1, 4)}. {rng.choice(('th.', 'tv.'))}",)
    if country == "PT":
        return (f"{street} {number}, {rng.randint(1, 5)}º {rng.choice(('Esq.', 'Dto.'))}",)
    return (f"{street} {number}",)


def demo_buyer_identities() -> list[IdentityInput]:
    """The demo pool: the same 40 identities on every run, names distinct."""
    rng = random.Random(hashlib.sha256(SEED.encode()).digest())  # noqa: S311 - demo data
    names: set[str] = set()
    endings: set[str] = set()
    out = []
    for country, count in SHARES:
        firsts, lasts, streets, towns, country_name = PEOPLE[country]
        for _ in range(count):
            name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
            while name_key(name) in names:
                name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
            names.add(name_key(name))
            postcode, town = rng.choice(towns)
            town_line = (f"{town}\n{postcode}" if country == "IE"
                         else f"{postcode} {town}")
            street = _address(country, rng.choice(streets), rng.randint(1, 180), rng)
            ending = f"{rng.randint(0, 9999):04d}"
            while ending in endings:
                ending = f"{rng.randint(0, 9999):04d}"
            endings.add(ending)
            out.append(IdentityInput(
                name=name, address="\n".join((*street, town_line, country_name)),
                payment_reference=f"{rng.choice(CARD_BRANDS)} ****{ending}"))
    return out


def ensure_demo_buyers(actor: User | None = None) -> int:
    """Add the demo identities whose names are not taken yet; return how many were added."""
    taken = set(db.session.execute(select(BuyerIdentity.name_key)).scalars())
    added = 0
    for identity in demo_buyer_identities():
        if name_key(identity.name) not in taken:
            create_identity(identity, actor)
            added += 1
    return added
