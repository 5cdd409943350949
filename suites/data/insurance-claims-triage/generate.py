"""Generate the insurance-claims-triage suite: claim narratives mapped to a triage decision.

Each item is a claim narrative for a product of the fictional insurer "Brindlecombe Mutual"
(see ../insurance-policy-qa/handbook.jsonl), written as a member's email, an agent's phone
note or a web-form submission. The gold answer is "line: <line>; severity: <severity>;
route: <route>", and every label is a deterministic function of facts stated in the text.

Severity (first rule that matches wins):
  critical  the insured person has died (life death claims), OR someone was admitted to
            hospital, OR the claimed amount is >= $50,000
  major     the home/flat is stated to be unfit to live in, OR someone was hurt and treated
            (hospital, emergency room or paramedics) but not admitted, OR a terminal-illness
            claim, OR the claimed amount is >= $10,000
  moderate  the claimed amount is >= $1,000
  minor     anything else (amount < $1,000, nobody hurt, home still habitable)

Route (precedence: first rule that matches wins):
  1. decline        the narrative matches an exclusion the handbook lists for that product
  2. investigation  a stated fraud signal, OR the event happened more days ago than the
                    product's claim deadline (life has no deadline, so never late)
  3. emergency      severity is critical
  4. fast_track     severity is minor
  5. adjuster       everything else

Claim deadlines (days, from the handbook): home 37, renters 26, motor 9, travel 45, pet 63,
dental 92, health 118, business 21, life none, gadget 5. Reported on the deadline day is in
time. Fraud signals: the member asks for payment to someone else, offers made-up receipts or
a witness who was not there, asks for an earlier date to be recorded, would rather not involve
the police (or the family doctor); or the agent notes a changing story or mismatched photos.
A fact that the narrative does not state is absent (no injury, habitable, no exclusion).
The facts behind every item are kept while generating; the self-check re-applies the rules
to them and checks that the phrases stating them survived the noise.

Outputs, written next to this file: train.jsonl, dev.jsonl, eval.jsonl.
Run from anywhere:  python3 suites/data/insurance-claims-triage/generate.py
Deterministic (fixed seed, no clock); a self-check runs after writing.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 20261207
OUT_DIR = Path(__file__).resolve().parent
HANDBOOK = OUT_DIR.parent / "insurance-policy-qa" / "handbook.jsonl"
ID_PREFIX = "ct"
SPLIT_SIZES: dict[str, int] = {"train": 750, "dev": 150, "eval": 300}

LINES: tuple[str, ...] = (
    "home",
    "renters",
    "motor",
    "travel",
    "pet",
    "dental",
    "health",
    "business",
    "life",
    "gadget",
)
SEVERITIES: tuple[str, ...] = ("minor", "moderate", "major", "critical")
ROUTES: tuple[str, ...] = ("fast_track", "adjuster", "investigation", "decline", "emergency")
CHANNELS: tuple[str, ...] = ("email", "phone", "web_form")
CHANNEL_BLOCK: tuple[str, ...] = ("email",) * 4 + ("phone",) * 3 + ("web_form",) * 3

# Severity amount bands (claimed amount in dollars, inclusive lower bounds).
CRITICAL_AMOUNT = 50_000
MAJOR_AMOUNT = 10_000
MODERATE_AMOUNT = 1_000

# Sampling rates.
P_EXCLUDED = 0.15
P_FRAUD = 0.07
P_LATE = 0.11
P_UNINHABITABLE = 0.35
P_NOISE = 0.20
P_AMOUNT_NEAR_BAND = 0.2
P_DETAIL = 0.5
LEAK_GUARD = 0.72  # stdlib TF-IDF cosine; dev/eval drafts this close to a train item are redrawn

# ---------------------------------------------------------------------------
# Products (facts copied from the handbook; the self-check re-reads the handbook).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    name: str
    short: str
    doc_slug: str
    deadline: int | None  # claim must be reported within this many days
    generic: tuple[str, ...]  # how a member names the cover without the product name


PRODUCTS: dict[str, Product] = {
    "home": Product(
        "Hearthward Plus",
        "Hearthward",
        "hearthward",
        37,
        ("home insurance", "house insurance", "buildings and contents insurance"),
    ),
    "renters": Product(
        "Tenant Satchel",
        "Tenant Satchel",
        "tenant-satchel",
        26,
        ("renters insurance", "renters contents insurance", "tenant's insurance"),
    ),
    "motor": Product(
        "Roadwright Comprehensive",
        "Roadwright",
        "roadwright",
        9,
        ("car insurance", "motor insurance", "car policy"),
    ),
    "travel": Product(
        "Wayfarer Gull",
        "Wayfarer Gull",
        "wayfarer-gull",
        45,
        ("travel insurance", "holiday insurance"),
    ),
    "pet": Product(
        "Pawsmith Lifetime", "Pawsmith", "pawsmith", 63, ("pet insurance", "pet policy")
    ),
    "dental": Product(
        "Molar Meridian",
        "Molar Meridian",
        "molar-meridian",
        92,
        ("dental plan", "dental insurance"),
    ),
    "health": Product(
        "Brightwell Health Select",
        "Brightwell",
        "brightwell",
        118,
        ("health insurance", "private medical cover"),
    ),
    "business": Product(
        "Counterstone Business",
        "Counterstone",
        "counterstone",
        21,
        ("business insurance", "shop insurance"),
    ),
    "life": Product(
        "Evergreen Ledger Term",
        "Evergreen Ledger",
        "evergreen-ledger",
        None,
        ("life insurance", "life cover"),
    ),
    "gadget": Product(
        "Pocketvault Gadget",
        "Pocketvault",
        "pocketvault",
        5,
        ("gadget insurance", "device cover"),
    ),
}

# Exclusions per line: key -> the handbook's own wording (checked against the handbook).
EXCLUSIONS: dict[str, dict[str, str]] = {
    "home": {
        "wear_tear": "wear and tear, gradual deterioration or poor workmanship",
        "empty": "left empty for a long stretch",
        "deliberate": "deliberately caused by anyone living at the property",
        "frost": "Frost damage to outbuildings",
        "appliance": "mechanical breakdown of domestic appliances",
        "gutters": "clearing blocked gutters",
    },
    "renters": {
        "cash": "cash, travel tickets and gift cards",
        "flatmate": "belonging to a flatmate who is not named on the schedule",
        "no_force": "Theft is only covered where there are signs of forced entry",
        "pets": "Damage by pets",
        "mould": "mould and condensation",
        "unlocked_car": "items left in an unlocked vehicle",
        "electrical": "Electrical faults that are not the result of an insured event",
    },
    "motor": {
        "breakdown": "mechanical or electrical breakdown",
        "tyre": "tyre damage caused by braking or punctures",
        "loss_value": "loss of value after a repair",
        "unnamed": "driven by someone who is not named on the policy",
        "drink": "over the legal alcohol limit",
        "racing": "used for racing or timed events",
        "keys_left": "keys were left in or on the car",
    },
    "travel": {
        "gov_advice": "travel against official government advice",
        "undeclared": "medical conditions that were not declared",
        "influence": "under the influence of alcohol or drugs",
        "diving": "Deep scuba diving",
        "climbing": "mountaineering with ropes",
        "not_reported": "not reported to the carrier or to local police",
        "changed_mind": "simply decides not to go",
    },
    "pet": {
        "routine": "routine care such as vaccinations, flea and worm treatment, neutering",
        "preexisting": "showed symptoms before cover started",
        "breeding": "Breeding costs, pregnancy and whelping",
        "grooming": "grooming, cosmetic surgery or the cost of a pet passport",
    },
    "dental": {
        "cosmetic": "cosmetic procedures, including veneers and tooth bleaching",
        "started_before": "treatment that was started before membership began",
        "charges": "Prescription charges and missed appointment charges",
        "abroad": "Treatment carried out abroad",
        "sports": "accident while playing contact sports",
    },
    "health": {
        "chronic": "chronic conditions once they have been stabilised",
        "pregnancy": "routine pregnancy care",
        "cosmetic": "procedure carried out for cosmetic reasons",
        "public_emergency": "Emergency admissions to public hospitals",
        "rehab": "Drug and alcohol rehabilitation",
        "experimental": "experimental therapies",
        "hobby": "dangerous hobbies such as motor racing",
    },
    "business": {
        "gradual_stock": "gradual deterioration of stock",
        "unsecured": "failure to keep the premises secure overnight",
        "faulty_work": "faulty work carried out for customers",
        "fine": "Fines and penalties imposed by regulators",
        "staff_claim": "claims made by staff against the business",
        "business_vehicle": "Business vehicles must be insured under a separate motor policy",
    },
    "life": {
        "riot": "taking part in a riot",
        "flying": "flying other than as a fare-paying passenger",
        "undisclosed": "deliberately not disclosed on the application",
        "military": "military service in a conflict zone",
    },
    "gadget": {
        "scratches": "cosmetic scratches or dents that do not stop the device working",
        "warranty": "faults covered by the manufacturer's warranty",
        "software": "software problems and viruses",
        "unattended_car": "Theft from an unattended vehicle",
        "modified": "modified, jailbroken or repaired by an unapproved engineer",
    },
}

# ---------------------------------------------------------------------------
# Events. `first` sentences are first person (email, web form); `note` fragments are an
# agent's call note. Placeholders: {when} (optional, always written " {when}" mid-sentence),
# {car} {city} {pet} {device} {biz} {rel}. Events with `exclusion` set are excluded by
# themselves; `modifiers` name exclusion add-ons (MODIFIERS) that can be stated with them.
# ---------------------------------------------------------------------------

Pair = tuple[str, str]  # (first-person form, call-note form)
Row = dict[str, Any]  # one JSONL record


@dataclass(frozen=True)
class Event:
    key: str
    first: tuple[str, ...]
    note: tuple[str, ...]
    amount: tuple[int, int]
    exclusion: str | None = None
    modifiers: tuple[str, ...] = ()
    injury: tuple[str, ...] = ()  # levels to draw from: "none", "treated", "hospital"
    who: tuple[Pair, ...] = (("I", "cust"),)
    uninhabitable: bool = False
    death: bool = False
    terminal: bool = False
    details: tuple[Pair, ...] = ()
    amount_first: tuple[str, ...] = ()  # overrides the generic amount sentences
    amount_step: int = 0  # round the amount to this step (0: a size-dependent step)


@dataclass(frozen=True)
class Modifier:
    first: tuple[str, ...]
    note: tuple[str, ...]


MOTOR_WHO: tuple[Pair, ...] = (
    ("I", "cust"),
    ("My passenger", "pax"),
    ("The other driver", "TP driver"),
    ("My daughter, who was in the back,", "cust's daughter (rear pax)"),
)
HOME_WHO: tuple[Pair, ...] = (
    ("I", "cust"),
    ("My husband", "cust's husband"),
    ("My wife", "cust's wife"),
    ("Our son", "cust's son"),
)
RENT_WHO: tuple[Pair, ...] = (("I", "cust"), ("My partner", "cust's partner"))
SOME_INJURY = ("none", "none", "treated", "hospital")

LIFE_DEATH_AMOUNT = (
    "The sum assured on the policy is {amt}.",
    "I understand the policy pays {amt}.",
    "I'm claiming the death benefit of {amt}.",
)

EVENTS: dict[str, tuple[Event, ...]] = {
    "home": (
        Event(
            "burst_pipe",
            (
                "A pipe burst in the upstairs bathroom of our house {when} and water came through the kitchen ceiling.",
                "Water was found pouring from a split pipe under the floor of our house, and the downstairs flooring is ruined.",
                "The pipe feeding the hot water tank in our home gave way {when} and soaked the hallway and living room.",
                "A burst pipe behind the bathroom wall of the house we own has been leaking, and the plaster downstairs has come down.",
            ),
            (
                "burst pipe at insured house, water thru kitchen ceiling",
                "escape of water from split pipe under floor at home, flooring ruined",
                "hot water tank pipe failed at PH's house, hall + lounge soaked",
            ),
            (700, 30000),
            modifiers=("empty",),
            uninhabitable=True,
        ),
        Event(
            "storm_roof",
            (
                "The storm {when} ripped a large section of tiles off our roof and rain got into the loft.",
                "High winds lifted part of the roof on our house and the bedroom ceiling is now stained and sagging.",
                "Our chimney stack was blown down in the gale {when} and went straight through the roof of the house.",
            ),
            (
                "storm dmg to roof of own home, tiles off, rain in loft",
                "gale brought chimney down thru roof of house",
                "wind lifted section of roof, bedroom ceiling sagging",
            ),
            (500, 25000),
            modifiers=("empty",),
            uninhabitable=True,
        ),
        Event(
            "kitchen_fire",
            (
                "A pan caught fire in our kitchen {when} and the flames spread to the cupboards and ceiling.",
                "We had a fire at home that started in the toaster, and smoke has damaged most of the ground floor.",
                "An electrical fire broke out in the utility room of our house {when} and the fire brigade had to put it out.",
            ),
            (
                "kitchen fire at insured home, cupboards + ceiling burnt",
                "house fire started in toaster, smoke dmg ground floor",
                "elec fire in utility room at home, fire brigade attended",
            ),
            (1500, 120000),
            modifiers=("deliberate",),
            injury=SOME_INJURY,
            who=HOME_WHO,
            uninhabitable=True,
        ),
        Event(
            "burglary",
            (
                "Our house was broken into {when}; the back door was forced and jewellery and a television were taken.",
                "Burglars smashed the patio door of our home and took our laptops and a watch.",
                "Someone forced a window at the back of our house {when} and took my camera, a games console and some jewellery.",
            ),
            (
                "burglary at home, rear door forced, jewellery + TV taken",
                "break-in at house via patio door, laptops + watch stolen, police attended",
            ),
            (400, 20000),
            modifiers=("empty",),
        ),
        Event(
            "glass",
            (
                "My son kicked a football through the big front window of our house {when} and it shattered.",
                "The glass panel in our back door cracked right across when the door slammed in the wind.",
                "A gust caught the conservatory door at home {when} and the glass broke.",
            ),
            (
                "accidental glass breakage, front window at home",
                "glass panel in rear door of house cracked when door slammed",
            ),
            (150, 3000),
            modifiers=("deliberate",),
        ),
        Event(
            "locks",
            (
                "My keys were stolen from my bag in town {when}, so we need all the locks at home changed.",
                "I lost my house keys with our address tag on them and had a locksmith replace the front and back door locks.",
            ),
            (
                "house keys stolen, all locks at home to be replaced",
                "lost keys w/ address tag, locksmith replaced door locks at house",
            ),
            (120, 1300),
        ),
        Event(
            "garden",
            (
                "A neighbour's tree came down {when} and flattened the shrubs and plants in our garden.",
                "A delivery lorry reversed into the front garden of our house and destroyed the hedge and flower beds.",
            ),
            (
                "tree fell, garden plants + shrubs at home destroyed",
                "lorry reversed into front garden of house, hedge + beds ruined",
            ),
            (200, 4000),
        ),
        Event(
            "wear_tear",
            (
                "The wooden window frames at the back of our house have slowly rotted over the years and now need replacing.",
                "The roof of our house has been gradually deteriorating for a long time and now it leaks whenever it rains; it's just old.",
                "The builder who fitted our new bathroom did a poor job and the tiles are already coming away from the wall.",
            ),
            (
                "window frames at house rotted over years (wear + tear)",
                "roof of home leaking due to gradual deterioration, age-related",
                "bathroom tiles at house failing, poor workmanship by builder",
            ),
            (300, 9000),
            exclusion="wear_tear",
        ),
        Event(
            "appliance",
            (
                "Our washing machine stopped working {when}; the engineer says the motor has failed.",
                "The dishwasher at home broke down {when} and needs a new pump.",
                "Our fridge freezer at the house has had a mechanical breakdown and the compressor needs replacing.",
            ),
            (
                "washing machine motor failed (mech breakdown of appliance at home)",
                "dishwasher at home broken down, pump failure",
            ),
            (150, 2500),
            exclusion="appliance",
        ),
        Event(
            "gutters",
            (
                "The gutters on our house are completely blocked with leaves and moss, and I'd like to claim the cost of clearing them.",
                "We had to pay someone to clear the blocked gutters at home because rain was spilling down the walls.",
            ),
            ("PH wants cost of clearing blocked gutters at house reimbursed",),
            (90, 900),
            exclusion="gutters",
        ),
        Event(
            "frost",
            (
                "The hard frost {when} cracked the walls of the brick outbuilding at the bottom of our garden.",
                "Frost split the water pipe and the concrete floor in the old outhouse next to our house.",
            ),
            ("frost dmg to outbuilding at home (walls cracked)",),
            (200, 5000),
            exclusion="frost",
        ),
    ),
    "renters": (
        Event(
            "burglary",
            (
                "Someone forced the front door of the flat I rent {when} and took my laptop, camera and some jewellery.",
                "My rented apartment was burgled {when}; the lock was snapped and my TV and games console are gone.",
                "Thieves forced the window of my rented room and stole my belongings, including a guitar and my headphones.",
            ),
            (
                "renter, forced entry to flat, laptop/camera/jewellery stolen",
                "burglary at rented apt, lock snapped, TV + console taken",
            ),
            (300, 15000),
        ),
        Event(
            "theft_home",
            (
                "My laptop and a designer coat were stolen from the flat I rent {when}.",
                "Some of my belongings went missing from my rented flat {when}: a tablet, a watch and a leather jacket.",
            ),
            (
                "tenant reports laptop + coat stolen from rented flat",
                "items taken from rented flat (tablet, watch, jacket)",
            ),
            (200, 6000),
            modifiers=("no_force", "flatmate"),
            details=(("The police have given me a crime reference.", "police report made"),),
        ),
        Event(
            "fire_flat",
            (
                "A fire started in the flat below mine {when} and smoke ruined my clothes, sofa and bedding; the landlord is dealing with the building.",
                "An electrical fire in the kitchen of my rented flat damaged most of my things.",
            ),
            (
                "fire in flat below, tenant's contents smoke damaged, landlord handling bldg",
                "elec fire in rented flat kitchen, tenant's contents damaged",
            ),
            (500, 30000),
            injury=SOME_INJURY,
            who=RENT_WHO,
            uninhabitable=True,
        ),
        Event(
            "leak",
            (
                "Water came through my ceiling from the flat upstairs {when} and soaked my laptop, rug and books; I rent the place.",
                "The tenant upstairs left a bath running and it ruined the furniture and clothes in the flat I rent.",
            ),
            (
                "water ingress from flat above, renter's contents damaged (laptop, rug, books)",
                "upstairs bath overflowed, tenant's furniture ruined",
            ),
            (200, 8000),
            modifiers=("flatmate",),
            uninhabitable=True,
        ),
        Event(
            "bike",
            (
                "My bicycle was stolen from the locked bike store of the building where I rent a flat {when}.",
                "Someone cut through the lock on my bike outside my rented flat and rode off with it.",
            ),
            (
                "bicycle stolen from locked store at rented bldg",
                "renter's bike lock cut, bike stolen outside flat",
            ),
            (150, 2500),
            modifiers=("flatmate",),
        ),
        Event(
            "away_theft",
            (
                "My backpack with my laptop and headphones was stolen while I was out {when}; it's covered on my renters contents policy.",
                "A bag of my things, including a camera and a jacket, was taken while I was away from the flat I rent.",
            ),
            (
                "tenant's bag stolen away from home (laptop, headphones)",
                "renter: camera + jacket stolen while out",
            ),
            (100, 5000),
            modifiers=("unlocked_car",),
            details=(
                ("It was taken from under my table in a café.", "taken from under table in café"),
                (
                    "It was snatched from the luggage rack on a train.",
                    "taken from train luggage rack",
                ),
            ),
        ),
        Event(
            "freezer",
            (
                "A power cut in my rented flat lasted most of the weekend and everything in my freezer spoilt.",
                "The electricity to the building where I rent went off {when} and all the food in my freezer had to be thrown away.",
            ),
            (
                "power cut at rented flat, freezer contents spoilt",
                "tenant lost freezer food after outage",
            ),
            (40, 900),
        ),
        Event(
            "tv",
            (
                "I knocked my television off its stand while moving furniture in my rented flat {when}, and the screen cracked.",
                "I tripped over a cable in the flat I rent and sent my speakers and record player crashing to the floor.",
            ),
            (
                "tenant dropped TV moving furniture, screen cracked",
                "renter tripped, speakers + turntable broken",
            ),
            (150, 2500),
        ),
        Event(
            "cash",
            (
                "The cash I'd been saving in a drawer of my rented room and some gift cards have gone missing.",
                "Concert tickets and an envelope of cash were taken from my bag in the flat I rent.",
            ),
            (
                "claim for cash + gift cards missing from rented room",
                "travel tickets + cash taken (renter)",
            ),
            (50, 3000),
            exclusion="cash",
        ),
        Event(
            "pets",
            (
                "My cat has shredded the sofa and the curtains in the flat I rent.",
                "My dog chewed through the legs of my dining chairs and a rug in my rented flat.",
            ),
            ("renter's cat destroyed sofa + curtains", "dog chewed furniture in rented flat"),
            (100, 3000),
            exclusion="pets",
        ),
        Event(
            "mould",
            (
                "Mould from condensation in my rented flat has ruined my clothes, shoes and a mattress.",
                "Damp and condensation in the bedroom of the flat I rent have left black mould all over my furniture.",
            ),
            ("mould/condensation dmg to clothes + mattress (rented flat)",),
            (100, 4000),
            exclusion="mould",
        ),
        Event(
            "electrical",
            (
                "My television in the flat I rent just stopped working one evening; the repair shop says it's an internal electrical fault with no outside cause.",
                "My games console developed an electrical fault on its own and won't power on; nothing happened to it, and I rent my place.",
            ),
            ("tenant's TV failed, internal elec fault, no insured event",),
            (100, 2500),
            exclusion="electrical",
        ),
    ),
    "motor": (
        Event(
            "rear_ended",
            (
                "I was rear-ended at a roundabout {when} and the boot and bumper of my {car} are badly dented.",
                "Another driver went into the back of my {car} at the traffic lights {when}.",
                "Someone shunted my {car} from behind in queueing traffic on the ring road, crumpling the rear end.",
            ),
            (
                "veh rear-ended at roundabout, rear bumper + boot dmg",
                "cust's car hit from behind at lights, TP admits fault",
                "shunt in queueing traffic, rear end of veh crumpled",
            ),
            (300, 12000),
            modifiers=("unnamed", "drink"),
            injury=SOME_INJURY,
            who=MOTOR_WHO,
        ),
        Event(
            "junction",
            (
                "I collided with a van pulling out of a side road {when} and the front of my {car} is smashed in.",
                "My {car} and another car collided at a crossroads {when}, and both airbags went off.",
                "I was turning right at a junction when an oncoming car hit my {car} on the passenger side.",
            ),
            (
                "collision at junction w/ van, front end of veh smashed",
                "car vs car collision at crossroads, airbags deployed",
                "veh hit on passenger side turning at junction",
            ),
            (800, 30000),
            modifiers=("unnamed", "drink"),
            injury=SOME_INJURY,
            who=MOTOR_WHO,
        ),
        Event(
            "deer",
            (
                "I hit a deer on a country lane {when} and the bonnet and a headlight of my {car} are wrecked.",
                "A deer ran out in front of my {car} on the bypass and I couldn't avoid it.",
            ),
            ("veh struck deer on lane, bonnet + headlamp dmg", "car hit deer on bypass"),
            (400, 9000),
            modifiers=("unnamed",),
            injury=("none", "none", "treated"),
            who=(("I", "cust"), ("My passenger", "pax")),
        ),
        Event(
            "windscreen",
            (
                "A stone flew up from a lorry on the motorway {when} and cracked the windscreen of my {car}.",
                "A small chip in my {car}'s windscreen has spread into a long crack across the driver's side.",
            ),
            ("windscreen cracked by stone from lorry", "w/screen chip on car spread to crack"),
            (80, 1200),
        ),
        Event(
            "car_theft",
            (
                "My {car} was stolen from outside my house overnight {when}.",
                "Thieves took my {car} from the supermarket car park while I was shopping.",
            ),
            (
                "veh stolen from outside PH's house overnight",
                "car stolen from supermarket car park",
            ),
            (2000, 45000),
            modifiers=("keys_left",),
            details=(
                (
                    "I've reported it to the police and both keys are in my kitchen drawer.",
                    "both keys accounted for",
                ),
            ),
        ),
        Event(
            "vandalism",
            (
                "Someone keyed both sides of my {car} and snapped off a wing mirror while it was parked on the street.",
                "Vandals smashed the rear window of my {car} {when} and slashed the seats.",
            ),
            (
                "vandalism: veh keyed both sides, mirror snapped",
                "car rear window smashed + seats slashed by vandals",
            ),
            (150, 4000),
        ),
        Event(
            "hail_flood",
            (
                "A hailstorm {when} left dents all over the roof and bonnet of my {car}.",
                "My {car} was caught in a flash flood on a low road and water got inside.",
            ),
            ("hail dmg to car roof + bonnet", "veh caught in flash flood, water ingress"),
            (400, 15000),
        ),
        Event(
            "breakdown",
            (
                "The gearbox on my {car} failed on the motorway {when} and the garage says it needs replacing.",
                "My {car}'s engine management system failed with an electrical fault and it won't start.",
            ),
            ("mech breakdown, gearbox on veh failed", "elec fault, veh won't start"),
            (300, 5000),
            exclusion="breakdown",
        ),
        Event(
            "tyre",
            (
                "I got a puncture on the way to work {when} and the tyre on my {car} has to be replaced.",
                "Heavy braking to avoid a cyclist flat-spotted the front tyres of my {car}.",
            ),
            ("tyre dmg on car (puncture)", "car tyres damaged by heavy braking"),
            (80, 900),
            exclusion="tyre",
        ),
        Event(
            "loss_value",
            (
                "Since the accident repair on my {car} was finished, its resale value has dropped, and I want to claim the loss of value.",
                "The dealer says my {car} is worth much less now it has a repair history, and I'd like that difference paid.",
            ),
            ("claiming diminished value of car after repair",),
            (500, 6000),
            exclusion="loss_value",
        ),
        Event(
            "racing",
            (
                "I damaged the front of my {car} during a timed lap at a track day {when}.",
                "My {car} slid into a barrier while I was taking part in a sprint race at the local circuit.",
            ),
            ("car dmg during timed track event", "veh hit barrier in sprint race at circuit"),
            (500, 20000),
            exclusion="racing",
        ),
    ),
    "travel": (
        Event(
            "medical",
            (
                "I fell ill with a high fever while on holiday in {city} {when}.",
                "I slipped on a wet step at our hotel in {city} and broke my ankle.",
                "I developed severe stomach pains on my trip to {city} and needed a doctor.",
            ),
            (
                "cust fell ill w/ fever on trip to {city}",
                "cust broke ankle abroad ({city}), slipped at hotel",
                "cust severe abdo pain while travelling in {city}",
            ),
            (300, 200000),
            modifiers=("influence", "undeclared"),
            injury=("treated", "hospital"),
        ),
        Event(
            "road_abroad",
            (
                "I was knocked off a hired scooter in {city} {when} and hurt my shoulder.",
                "The taxi I was in crashed on the way to the airport in {city}.",
            ),
            (
                "scooter accident in {city}, cust's shoulder hurt",
                "cust in taxi crash abroad ({city})",
            ),
            (2000, 250000),
            modifiers=("influence",),
            injury=("treated", "hospital"),
        ),
        Event(
            "trip_cancel",
            (
                "I had to cancel my trip to {city} because my father became seriously ill shortly before I was due to fly.",
                "I had to call off my holiday to {city} when I was summoned for jury service during the week I was meant to be away.",
            ),
            (
                "trip to {city} cancelled, close relative seriously ill",
                "holiday to {city} cancelled due to jury service",
            ),
            (300, 7000),
        ),
        Event(
            "delayed_bag",
            (
                "My suitcase didn't arrive with me in {city} and only turned up at the end of the week, so I had to buy clothes and toiletries.",
                "The airline lost track of my bag on the way to {city} {when} and I had to buy essentials until it was returned.",
            ),
            (
                "bag delayed on arrival in {city}, essentials bought",
                "airline misrouted bag to {city}, emergency purchases",
            ),
            (50, 600),
            details=(("I reported it to the airline at the airport.", "reported to carrier"),),
        ),
        Event(
            "lost_passport",
            (
                "I lost my passport in {city} {when} and had to pay for an emergency travel document.",
                "My passport went missing from my hotel room in {city}, so I had to get a replacement before flying home.",
            ),
            (
                "passport lost in {city}, emergency travel doc",
                "passport missing at hotel in {city}, replacement obtained",
            ),
            (60, 500),
        ),
        Event(
            "stolen_luggage",
            (
                "My suitcase was stolen from the hotel lobby in {city} {when}, and I reported it to the local police.",
                "Thieves took my rucksack from a bus station in {city}; the police there gave me a report.",
            ),
            (
                "luggage stolen from hotel lobby in {city}, reported to police",
                "rucksack stolen at bus stn in {city}, police report obtained",
            ),
            (200, 4000),
        ),
        Event(
            "gov_advice",
            (
                "I went ahead with my trip to {city} even though the government was advising against all travel there, and my luggage was stolen.",
                "We travelled to {city} despite the official advice not to go, and then had to pay for an early flight home.",
            ),
            ("travelled to {city} against govt advice",),
            (200, 8000),
            exclusion="gov_advice",
        ),
        Event(
            "diving",
            (
                "I hurt my ears on a deep scuba dive off the coast near {city} {when}.",
                "During a deep scuba diving trip near {city} I came up too fast and became ill.",
            ),
            ("injury on deep scuba dive near {city}",),
            (500, 40000),
            exclusion="diving",
            injury=("treated", "hospital"),
        ),
        Event(
            "climbing",
            (
                "I fell while climbing with ropes on a mountaineering trip near {city} and injured my back.",
                "On a roped mountaineering climb near {city} {when} I slipped and broke my wrist.",
            ),
            ("fall during roped mountaineering near {city}",),
            (500, 60000),
            exclusion="climbing",
            injury=("treated", "hospital"),
        ),
        Event(
            "not_reported",
            (
                "My bag went missing at the airport in {city} {when}, but I didn't report it to the airline or the police.",
                "A case disappeared from our hotel in {city}; we never got round to telling the airline or the police.",
            ),
            ("luggage lost in {city}, not reported to carrier or police",),
            (100, 3000),
            exclusion="not_reported",
        ),
        Event(
            "changed_mind",
            (
                "I've decided not to go on my trip to {city} after all and would like my money back.",
                "I just don't feel like going to {city} any more, so I've cancelled the holiday.",
            ),
            ("cust decided not to travel to {city}, wants refund",),
            (200, 5000),
            exclusion="changed_mind",
        ),
    ),
    "pet": (
        Event(
            "swallowed",
            (
                "My dog {pet} swallowed a sock {when} and needed surgery to remove it.",
                "Our labrador {pet} ate a corn cob and the vet had to operate.",
            ),
            ("dog ({pet}) swallowed sock, surgery", "lab ({pet}) ate corn cob, op required"),
            (400, 4000),
        ),
        Event(
            "hit_by_car",
            (
                "Our cat {pet} was hit by a car {when} and broke her leg.",
                "My dog {pet} ran into the road and was clipped by a car, and needed x-rays and a cast.",
            ),
            ("cat ({pet}) hit by car, fractured leg", "dog ({pet}) clipped by car, xrays + cast"),
            (500, 6000),
        ),
        Event(
            "dental_illness",
            (
                "The vet found a badly infected tooth in my cat {pet}'s mouth and had to take it out.",
                "Our dog {pet} had gum disease and needed dental treatment under anaesthetic at the vet.",
            ),
            (
                "pet dental illness, cat ({pet}) tooth extraction",
                "dog ({pet}) gum disease, dental under GA",
            ),
            (200, 1500),
        ),
        Event(
            "behaviour",
            (
                "Our rescue dog {pet} has been having sessions with a behavioural therapist for anxiety.",
                "{pet}, our terrier, has started biting visitors, so we've been seeing a pet behaviourist.",
            ),
            ("behavioural therapy sessions, dog ({pet})",),
            (100, 700),
        ),
        Event(
            "kennel",
            (
                "While I was recovering from an operation, my dog {pet} had to stay in boarding kennels.",
                "I couldn't look after our dog {pet} while I recovered from surgery, so she went to boarding kennels {when}.",
            ),
            ("boarding kennel fees for dog ({pet}) while owner recovering",),
            (100, 1000),
        ),
        Event(
            "ear",
            (
                "My spaniel {pet} has a nasty ear infection and needed several vet visits and medication.",
                "Our cat {pet} kept shaking her head, and {when} the vet diagnosed an ear infection.",
            ),
            (
                "ear infection (dog, {pet}), vet visits + meds",
                "cat ({pet}) ear infection dx by vet",
            ),
            (80, 700),
            modifiers=("preexisting",),
        ),
        Event(
            "diabetes",
            (
                "Our cat {pet} was diagnosed with diabetes {when} and needs insulin and blood tests.",
                "The vet says my dog {pet} is diabetic and has started her on daily injections.",
            ),
            (
                "new diabetes dx, cat ({pet}), insulin + bloods",
                "dog ({pet}) diabetic, daily insulin",
            ),
            (300, 3000),
            modifiers=("preexisting",),
        ),
        Event(
            "routine",
            (
                "I'd like to claim for my dog {pet}'s annual vaccinations and flea treatment.",
                "Our dog {pet} was neutered {when} and I'd like the vet's bill covered.",
                "My cat {pet} had her nails clipped and a worming treatment at the vet.",
            ),
            ("routine care claim for {pet} (vaccs, flea)", "neutering of dog ({pet})"),
            (30, 400),
            exclusion="routine",
        ),
        Event(
            "breeding",
            (
                "Our dog {pet} had a litter of puppies {when} and needed a caesarean.",
                "The vet bills for my dog {pet}'s pregnancy check-ups and whelping came to more than I expected.",
            ),
            ("whelping/caesarean costs, dog ({pet})",),
            (300, 3000),
            exclusion="breeding",
        ),
        Event(
            "grooming",
            (
                "My dog {pet} needed a full professional groom and I'd like it covered.",
                "I paid the vet for a pet passport for our cat {pet} before we moved and want to claim it.",
                "We had purely cosmetic surgery done on our dog {pet}'s ears.",
            ),
            ("grooming costs, dog ({pet})", "pet passport cost, cat ({pet})"),
            (40, 2000),
            exclusion="grooming",
        ),
    ),
    "dental": (
        Event(
            "root_canal",
            (
                "I needed root canal treatment on a back tooth {when}.",
                "My dentist did a root canal on a molar that had been aching for weeks.",
            ),
            ("root canal, lower molar", "root canal tx on back tooth"),
            (300, 1500),
            modifiers=("started_before", "abroad"),
        ),
        Event(
            "braces",
            (
                "I've just had orthodontic braces fitted to straighten my crowded teeth.",
                "My orthodontist fitted braces {when} and I'd like to claim the cost.",
            ),
            ("ortho braces fitted",),
            (800, 4000),
            modifiers=("started_before",),
        ),
        Event(
            "callout",
            (
                "I broke a tooth late at night and had to call out an emergency dentist.",
                "I cracked a tooth on a Sunday {when} and needed an emergency dental appointment.",
            ),
            ("emergency dental call-out, broken tooth", "out-of-hours dentist, cracked tooth"),
            (80, 400),
            modifiers=("sports",),
        ),
        Event(
            "filling",
            (
                "I had a couple of old fillings replaced at my dentist {when}.",
                "My dentist found a cavity and put in a new filling.",
            ),
            ("fillings replaced at dentist", "new filling for cavity"),
            (60, 450),
        ),
        Event(
            "crown",
            (
                "My dentist fitted a crown on a cracked front tooth.",
                "I needed a crown after part of a tooth broke off {when}.",
            ),
            ("crown on cracked tooth",),
            (300, 1500),
            modifiers=("sports", "abroad"),
        ),
        Event(
            "extraction",
            (
                "I had an infected wisdom tooth taken out by my dentist {when}.",
                "My dentist had to extract a tooth that couldn't be saved.",
            ),
            ("wisdom tooth extraction", "extraction of unsaveable tooth"),
            (150, 900),
            modifiers=("abroad",),
        ),
        Event(
            "abscess",
            (
                "An abscess under my gum had to be drained by my dentist.",
                "I went to my dentist with a swollen jaw {when} and she treated an abscess.",
            ),
            ("dental abscess drained",),
            (100, 800),
        ),
        Event(
            "cosmetic",
            (
                "I had my teeth professionally whitened {when} and I'd like to claim it.",
                "I had veneers fitted to my front teeth to improve my smile.",
            ),
            ("cosmetic tooth bleaching", "veneers (cosmetic)"),
            (150, 6000),
            exclusion="cosmetic",
        ),
        Event(
            "charges",
            (
                "My dentist charged me a missed appointment fee and I'd like to claim it back.",
                "I want to claim the prescription charges from my dental visit.",
            ),
            ("missed appt fee at dentist", "dental prescription charges"),
            (20, 200),
            exclusion="charges",
        ),
    ),
    "health": (
        Event(
            "physio",
            (
                "My doctor referred me for physiotherapy on my knee and I've had several sessions at an approved clinic.",
                "I've been having physio for a shoulder problem {when}, as recommended by my specialist.",
            ),
            ("physio sessions, knee, GP referral", "physio for shoulder, specialist referral"),
            (100, 1500),
            modifiers=("hobby",),
        ),
        Event(
            "mri",
            (
                "My specialist sent me for an MRI scan of my back {when}.",
                "I had a scan at an approved clinic to look into back pain I've been getting.",
            ),
            ("MRI back, specialist referral", "diagnostic scan at approved clinic"),
            (400, 3000),
            modifiers=("hobby",),
        ),
        Event(
            "consult",
            (
                "I saw a consultant cardiologist {when} after my doctor heard an irregular heartbeat.",
                "My doctor referred me to a specialist dermatologist about a mole.",
            ),
            ("specialist consult (cardiology)", "dermatology consult re mole"),
            (150, 900),
        ),
        Event(
            "mental",
            (
                "I've been having therapy for anxiety with a psychologist my doctor recommended.",
                "I started counselling sessions for depression at an approved clinic {when}.",
            ),
            ("mental health therapy sessions",),
            (200, 4000),
        ),
        Event(
            "optical",
            (
                "I had an eye test and needed new glasses {when}.",
                "My optician prescribed new lenses after an eye examination.",
            ),
            ("optical, new glasses",),
            (50, 400),
        ),
        Event(
            "surgery",
            (
                "I had a planned hip replacement at an approved clinic {when}, authorised in advance.",
                "My knee surgery was carried out as a planned procedure at one of your approved clinics.",
                "I had planned heart surgery, pre-authorised by your clinical team.",
            ),
            ("planned hip replacement, pre-auth'd", "planned knee surgery at approved clinic"),
            (5000, 90000),
            modifiers=("hobby",),
        ),
        Event(
            "cataract",
            ("I had planned cataract surgery on one eye {when}.",),
            ("planned cataract op",),
            (2000, 9000),
        ),
        Event(
            "chronic",
            (
                "I'm claiming for check-ups and medication for my diabetes, which has been stable for years.",
                "My asthma has been stable and well controlled for a long time, and I want to claim for the routine reviews.",
            ),
            ("stabilised chronic condition, check-ups",),
            (100, 3000),
            exclusion="chronic",
        ),
        Event(
            "pregnancy",
            ("I'm claiming for my routine pregnancy scans and antenatal check-ups.",),
            ("routine pregnancy care",),
            (200, 4000),
            exclusion="pregnancy",
        ),
        Event(
            "cosmetic",
            (
                "I had a nose reshaping operation purely for cosmetic reasons.",
                "I had a cosmetic procedure to remove loose skin after losing weight.",
            ),
            ("cosmetic procedure",),
            (1000, 15000),
            exclusion="cosmetic",
        ),
        Event(
            "public_emergency",
            (
                "I collapsed at work {when} and was rushed by ambulance to the emergency department of the public hospital.",
                "After a bad fall I was taken into the public hospital as an emergency.",
            ),
            ("emergency admission, public hosp",),
            (500, 30000),
            exclusion="public_emergency",
            injury=("hospital",),
        ),
        Event(
            "rehab",
            (
                "I've completed a residential alcohol rehabilitation programme.",
                "I'm claiming for a drug rehabilitation course at a private clinic.",
            ),
            ("drug/alcohol rehab",),
            (2000, 25000),
            exclusion="rehab",
        ),
        Event(
            "experimental",
            (
                "My specialist suggested an experimental therapy that is still in clinical trials, and I went ahead with it.",
            ),
            ("experimental therapy (in trials)",),
            (1000, 40000),
            exclusion="experimental",
        ),
    ),
    "business": (
        Event(
            "burst_stock",
            (
                "A pipe burst overnight in my {biz} {when} and ruined a large part of the stock.",
                "Water from a burst pipe flooded the storeroom of our {biz} and soaked the stock.",
            ),
            ("burst pipe at {biz}, stock ruined",),
            (500, 20000),
        ),
        Event(
            "break_in",
            (
                "Thieves broke into my {biz} {when} and took power tools and a laptop.",
                "Someone got into our {biz} overnight and cleared out the display stock.",
            ),
            ("break-in at {biz}, tools + laptop stolen", "overnight theft of display stock, {biz}"),
            (400, 12000),
            modifiers=("unsecured",),
        ),
        Event(
            "customer_slip",
            (
                "A customer slipped on a wet floor in my {biz} {when} and is now making a claim against us.",
                "A shelf fell on a customer in our {biz}, and her solicitor has written to us.",
            ),
            (
                "customer slipped in {biz}, PL claim",
                "shelf fell on customer in {biz}, solicitor's letter",
            ),
            (1000, 300000),
            injury=("treated", "hospital"),
            who=(("The customer", "customer"),),
        ),
        Event(
            "spoilage",
            (
                "A power cut knocked out the fridges in my {biz} {when} and the food stock spoiled.",
                "Our chiller in the {biz} stopped when the power failed and we had to bin the stock.",
            ),
            ("stock spoilage after power cut ({biz})",),
            (300, 9000),
        ),
        Event(
            "fire_closed",
            (
                "A fire in the back room of my {biz} {when} means we've had to close while repairs are done.",
                "Our {biz} was damaged by fire and we can't trade until it's fixed.",
            ),
            ("fire at {biz}, closed, BI claim",),
            (5000, 150000),
            injury=SOME_INJURY,
            who=(("I", "owner"), ("A customer", "a customer")),
        ),
        Event(
            "equipment",
            (
                "My portable equipment, a laptop and a card reader, was stolen from the market stall I run for my {biz}.",
                "Tools I take out to jobs for my {biz} were stolen from a customer's driveway {when}.",
            ),
            (
                "portable equip stolen from stall ({biz})",
                "portable tools for {biz} stolen on a job",
            ),
            (200, 6000),
        ),
        Event(
            "window",
            (
                "Vandals smashed the front window of my {biz} overnight {when}.",
                "Someone threw a brick through the shop window of our {biz}.",
            ),
            ("shop front window of {biz} smashed by vandals",),
            (300, 4000),
            modifiers=("unsecured",),
        ),
        Event(
            "gradual_stock",
            (
                "Stock in the damp storeroom of my {biz} has slowly deteriorated over the past months and can't be sold.",
            ),
            ("gradual deterioration of stock at {biz}",),
            (200, 8000),
            exclusion="gradual_stock",
        ),
        Event(
            "faulty_work",
            (
                "A customer says a repair my {biz} did for her was faulty, and she wants us to pay for the damage it caused.",
            ),
            ("claim re faulty work done for customer by {biz}",),
            (300, 20000),
            exclusion="faulty_work",
        ),
        Event(
            "fine",
            (
                "The council fined my {biz} for a hygiene breach and I'd like the fine covered.",
                "A regulator has given our {biz} a penalty and I want to claim for it.",
            ),
            ("regulatory fine imposed on {biz}",),
            (200, 15000),
            exclusion="fine",
        ),
        Event(
            "staff_claim",
            (
                "One of my employees at the {biz} is claiming against the business for a back injury at work.",
            ),
            ("claim by staff member vs business ({biz})",),
            (1000, 60000),
            exclusion="staff_claim",
        ),
        Event(
            "business_vehicle",
            (
                "Our {biz}'s delivery van was damaged in a collision {when}, and I want to claim for it on the business insurance.",
            ),
            ("dmg to {biz} delivery van, cust wants to claim under business policy",),
            (500, 15000),
            exclusion="business_vehicle",
        ),
    ),
    "life": (
        Event(
            "heart_attack",
            (
                "My {rel} died suddenly of a heart attack {when}.",
                "I'm sorry to tell you that my {rel} passed away from a heart attack at home.",
            ),
            ("death claim: insured ({rel} of caller) died of heart attack",),
            (50000, 950000),
            modifiers=("undisclosed",),
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "cancer",
            (
                "My {rel} passed away {when} after a long illness with cancer.",
                "After fighting cancer for some time, my {rel} has died.",
            ),
            ("insured ({rel} of caller) died of cancer",),
            (50000, 950000),
            modifiers=("undisclosed",),
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "road",
            ("My {rel} was killed in a road accident {when} while travelling as a passenger.",),
            ("insured ({rel} of caller) killed in RTA as passenger",),
            (50000, 950000),
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "stroke",
            ("My {rel} had a stroke and died {when}.", "We lost my {rel} to a sudden stroke."),
            ("insured ({rel} of caller) died following stroke",),
            (50000, 950000),
            modifiers=("undisclosed",),
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "drowning",
            ("My {rel} drowned while swimming in the sea {when}.",),
            ("insured ({rel} of caller) drowned",),
            (50000, 950000),
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "terminal",
            (
                "I was diagnosed with a terminal illness {when} and would like to claim the early payment on my life cover.",
                "My doctors have told me my cancer is terminal, so I'm applying for the terminal illness advance.",
            ),
            ("insured dx terminal illness, requests TI advance",),
            (10000, 62500),
            terminal=True,
            amount_first=(
                "I'm asking for an advance of {amt}.",
                "The advance I'm requesting is {amt}.",
            ),
        ),
        Event(
            "funeral",
            (
                "My {rel} died {when} and I need the funeral expenses advance while the main claim is dealt with.",
            ),
            ("death of insured ({rel} of caller), funeral advance requested",),
            (1500, 7500),
            death=True,
            amount_first=(
                "I'm asking for {amt} towards the funeral.",
                "The funeral will cost {amt}.",
            ),
        ),
        Event(
            "riot",
            ("My {rel} was killed {when} after joining in a riot in the city centre.",),
            ("insured ({rel} of caller) died while taking part in riot",),
            (50000, 950000),
            exclusion="riot",
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "flying",
            ("My {rel} was piloting a light aircraft that crashed {when}, and did not survive.",),
            ("insured ({rel} of caller) died piloting light aircraft (not fare-paying pax)",),
            (50000, 950000),
            exclusion="flying",
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
        Event(
            "military",
            ("My {rel} was killed while serving with the army in a conflict zone.",),
            ("death of insured ({rel} of caller) on military service in conflict zone",),
            (50000, 950000),
            exclusion="military",
            death=True,
            amount_first=LIFE_DEATH_AMOUNT,
            amount_step=5000,
        ),
    ),
    "gadget": (
        Event(
            "cracked",
            (
                "I dropped my {device} on the pavement {when} and the screen shattered.",
                "My {device} slipped out of my hand on the stairs and the display cracked.",
            ),
            ("{device} dropped, screen smashed",),
            (60, 500),
            modifiers=("modified",),
        ),
        Event(
            "liquid",
            (
                "My {device} fell into the bath {when} and now won't turn on.",
                "I spilled a cup of coffee over my {device} and it died.",
            ),
            ("liquid dmg, {device} dead",),
            (80, 700),
            modifiers=("modified",),
        ),
        Event(
            "pickpocket",
            ("My {device} was stolen from my coat pocket on a crowded bus {when}.",),
            ("{device} stolen (pickpocket), police informed",),
            (150, 1200),
        ),
        Event(
            "boot",
            (
                "My {device} was stolen from my car {when}, even though I'd hidden it in the locked boot.",
                "Someone broke into my car and took my {device} from the locked glovebox.",
            ),
            ("{device} stolen from veh, was hidden in locked boot",),
            (150, 1200),
        ),
        Event(
            "knocked",
            ("My cat knocked my {device} off the table and the screen and casing cracked.",),
            ("{device} knocked off table, screen + casing cracked",),
            (60, 600),
            modifiers=("modified",),
        ),
        Event(
            "port",
            (
                "I tripped over the charging cable and my {device}'s charging port broke when it hit the floor.",
            ),
            ("{device} charging port broken after fall",),
            (40, 300),
            modifiers=("modified",),
        ),
        Event(
            "snatched",
            ("Someone snatched my {device} out of my hand outside the station {when}.",),
            ("{device} snatched from hand, street theft",),
            (150, 1200),
        ),
        Event(
            "scratches",
            (
                "My {device} has a few cosmetic scratches on the back, but it still works fine.",
                "There's a small dent in the corner of my {device}; it works perfectly but looks worse.",
            ),
            ("cosmetic scratches only, {device} works",),
            (30, 300),
            exclusion="scratches",
        ),
        Event(
            "warranty",
            (
                "The battery in my new {device} has a manufacturing fault, and it's still under the maker's warranty.",
            ),
            ("mfr fault on {device}, covered by warranty",),
            (80, 900),
            exclusion="warranty",
        ),
        Event(
            "software",
            (
                "My {device} picked up a virus and the software keeps crashing.",
                "After an update my {device}'s software stopped working properly.",
            ),
            ("software/virus issue on {device}",),
            (50, 500),
            exclusion="software",
        ),
        Event(
            "unattended_car",
            (
                "I left my {device} on the passenger seat of my car and someone broke in and took it.",
            ),
            ("{device} stolen from unattended veh, left on passenger seat",),
            (150, 1200),
            exclusion="unattended_car",
        ),
    ),
}

MODIFIERS: dict[str, dict[str, Modifier]] = {
    "home": {
        "empty": Modifier(
            (
                "The house had been standing empty for most of the year while we were living abroad.",
                "Nobody has lived in the house for months; it has been empty since my mother moved into a care home.",
            ),
            ("property left unoccupied for months prior", "house empty long-term at time of loss"),
        ),
        "deliberate": Modifier(
            (
                "I'm embarrassed to say my teenage son, who lives with us, did it on purpose during an argument.",
                "My brother, who lives with us, has admitted he caused the damage deliberately.",
            ),
            (
                "damage deliberately caused by household member",
                "PH admits resident caused it on purpose",
            ),
        ),
    },
    "renters": {
        "no_force": Modifier(
            (
                "There was no sign of a break-in, and I may have left the door unlocked.",
                "The police found no signs of forced entry.",
            ),
            ("no signs of forced entry", "no forced entry, door poss left unlocked"),
        ),
        "flatmate": Modifier(
            (
                "The things actually belong to my flatmate, who isn't named on the policy.",
                "Most of it is my flatmate's, and she isn't on my schedule.",
            ),
            ("items belong to flatmate not on schedule",),
        ),
        "unlocked_car": Modifier(
            (
                "I'd left it on the back seat of my car, which I hadn't locked.",
                "It was in my car at the time and I'd forgotten to lock it.",
            ),
            ("items left in unlocked vehicle",),
        ),
    },
    "motor": {
        "unnamed": Modifier(
            (
                "My nephew was driving at the time, and he isn't named on the policy.",
                "A friend was driving my car; she's not one of the named drivers.",
            ),
            ("driver at time not named on policy", "friend driving, not a named driver"),
        ),
        "drink": Modifier(
            (
                "I'll be honest, I'd had a few drinks and the police breath test showed I was over the limit.",
                "The police said I was over the legal alcohol limit when they tested me.",
            ),
            ("driver over legal alcohol limit per police", "PH failed breath test (over limit)"),
        ),
        "keys_left": Modifier(
            (
                "I'd left the keys in the ignition while I nipped into a shop.",
                "The spare key was on the front seat when it was taken.",
            ),
            ("keys left in veh", "key left on seat of car"),
        ),
    },
    "travel": {
        "influence": Modifier(
            ("I had been drinking heavily that evening.", "To be honest, I was drunk at the time."),
            ("cust under influence of alcohol at time",),
        ),
        "undeclared": Modifier(
            (
                "I should say I have a heart condition that I didn't declare when I bought the policy, and the doctors think it's related.",
                "The doctors linked it to a medical condition I hadn't declared when buying cover.",
            ),
            ("undeclared pre-existing medical condition",),
        ),
    },
    "pet": {
        "preexisting": Modifier(
            (
                "To be honest, she was already showing the same symptoms before we took out the policy.",
                "The vet notes show the problem first appeared before our cover started.",
            ),
            ("symptoms present before cover started",),
        ),
    },
    "dental": {
        "started_before": Modifier(
            (
                "The course of treatment actually began before I joined the plan.",
                "My dentist started this work before my membership began.",
            ),
            ("tx started before membership",),
        ),
        "abroad": Modifier(
            (
                "I had it done by a dentist while I was staying in Portugal.",
                "The treatment was carried out abroad, in Spain.",
            ),
            ("tx carried out abroad",),
        ),
        "sports": Modifier(
            (
                "It happened during a rugby match when I took a knock to the mouth.",
                "I was hit in the mouth by a stick during a hockey match.",
            ),
            ("damage from contact sport (rugby)", "hit in mouth playing hockey"),
        ),
    },
    "health": {
        "hobby": Modifier(
            (
                "The injury happened while I was motor racing at the weekend.",
                "I hurt it in a crash during a motor race I was competing in.",
            ),
            ("injury from motor racing hobby",),
        ),
    },
    "business": {
        "unsecured": Modifier(
            (
                "I have to admit I forgot to lock up when I closed that night.",
                "The back door had been left unlocked overnight.",
            ),
            ("premises not secured overnight",),
        ),
    },
    "life": {
        "undisclosed": Modifier(
            (
                "We've since learned the condition had been known about for years but was deliberately left off the application.",
                "The doctor confirmed the illness was diagnosed long before the policy and was knowingly not disclosed when applying.",
            ),
            ("condition deliberately not disclosed on application",),
        ),
    },
    "gadget": {
        "modified": Modifier(
            (
                "I should mention it had been jailbroken.",
                "It had been repaired once before at a market stall, not by one of your approved engineers.",
            ),
            ("device jailbroken / prior unapproved repair",),
        ),
    },
}

# Fraud signals: key -> (first-person sentence or None, call-note fragment, lines or None=all).
FRAUD: dict[str, tuple[str | None, str, tuple[str, ...] | None]] = {
    "pay_other": (
        "Could you pay the money into my cousin's account rather than mine?",
        "asked for payment to third-party acct",
        None,
    ),
    "no_police": (
        "I'd rather not involve the police if that's alright.",
        "cust reluctant to involve police",
        ("home", "renters", "motor", "travel", "business", "gadget"),
    ),
    "fake_receipts": (
        "I don't have the receipts any more, but a friend can write me some new ones.",
        "cust offered to 'get receipts made up'",
        ("home", "renters", "motor", "travel", "pet", "dental", "health", "business", "gadget"),
    ),
    "backdate": (
        "If it helps, you could put the date down as earlier than it really was.",
        "cust asked if DOL could be recorded as earlier",
        None,
    ),
    "witness": (
        "A mate of mine can say he saw it happen, even though he wasn't actually there.",
        "cust offered witness who admits he wasn't present",
        ("home", "renters", "motor", "business", "gadget"),
    ),
    "gp_contact": (
        "I'd rather you didn't speak to the family doctor about any of this.",
        "caller asked us not to contact GP",
        ("life",),
    ),
    "story_changed": (None, "cust's account of events changed during call", None),
    "photos_mismatch": (
        None,
        "photos supplied appear to show a different property/vehicle",
        ("home", "renters", "motor", "business"),
    ),
}

INJURY_FIRST: dict[str, tuple[str, ...]] = {
    "none": ("Nobody was hurt.", "Thankfully no one was injured.", "No one was injured."),
    "treated": (
        "{Who} was checked over at the hospital and sent home the same day.",
        "{Who} needed stitches in the emergency room but was not admitted.",
        "{Who} was treated by paramedics at the scene but did not need to stay in hospital.",
    ),
    "hospital": (
        "{Who} was admitted to hospital straight away.",
        "{Who} was taken to hospital by ambulance and admitted.",
        "{Who} had to be admitted to hospital for several nights.",
    ),
}
INJURY_NOTE: dict[str, tuple[str, ...]] = {
    "none": ("no injuries", "nil injuries reported"),
    "treated": (
        "{who} treated + discharged same day",
        "{who} seen at ER, not admitted",
        "{who} treated at scene by paramedics, not admitted",
    ),
    "hospital": (
        "{who} admitted to hospital",
        "{who} hospitalised, still an inpatient",
        "{who} taken to hosp by ambulance + admitted",
    ),
}
UNINHABITABLE_FIRST: dict[str, tuple[str, ...]] = {
    "home": (
        "We can't live in the house at the moment and are staying with family.",
        "The house isn't safe to live in, so we have moved into a hotel.",
        "We've had to move out until the repairs are done because the house is unliveable.",
    ),
    "renters": (
        "The flat is uninhabitable and I'm sleeping on a friend's sofa.",
        "I've had to move out of the flat until it's repaired.",
    ),
}
HABITABLE_FIRST: dict[str, tuple[str, ...]] = {
    "home": (
        "We can still live in the house while it's sorted out.",
        "Luckily the rest of the house is fine to live in.",
    ),
    "renters": ("I'm still able to live in the flat.",),
}
UNINHABITABLE_NOTE = (
    "property uninhabitable, cust staying w/ family",
    "PH moved out, property unliveable",
)
HABITABLE_NOTE = ("property still habitable",)

# ---------------------------------------------------------------------------
# Wording around the facts.
# ---------------------------------------------------------------------------

FIRST_NAMES = (
    "Ottilie", "Bram", "Cosima", "Idris", "Marisol", "Tobiah", "Wren", "Anouk", "Caspian",
    "Delphine", "Ezra", "Fenna", "Gideon", "Hestia", "Ilse", "Jago", "Kestrel", "Lowen",
    "Mireille", "Nico", "Orla", "Perrin", "Quilla", "Rafferty", "Saoirse", "Tamsin", "Ulric",
    "Vesna", "Wilder", "Yara", "Zephyr", "Aurelio", "Bettina", "Cormac", "Dagny", "Emrys",
)  # fmt: skip
LAST_NAMES = (
    "Ashdown", "Bellweather", "Carrow", "Dunmore", "Elphick", "Fairbairn", "Greaves",
    "Halloran", "Ingleby", "Jessop", "Kettering", "Lockhart", "Merriweather", "Northcott",
    "Okonkwo", "Pemberton", "Quarrie", "Rushworth", "Stallard", "Thistlewood", "Underhill",
    "Varga", "Whitcombe", "Yardley", "Zawadzki", "Abernethy", "Brightmore", "Castellan",
    "Drummond", "Esterhazy", "Fenwick", "Gallacher", "Hartigan", "Iwasaki", "Juniper",
)  # fmt: skip
TITLES = ("Mr", "Mrs", "Ms", "Mx", "Dr")
CITIES = (
    "Lisbon", "Valletta", "Hanoi", "Cusco", "Reykjavik", "Marrakesh", "Tbilisi", "Oaxaca",
    "Split", "Kyoto", "Zanzibar", "Cape Town", "Porto", "Ljubljana",
)  # fmt: skip
PET_NAMES = (
    "Biscuit", "Pepper", "Maple", "Otto", "Juniper", "Bramble", "Tofu", "Nutmeg", "Winnie",
    "Sprocket", "Mochi", "Clementine",
)  # fmt: skip
BUSINESSES = (
    "café", "bakery", "flower shop", "bike repair workshop", "bookshop", "hair salon",
    "hardware shop", "deli",
)  # fmt: skip
FILLERS: dict[str, tuple[str, ...]] = {
    "car": ("car", "hatchback", "estate car", "SUV", "little runaround", "saloon"),
    "city": CITIES,
    "pet": PET_NAMES,
    "device": ("phone", "tablet", "laptop", "smartwatch"),
    "biz": BUSINESSES,
    "rel": ("husband", "wife", "partner", "father", "mother", "brother", "sister"),
}

GREETINGS = (
    "Hi,",
    "Hello,",
    "Dear Brindlecombe Mutual,",
    "Good morning,",
    "Dear claims team,",
    "Hello there,",
    "To whom it may concern,",
)
OPEN_PRODUCT = (
    "I'm writing to make a claim on my {product} policy.",
    "I need to claim on my {product} cover.",
    "I hold {product} with you and would like to make a claim.",
    "This is about my {product} policy.",
    "I'd like to report a claim under {product}.",
)
OPEN_GENERIC = (
    "I'd like to start a claim on my {generic}.",
    "I'm writing about a claim on my {generic} with you.",
    "I need to claim on the {generic} I have with you.",
)
OPEN_NONE = (
    "I'm writing to make a claim.",
    "I need to report something that happened.",
    "I hope you can help me with a claim.",
    "I'm not sure which policy this falls under, but I need to make a claim.",
)
REQUESTS = (
    "Please let me know what you need from me.",
    "What happens next?",
    "Could someone call me back to talk it through, ideally in the afternoon, as I'm at work most mornings?",
    "Please tell me how to proceed.",
    "I'd appreciate a quick reply.",
    "Let me know which documents you need.",
)
SIGNOFFS = (
    "Thanks,\n{first}",
    "Kind regards,\n{first} {last}",
    "Best wishes,\n{first} {last}",
    "Many thanks,\n{first}",
    "Regards,\n{title} {last}",
    "{first} {last}",
)
TIME_FIRST = ("This happened {when}.", "It happened {when}.", "That was {when}.")
AMOUNT_FIRST = (
    "I'm claiming {amt}.",
    "The total cost is {amt}.",
    "The bill came to {amt}.",
    "All in, it has cost me {amt}.",
    "I estimate the loss at {amt}.",
    "The amount I'm claiming is {amt}.",
    "The quote I've been given is {amt}.",
)
# Harmless context (no amounts, days, injuries or exclusions), used to vary length.
BACKGROUND: dict[str, tuple[str, ...]] = {
    "home": (
        "We've lived in the house for a long time and never had a problem like this, so we honestly aren't sure where to start with the paperwork.",
        "I've taken photos of the damage from every angle before touching anything, and I've kept the receipts for the more valuable things we own.",
        "A local builder has already been round to have a look.",
        "The children are a bit shaken but we're managing.",
    ),
    "renters": (
        "My landlord knows about it and has been helpful, but he says my own belongings are down to me and my insurance.",
        "I've made a list of everything that was affected, with rough ages for each item, and I can dig out bank statements for the more expensive things.",
        "Most of what I own was in that room.",
        "I've taken photos of everything, just in case.",
    ),
    "motor": (
        "I took photos at the scene and swapped names, numbers and insurance details with everyone involved before we moved the cars.",
        "The car is at a local garage for now, and they've said they can start on it as soon as the insurance side has been agreed.",
        "I rely on the car to get to work, so I'm keen to get this sorted.",
        "I've driven for years without a single claim.",
    ),
    "travel": (
        "I kept all the receipts from the trip, including the taxis and the pharmacy, and I have the original booking confirmation if you need it.",
        "The assistance line was very helpful at the time.",
        "It rather spoiled the holiday, as you can imagine, and I spent most of the remaining time on the phone sorting things out.",
        "I've got copies of the booking confirmation and tickets.",
    ),
    "pet": (
        "{pet} is doing much better now, thankfully.",
        "I've asked the vet to fill in their part of the claim form.",
        "We've had {pet} since she was tiny and she means the world to us, so we didn't hesitate to get her treated properly.",
        "The practice can send you the full clinical history.",
    ),
    "dental": (
        "I've got the itemised receipt from the practice.",
        "My dentist is happy to provide the treatment notes and the codes for each item of work if your team needs them to process the claim.",
        "It was quite painful, so I'm glad it's sorted.",
    ),
    "health": (
        "My doctor's referral letter is attached.",
        "I have the pre-authorisation details from your clinical team.",
        "The clinic sent me the invoice afterwards, and I also have the letter from my own doctor that started the whole process off.",
        "It has been a worrying time for me and my family, but I'm on the mend and grateful that the clinic was so quick.",
    ),
    "business": (
        "We're a small team running on tight margins, and this has really set us back at the busiest point of the season.",
        "I've got the stock records ready to send over.",
        "We've been trading from this address for years.",
        "Our regular customers have been very understanding.",
    ),
    "life": (
        "Please bear with me, this is a difficult time for the family.",
        "I'm dealing with the paperwork on behalf of the family, so please contact me directly rather than writing to the old address.",
        "I'm sorry if I've missed anything out.",
    ),
    "gadget": (
        "I've still got the original proof of purchase.",
        "I rely on it for work and for keeping in touch with my family, so I'd really like it sorted as quickly as possible.",
        "The serial number is printed on the original box, which I still have in a cupboard along with the receipt from the shop where I bought it.",
    ),
}
PHONE_CONTEXT = ("cust has photos", "receipts available", "cust v upset", "first claim")
PHONE_CONTEXT_LIFE = ("caller distressed", "caller is executor", "cert to follow")
CHATTER_FIRST = (
    "Sorry if this is a bit muddled.",
    "My daughter is helping me write this.",
    "I'm typing this on my phone, so apologies for any mistakes.",
    "I also need to update my postal address at some point.",
    "I've been a member for ages and never claimed before.",
    "Sorry for the long message.",
)
CHATTER_CASUAL = (
    "By the way, your new website is much easier to use.",
    "The weather here has been miserable all week.",
    "Also, is there a discount if I add my partner to the account?",
)

PHONE_OPEN = (
    "Cust {title} {last} called re {mention}.",
    "Inbound call from PH {first} {last}, {mention}.",
    "{first} {last} rang re {mention}.",
    "Call w/ member {title} {last} ({mention}).",
    "Cust called ({mention}).",
)
PHONE_NONE_MENTION = ("new claim, policy not confirmed", "claim, cust unsure which policy")
PHONE_AMOUNT = (
    "est {amt}",
    "claimed amt {amt}",
    "approx {amt}",
    "cost approx {amt}",
    "value {amt}",
    "quote {amt}",
)
PHONE_AMOUNT_LIFE = ("SA {amt}", "benefit claimed {amt}", "amt {amt}")
PHONE_CLOSE = (
    "Claim form sent.",
    "Advised re docs needed.",
    "Cust to upload photos via portal.",
    "Call back requested.",
    "Ref issued.",
)
PHONE_CLOSE_LIFE = ("Bereavement pack sent.", "Advised re docs needed.", "Call back requested.")
PHONE_CHATTER = (
    "cust also asked about renewal",
    "long call, cust chatty",
    "cust wants updates by email",
    "line poor, had to repeat details",
    "cust asked about paperless billing",
)

FORM_LABELS: dict[str, tuple[str, ...]] = {
    "policy": ("Policy", "Policy type", "Product"),
    "name": ("Name", "Policyholder", "Your name"),
    "what": ("What happened", "Description", "Details of incident"),
    "date": ("Date", "Date of incident", "When did it happen"),
    "amount": ("Amount", "Amount claimed", "Estimated cost"),
    "other": ("Anything else", "Additional information", "Other details"),
}
FORM_AMOUNT_LIFE = ("Amount claimed", "Benefit claimed", "Amount")
FORM_POLICY_NONE = ("not sure", "don't know", "-")
FORM_OTHER_EMPTY = ("None", "n/a", "no")

# ---------------------------------------------------------------------------
# Facts, rules and rendering.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    line: str
    event: str
    modifier: str | None
    exclusion: str | None
    injury: str  # "none", "treated", "hospital"
    uninhabitable: bool
    death: bool
    terminal: bool
    amount: int
    days_ago: int
    fraud: str | None
    naming: str  # "product", "generic", "none"
    channel: str


def severity_of(f: Facts) -> str:
    if f.death or f.injury == "hospital" or f.amount >= CRITICAL_AMOUNT:
        return "critical"
    if f.uninhabitable or f.injury == "treated" or f.terminal or f.amount >= MAJOR_AMOUNT:
        return "major"
    if f.amount >= MODERATE_AMOUNT:
        return "moderate"
    return "minor"


def is_late(f: Facts) -> bool:
    deadline = PRODUCTS[f.line].deadline
    return deadline is not None and f.days_ago > deadline


def route_of(f: Facts) -> str:
    if f.exclusion is not None:
        return "decline"
    if f.fraud is not None or is_late(f):
        return "investigation"
    severity = severity_of(f)
    if severity == "critical":
        return "emergency"
    if severity == "minor":
        return "fast_track"
    return "adjuster"


def answer_string(labels: dict[str, str]) -> str:
    return f"line: {labels['line']}; severity: {labels['severity']}; route: {labels['route']}"


def event_by_key(line: str, key: str) -> Event:
    return next(e for e in EVENTS[line] if e.key == key)


def draw_amount(rng: random.Random, event: Event) -> int:
    lo, hi = event.amount
    bands = [b for b in (MODERATE_AMOUNT, MAJOR_AMOUNT, CRITICAL_AMOUNT) if lo < b < hi]
    if bands and rng.random() < P_AMOUNT_NEAR_BAND:
        value = rng.choice(bands) * rng.uniform(0.9, 1.1)
    else:
        # halfway between log-uniform and uniform: square of a uniform draw on the roots
        value = (math.sqrt(lo) + rng.random() * (math.sqrt(hi) - math.sqrt(lo))) ** 2
    if event.amount_step:
        return max(event.amount_step, int(round(value / event.amount_step)) * event.amount_step)
    if rng.random() < 0.3:
        return max(1, int(value))
    step = 1 if value < 100 else 5 if value < 1000 else 10 if value < 10000 else 100
    return max(step, int(round(value / step)) * step)


def draw_days(rng: random.Random, deadline: int | None, late: bool) -> int:
    if deadline is None:
        return rng.choice((rng.randint(0, 10), rng.randint(2, 120)))
    if late:
        if rng.random() < 0.4:
            return deadline + rng.randint(1, 4)
        return rng.randint(deadline + 1, 2 * deadline + 20)
    r = rng.random()
    if r < 0.3:
        return rng.randint(max(0, deadline - 3), deadline)
    if r < 0.5:
        return rng.randint(0, min(deadline, 10))
    return rng.randint(0, deadline)


def draw_facts(rng: random.Random, line: str, channel: str) -> Facts:
    product = PRODUCTS[line]
    covered = [e for e in EVENTS[line] if e.exclusion is None]
    modifier = None
    if rng.random() < P_EXCLUDED:
        standalone = [e for e in EVENTS[line] if e.exclusion is not None]
        with_mod = [(e, m) for e in covered for m in e.modifiers]
        if with_mod and rng.random() < 0.5:
            event, modifier = rng.choice(with_mod)
        else:
            event = rng.choice(standalone)
    else:
        event = rng.choice(covered)
    exclusion = modifier if modifier is not None else event.exclusion
    injury = rng.choice(event.injury) if event.injury else "none"
    uninhabitable = event.uninhabitable and rng.random() < P_UNINHABITABLE
    fraud = None
    if rng.random() < P_FRAUD:
        options = [
            k
            for k, (first, _, lines) in FRAUD.items()
            if (lines is None or line in lines) and (first is not None or channel == "phone")
        ]
        fraud = rng.choice(options)
    late = rng.random() < P_LATE
    r = rng.random()
    naming = "product" if r < 0.45 else "generic" if r < 0.75 else "none"
    return Facts(
        line=line,
        event=event.key,
        modifier=modifier,
        exclusion=exclusion,
        injury=injury,
        uninhabitable=uninhabitable,
        death=event.death,
        terminal=event.terminal,
        amount=draw_amount(rng, event),
        days_ago=draw_days(rng, product.deadline, late),
        fraud=fraud,
        naming=naming,
        channel=channel,
    )


def format_amount(rng: random.Random, amount: int) -> str:
    return rng.choice(
        (f"${amount:,}", f"${amount}", f"{amount:,} dollars", f"USD {amount:,}", f"${amount:,}.00")
    )


def when_first(rng: random.Random, days: int, inline: bool) -> str:
    if days == 0:
        return rng.choice(("earlier today", "this morning", "today"))
    if days == 1:
        return "yesterday"
    if inline:
        return rng.choice((f"{days} days ago", f"{days} days back"))
    return rng.choice((f"{days} days ago", f"{days} days back", f"{days} days ago now"))


def when_note(rng: random.Random, days: int) -> str:
    if days == 0:
        return rng.choice(("incident today", "happened today"))
    if days == 1:
        return rng.choice(("DOL yesterday", "happened yesterday"))
    return rng.choice(
        (f"DOL {days} days ago", f"incident {days}d ago", f"{days} days since incident")
    )


def when_form(rng: random.Random, days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    return rng.choice((f"{days} days ago", f"{days} days before today"))


@dataclass
class Part:
    text: str
    typo_ok: bool  # False where the part carries a fact the rules need


@dataclass
class Draft:
    head: list[Part]
    body: list[Part]
    tail: list[Part]
    evidence: list[str]  # substrings that must survive noise


def fill(template: str, values: dict[str, str], cap: bool = True) -> str:
    if not values.get("when"):
        template = template.replace(" {when}", "")
    text = template.format(**values)
    return text[0].upper() + text[1:] if cap and text else text


def fact_parts(
    rng: random.Random, f: Facts, event: Event, values: dict[str, str], voice: str
) -> tuple[list[Part], list[str]]:
    """The event sentence plus modifier, detail, injury and habitability statements."""
    note = voice == "note"
    parts: list[Part] = []
    evidence: list[str] = []
    sentence = fill(rng.choice(event.note if note else event.first), values, cap=not note)
    parts.append(Part(sentence, event.exclusion is None))
    if event.exclusion is not None:
        evidence.append(sentence)
    if f.modifier is not None:
        mod = MODIFIERS[f.line][f.modifier]
        text = fill(rng.choice(mod.note if note else mod.first), values, cap=not note)
        parts.append(Part(text, False))
        evidence.append(text)
    elif event.details and rng.random() < P_DETAIL:
        detail = rng.choice(event.details)
        parts.append(Part(detail[1] if note else detail[0], True))
    who_first, who_note = rng.choice(event.who)
    if f.injury != "none" or (event.injury and rng.random() < 0.5):
        pool = INJURY_NOTE[f.injury] if note else INJURY_FIRST[f.injury]
        text = fill(rng.choice(pool), {"Who": who_first, "who": who_note}, cap=not note)
        parts.append(Part(text, False))
        evidence.append(text)
    if event.uninhabitable and (f.uninhabitable or rng.random() < 0.4):
        if note:
            pool = UNINHABITABLE_NOTE if f.uninhabitable else HABITABLE_NOTE
        else:
            pool = (UNINHABITABLE_FIRST if f.uninhabitable else HABITABLE_FIRST)[f.line]
        text = fill(rng.choice(pool), values, cap=not note)
        parts.append(Part(text, False))
        evidence.append(text)
    return parts, evidence


def base_values(rng: random.Random, f: Facts) -> dict[str, str]:
    values = {k: rng.choice(v) for k, v in FILLERS.items()}
    product = PRODUCTS[f.line]
    values.update(
        when="",
        first=rng.choice(FIRST_NAMES),
        last=rng.choice(LAST_NAMES),
        title=rng.choice(TITLES),
        product=rng.choice((product.name, product.name, product.short)),
        generic=rng.choice(product.generic),
    )
    return values


def render_email(rng: random.Random, f: Facts, event: Event, values: dict[str, str]) -> Draft:
    evidence: list[str] = []
    amt = format_amount(rng, f.amount)
    evidence.append(amt)
    when = when_first(rng, f.days_ago, inline=True)
    values = {**values, "when": when, "amt": amt}
    facts, ev = fact_parts(rng, f, event, values, "first")
    evidence += ev
    if when not in facts[0].text:
        when = when_first(rng, f.days_ago, inline=False)
        values["when"] = when
        facts.insert(1, Part(fill(rng.choice(TIME_FIRST), values), False))
    evidence.append(when)
    facts.append(Part(fill(rng.choice(event.amount_first or AMOUNT_FIRST), values), False))
    if f.fraud is not None:
        text = FRAUD[f.fraud][0] or ""
        facts.append(Part(text, False))
        evidence.append(text)
    opening: list[Part] = []
    if f.naming == "product":
        opening = [Part(fill(rng.choice(OPEN_PRODUCT), values), False)]
        evidence.append(values["product"])
    elif f.naming == "generic" or rng.random() < 0.5:
        pool = OPEN_GENERIC if f.naming == "generic" else OPEN_NONE
        opening = [Part(fill(rng.choice(pool), values), True)]
    body = opening + facts
    target = rng.randint(max(2, len(body)), max(6, len(body)))
    background = [fill(b, values) for b in BACKGROUND[f.line]]
    rng.shuffle(background)
    while len(body) < target - 1 and background:
        body.insert(rng.randint(len(opening) + 1, len(body)), Part(background.pop(), True))
    if len(body) < target:
        body.append(Part(rng.choice(REQUESTS), True))
    head = [Part(rng.choice(GREETINGS), True)] if rng.random() < 0.85 else []
    tail = [Part(fill(rng.choice(SIGNOFFS), values), True)] if rng.random() < 0.9 else []
    return Draft(head, body, tail, evidence)


def render_phone(rng: random.Random, f: Facts, event: Event, values: dict[str, str]) -> Draft:
    product = PRODUCTS[f.line]
    evidence: list[str] = []
    if f.naming == "product":
        mention = rng.choice((f"{values['product']} policy", values["product"]))
        evidence.append(values["product"])
    elif f.naming == "generic":
        mention = rng.choice(product.generic)
    else:
        mention = rng.choice(PHONE_NONE_MENTION)
    head = [Part(fill(rng.choice(PHONE_OPEN), {**values, "mention": mention}), False)]
    facts, ev = fact_parts(rng, f, event, values, "note")
    evidence += ev
    when = when_note(rng, f.days_ago)
    amt = rng.choice((f"${f.amount:,}", f"${f.amount}"))
    amount_pool = PHONE_AMOUNT_LIFE if f.line == "life" else PHONE_AMOUNT
    extra = [Part(when, False), Part(rng.choice(amount_pool).format(amt=amt), False)]
    rng.shuffle(extra)
    evidence += [when, amt]
    body = facts + extra
    if f.fraud is not None:
        body.append(Part(FRAUD[f.fraud][1], False))
        evidence.append(FRAUD[f.fraud][1])
    if rng.random() < 0.35:
        pool = PHONE_CONTEXT_LIFE if f.line == "life" else PHONE_CONTEXT
        body.insert(rng.randint(1, len(body)), Part(rng.choice(pool), True))
    close = PHONE_CLOSE_LIFE if f.line == "life" else PHONE_CLOSE
    tail = [Part(rng.choice(close), True)] if rng.random() < 0.6 else []
    return Draft(head, body, tail, evidence)


def render_form(rng: random.Random, f: Facts, event: Event, values: dict[str, str]) -> Draft:
    product = PRODUCTS[f.line]
    evidence: list[str] = []
    if f.naming == "product":
        policy = values["product"]
        evidence.append(policy)
    elif f.naming == "generic":
        policy = rng.choice(product.generic)
    else:
        policy = rng.choice(FORM_POLICY_NONE)
    label = {k: rng.choice(v) for k, v in FORM_LABELS.items()}
    if f.line == "life":
        label["amount"] = rng.choice(FORM_AMOUNT_LIFE)
    facts, ev = fact_parts(rng, f, event, {**values, "when": ""}, "first")
    evidence += ev
    when = when_form(rng, f.days_ago)
    amt = format_amount(rng, f.amount)
    if rng.random() < 0.25:
        amt = "approx. " + amt
    evidence += [when, amt]
    head = [Part(f"{label['policy']}: {policy}", f.naming != "product")]
    if rng.random() < 0.6:
        head.append(Part(f"{label['name']}: {values['first']} {values['last']}", True))
    head.append(Part(f"{label['what']}:", True))
    body = facts
    if rng.random() < 0.4:
        body.append(Part(fill(rng.choice(BACKGROUND[f.line]), values), True))
    tail = [Part(f"{label['date']}: {when}", False), Part(f"{label['amount']}: {amt}", False)]
    if f.fraud is not None:
        text = FRAUD[f.fraud][0] or ""
        tail.append(Part(f"{label['other']}: {text}", False))
        evidence.append(text)
    elif rng.random() < 0.5:
        other = rng.choice(FORM_OTHER_EMPTY + REQUESTS)
        tail.append(Part(f"{label['other']}: {other}", True))
    return Draft(head, body, tail, evidence)


def typo(rng: random.Random, word: str) -> str:
    i = rng.randint(1, len(word) - 3)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def add_noise(rng: random.Random, draft: Draft, f: Facts) -> list[str]:
    """Apply 1-2 noise kinds; never touches parts that carry facts. Returns the kinds used."""
    kinds = rng.sample(("typos", "lowercase", "whitespace", "chatter"), rng.choice((1, 1, 2)))
    if "chatter" in kinds:
        if f.channel == "phone":
            text = rng.choice(PHONE_CHATTER)
        else:
            pool = CHATTER_FIRST if f.line == "life" else CHATTER_FIRST + CHATTER_CASUAL
            text = rng.choice(pool)
        draft.body.insert(rng.randint(1, len(draft.body)), Part(text, True))
    if "typos" in kinds:
        protected = {w.lower() for e in draft.evidence for w in re.findall(r"[A-Za-z]+", e)}
        candidates = [
            (part, m.group(0))
            for part in draft.head + draft.body + draft.tail
            if part.typo_ok
            for m in re.finditer(r"[A-Za-z]{5,}", part.text)
            if m.group(0).lower() not in protected
        ]
        for part, word in rng.sample(candidates, min(len(candidates), rng.randint(1, 3))):
            part.text = re.sub(rf"\b{word}\b", typo(rng, word), part.text, count=1)
    return kinds


def assemble(rng: random.Random, draft: Draft, f: Facts, kinds: list[str]) -> str:
    head = [p.text for p in draft.head]
    body = [p.text for p in draft.body]
    tail = [p.text for p in draft.tail]
    if f.channel == "email":
        blocks = ["\n".join(head), " ".join(body), "\n".join(tail)]
        text = "\n\n".join(b for b in blocks if b)
    elif f.channel == "phone":
        sep = rng.choice((". ", "; "))
        notes = [s.rstrip(".") for s in body]
        middle = sep.join(notes) + "."
        text = " ".join([*head, middle, *tail])
    else:
        text = "\n".join([*head[:-1], head[-1] + " " + " ".join(body), *tail])
    if "lowercase" in kinds:
        if rng.random() < 0.5:
            text = text.lower()
        else:
            text = re.sub(
                r"(^|[.!?]\s+|\n)([A-Z])", lambda m: m.group(1) + m.group(2).lower(), text
            )
    if "whitespace" in kinds:
        spaces = [m.start() for m in re.finditer(r" ", text)]
        for pos in sorted(rng.sample(spaces, min(len(spaces), rng.randint(1, 3))), reverse=True):
            text = text[:pos] + rng.choice(("  ", "   ")) + text[pos + 1 :]
        if rng.random() < 0.5:
            text = text.replace("\n", " \n", 1)
    return text


@dataclass(frozen=True)
class Item:
    facts: Facts
    text: str
    evidence: tuple[str, ...]
    noise: tuple[str, ...]


def make_item(rng: random.Random, line: str, channel: str) -> Item:
    f = draw_facts(rng, line, channel)
    event = event_by_key(line, f.event)
    values = base_values(rng, f)
    render = {"email": render_email, "phone": render_phone, "web_form": render_form}[channel]
    draft = render(rng, f, event, values)
    kinds = add_noise(rng, draft, f) if rng.random() < P_NOISE else []
    text = assemble(rng, draft, f, kinds)
    return Item(f, text, tuple(e for e in draft.evidence if e), tuple(kinds))


# ---------------------------------------------------------------------------
# Near-duplicate guard (word 1-2 gram TF-IDF cosine, like the harness's leakage check).
# ---------------------------------------------------------------------------


def normalize(text: str) -> str:
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(text.split())


def ngrams(text: str) -> Counter[str]:
    words = normalize(text).split()
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:])])


class LeakGuard:
    def __init__(self, train: list[Item]) -> None:
        grams = [ngrams(i.text) for i in train]
        df: Counter[str] = Counter(g for doc in grams for g in doc)
        self.n = len(train)
        self.idf = {g: math.log((1 + self.n) / (1 + c)) + 1 for g, c in df.items()}
        self.buckets: dict[tuple[str, str], list[dict[str, float]]] = {}
        for item, doc in zip(train, grams):
            key = (item.facts.line, item.facts.channel)
            self.buckets.setdefault(key, []).append(self.vector(doc))

    def vector(self, doc: Counter[str]) -> dict[str, float]:
        default = math.log(1 + self.n) + 1
        vec = {g: (1 + math.log(c)) * self.idf.get(g, default) for g, c in doc.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / norm for g, v in vec.items()}

    def too_close(self, item: Item) -> bool:
        vec = self.vector(ngrams(item.text))
        for other in self.buckets.get((item.facts.line, item.facts.channel), []):
            if sum(v * other.get(g, 0.0) for g, v in vec.items()) >= LEAK_GUARD:
                return True
        return False


# ---------------------------------------------------------------------------
# Splits, output and checks.
# ---------------------------------------------------------------------------


def labels_of(f: Facts) -> dict[str, str]:
    return {"line": f.line, "severity": severity_of(f), "route": route_of(f)}


def build_split(
    rng: random.Random, size: int, seen: set[str], guard: LeakGuard | None
) -> list[Item]:
    items: list[Item] = []
    lines: list[str] = []
    channels: list[str] = []
    while len(items) < size:
        if not lines:
            lines = list(LINES)
            rng.shuffle(lines)
        if not channels:
            channels = list(CHANNEL_BLOCK)
            rng.shuffle(channels)
        line, channel = lines.pop(), channels.pop()
        for _ in range(50):
            item = make_item(rng, line, channel)
            key = normalize(item.text)
            if key in seen or (guard is not None and guard.too_close(item)):
                continue
            seen.add(key)
            items.append(item)
            break
        else:
            raise RuntimeError(f"could not draw a fresh {line} narrative")
    return items


def to_row(split: str, index: int, item: Item) -> Row:
    labels = labels_of(item.facts)
    return {
        "id": f"{ID_PREFIX}-{split}-{index:04d}",
        "question": item.text,
        "answers": [answer_string(labels)],
        "labels": labels,
        "channel": item.facts.channel,
    }


def write_jsonl(path: Path, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def check_tables() -> None:
    docs = {}
    with HANDBOOK.open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            docs[doc["id"]] = doc["text"]
    for line, product in PRODUCTS.items():
        claims = docs[f"bm-{product.doc_slug}-claims"]
        exclusions = docs[f"bm-{product.doc_slug}-exclusions"]
        if product.deadline is None:
            assert "reported within" not in claims, f"{line}: handbook states a deadline"
        else:
            phrase = f"reported within {product.deadline} days"
            assert phrase in claims, f"{line}: handbook deadline is not {product.deadline} days"
        for key, wording in EXCLUSIONS[line].items():
            assert wording in exclusions, f"{line}/{key}: {wording!r} not in handbook exclusions"
        used = {e.exclusion for e in EVENTS[line]} | {m for e in EVENTS[line] for m in e.modifiers}
        assert used - {None} == set(EXCLUSIONS[line]), f"{line}: exclusions used {used}"
        mods = {m for e in EVENTS[line] for m in e.modifiers}
        assert mods == set(MODIFIERS.get(line, {})), f"{line}: modifiers without wording"
        assert mods <= set(EXCLUSIONS[line]), f"{line}: modifier is not an exclusion"
        covered = [e for e in EVENTS[line] if e.exclusion is None]
        assert len(covered) >= 6, f"{line}: only {len(covered)} covered event types"
        for event in EVENTS[line]:
            for template in event.first + event.note:
                assert "{When}" not in template, f"{line}/{event.key}: capitalised {{When}}"
                if "{when}" in template:
                    assert " {when}" in template, f"{line}/{event.key}: {{when}} needs a space"


def numbers_in(text: str) -> list[int]:
    found = []
    for m in re.finditer(r"\d[\d,]*(?:\.\d+)?", text):
        token = m.group(0).rstrip(",")
        found.append(int(float(token.replace(",", ""))))
    return found


def label_counts(rows: list[Row], field: str) -> Counter[str]:
    return Counter(str(r["labels"][field]) for r in rows)


def self_check(splits: dict[str, list[Item]]) -> None:
    """Re-read the written files and check them against the facts they were generated from."""
    ids: set[str] = set()
    owner: dict[str, str] = {}
    allowed = {"line": set(LINES), "severity": set(SEVERITIES), "route": set(ROUTES)}
    for split, items in splits.items():
        with (OUT_DIR / f"{split}.jsonl").open(encoding="utf-8") as fh:
            rows: list[Row] = [json.loads(line) for line in fh]
        assert len(rows) == len(items) == SPLIT_SIZES[split], f"{split}: wrong size"
        for item, row in zip(items, rows):
            rid = str(row["id"])
            assert rid not in ids, f"duplicate id {rid}"
            ids.add(rid)
            assert row["question"] == item.text, f"{rid}: narrative differs from the draft"
            labels = row["labels"]
            assert row["answers"] == [answer_string(labels)], f"{rid}: answer != labels"
            for field, values in allowed.items():
                assert labels[field] in values, f"{rid}: bad {field} {labels[field]!r}"
            f = item.facts
            expected = {"line": f.line, "severity": severity_of(f), "route": route_of(f)}
            assert labels == expected, f"{rid}: labels {labels} are not the rule output {expected}"
            assert row["channel"] == f.channel, f"{rid}: channel mismatch"
            event = event_by_key(f.line, f.event)
            assert f.exclusion == (f.modifier or event.exclusion), f"{rid}: exclusion mismatch"
            assert f.injury == "none" or f.injury in event.injury, f"{rid}: impossible injury"
            text = normalize(item.text)
            for phrase in item.evidence:
                assert normalize(phrase) in text, f"{rid}: fact {phrase!r} lost from narrative"
            numbers = numbers_in(item.text)
            stray = [n for n in numbers if n not in (f.amount, f.days_ago)]
            assert not stray, f"{rid}: stray numbers {stray} in narrative"
            assert f.amount in numbers, f"{rid}: amount not stated"
            assert f.days_ago < 2 or f.days_ago in numbers, f"{rid}: days not stated"
            assert text not in owner, f"{rid}: narrative duplicates {owner.get(text)}"
            owner[text] = rid
        for field, values in allowed.items():
            missing = sorted(set(values) - set(label_counts(rows, field)))
            assert not missing, f"{split}: {field} values never used: {missing}"
        if split == "eval":
            for field in ("severity", "route"):
                counts = label_counts(rows, field)
                for value in sorted(allowed[field]):
                    share = counts[value] / len(rows)
                    assert share >= 0.03, f"eval: {field}={value} only {share:.1%}"


def describe(split: str, rows: list[Row]) -> str:
    def dist(field: str, order: tuple[str, ...]) -> str:
        counts = label_counts(rows, field)
        return ",".join(f"{v}={counts[v]}" for v in order)

    return (
        f"{split} {len(rows)} [severity {dist('severity', SEVERITIES)}; "
        f"route {dist('route', ROUTES)}]"
    )


def main() -> None:
    check_tables()
    rng = random.Random(SEED)
    seen: set[str] = set()
    splits: dict[str, list[Item]] = {"train": build_split(rng, SPLIT_SIZES["train"], seen, None)}
    guard = LeakGuard(splits["train"])
    for split in ("dev", "eval"):
        splits[split] = build_split(rng, SPLIT_SIZES[split], seen, guard)
    rows = {
        split: [to_row(split, i + 1, item) for i, item in enumerate(items)]
        for split, items in splits.items()
    }
    for split, split_rows in rows.items():
        write_jsonl(OUT_DIR / f"{split}.jsonl", split_rows)
    self_check(splits)
    print("insurance-claims-triage: " + " | ".join(describe(s, r) for s, r in rows.items()))


if __name__ == "__main__":
    main()
