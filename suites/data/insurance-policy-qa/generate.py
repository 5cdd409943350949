"""Generate the insurance-policy-qa suite: a fictional insurer's handbook plus QA splits.

Everything here is invented (the insurer "Brindlecombe Mutual", its products, amounts,
day counts, phone codes and form numbers), so a model cannot answer from pretraining:
it has to learn the handbook or read it. Train asks every answerable fact with two
phrasings; dev and eval ask the same facts with held-out phrasings, and mix in
unanswerable questions about (product, attribute) pairs that the handbook never states
and that train never asks about.

Outputs, written next to this file: handbook.jsonl, train.jsonl, dev.jsonl, eval.jsonl.
Run from anywhere:  python3 suites/data/insurance-policy-qa/generate.py
The output is deterministic (fixed seed, no clock); a self-check runs after writing.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

SEED = 20261121
OUT_DIR = Path(__file__).resolve().parent
INSURER = "Brindlecombe Mutual"
ID_PREFIX = "bm"
QA_PREFIX = "pq"

# Unanswerable (product, attribute) pairs are split by category with these shares;
# whatever is left goes to eval.
TRAIN_UNANSWERABLE_SHARE = 0.30
DEV_UNANSWERABLE_SHARE = 0.20
# Answerable items in dev/eval, as a multiple of that split's unanswerable items.
EVAL_ANSWERABLE_RATIO = 2.0
DEV_ANSWERABLE_RATIO = 2.3
MIN_EVAL_UNANSWERABLE = 0.30
DOC_WORDS = (60, 180)
MAX_TEMPLATE_OVERLAP = 0.6  # word-set Jaccard between a held-out and a train phrasing

# ---------------------------------------------------------------------------
# Attribute kinds and the shape of their values (drives the answer aliases).
# ---------------------------------------------------------------------------

SIMPLE_KINDS: tuple[str, ...] = (
    "deductible",
    "annual_limit",
    "waiting_period",
    "max_entry_age",
    "claim_deadline",
    "claim_code",
    "claim_form",
    "payout_time",
    "claims_desk",
    "cooling_off",
    "cancellation_fee",
)
ITEM_KINDS: tuple[str, ...] = ("coverage_limit", "discount")

VALUE_TYPE: dict[str, str] = {
    "deductible": "money",
    "annual_limit": "money",
    "cancellation_fee": "money",
    "coverage_limit": "money",
    "waiting_period": "days",
    "claim_deadline": "days",
    "cooling_off": "days",
    "payout_time": "business_days",
    "max_entry_age": "years",
    "claim_code": "code",
    "claim_form": "form",
    "claims_desk": "desk",
    "discount": "percent",
}

# Phrases whose presence in a product's documents would (partly) answer a question of
# that kind; a product without the kind must contain none of them.
ABSENCE_TERMS: dict[str, tuple[str, ...]] = {
    "deductible": ("deductible", "excess"),
    "annual_limit": ("policy year", "annual limit", "all claims", "per year"),
    "waiting_period": ("waiting",),
    "max_entry_age": ("entry age", "maximum age", "years of age", "years old", "older than"),
    "claim_deadline": (
        "reported within",
        "notified within",
        "deadline",
        "time limit",
        "must be reported",
    ),
    "claim_code": ("routing code",),
    "claim_form": ("Form BM-",),
    "payout_time": ("business days", "payment is made within", "paid within"),
    "claims_desk": ("desk",),
    "cooling_off": ("cooling-off", "cooling off", "full refund", "change your mind"),
    "cancellation_fee": (
        "cancellation fee",
        "cancellation charge",
        "administration fee",
        "admin fee",
    ),
}

# Question phrasings, six per kind: 0-1 train, 2-3 dev, 4-5 eval.
TRAIN_TEMPLATES = (0, 1)
DEV_TEMPLATES = (2, 3)
EVAL_TEMPLATES = (4, 5)
TEMPLATES: dict[str, tuple[str, ...]] = {
    "deductible": (
        "What is the deductible on a {product} policy?",
        "How large a deductible applies to each {product} claim?",
        "When I claim on {product}, how much of the cost do I have to cover myself?",
        "{product} subtracts what amount from every claim settlement?",
        "Before {insurer} pays out on a {product} claim, what sum does the policyholder bear?",
        "Tell me the per-claim excess that applies to {product}.",
    ),
    "annual_limit": (
        "What is the annual claims limit for {product}?",
        "What is the maximum {product} pays out in total per policy year?",
        "Across a whole policy year, how much can be paid in total under {product}?",
        "What yearly cap applies to all {product} claims combined?",
        (
            "Adding up every claim made in one year, what is the most a {product} policyholder "
            "can receive?"
        ),
        "{product}: what's the overall ceiling on payouts in a year?",
    ),
    "coverage_limit": (
        "What is the limit for {item} under {product}?",
        "Up to how much does {product} cover {item}?",
        "How much will {product} pay at most for {item}?",
        "Under the {product} policy, what is the cap on {item}?",
        "If I make a claim for {item} on {product}, what's the most I can get?",
        "What is the insured amount for {item} in {product}?",
    ),
    "waiting_period": (
        "What is the waiting period for {product}?",
        "How long is the waiting period before {product} cover begins?",
        "How many days after buying {product} must pass before a claim is accepted?",
        "Counting from the start date, when does cover under a new {product} policy kick in?",
        "A new {product} customer has to wait how long before they can make a claim?",
        "{product}: length of the initial period in which claims are not accepted?",
    ),
    "max_entry_age": (
        "What is the maximum entry age for {product}?",
        "Up to what age can a new {product} policy be taken out?",
        "What is the oldest age accepted for new {product} applications?",
        "{product} has an age cap for joining. What is it?",
        "Past what age will {insurer} refuse a new application for {product}?",
        "How old can the insured be, at most, when {product} cover first starts?",
    ),
    "claim_deadline": (
        "What is the deadline for reporting a {product} claim?",
        "Within how many days must a claim under {product} be reported?",
        "How long after an incident do I have to notify {insurer} of a {product} claim?",
        "What is the time limit for submitting a {product} claim after the event?",
        "If something covered by {product} happens, how long do I have to lodge the claim?",
        "{product} claims have to be notified within what period following the incident?",
    ),
    "claim_code": (
        "What routing code should I enter when calling about a {product} claim?",
        "Which phone code directs claims-line calls to the {product} team?",
        "When phoning in a claim on {product}, what code do I key in?",
        "What is the claims-line code for {product}?",
        "To reach the right team by telephone with a {product} claim, which code is needed?",
        (
            "I'm ringing {insurer} about my {product} claim. What do I key in to reach the right "
            "people?"
        ),
    ),
    "claim_form": (
        "Which form is used to file a {product} claim?",
        "What is the claim form number for {product}?",
        "To make a written claim under {product}, which form must be completed?",
        "Name the form a {product} policyholder fills in to claim.",
        "What form number does {insurer} require for {product} claims made on paper?",
        "I'm claiming in writing under {product}: which numbered form do I send?",
    ),
    "payout_time": (
        "How quickly are approved {product} claims paid?",
        "Within how many business days does {insurer} pay an approved {product} claim?",
        "After approval, how long does it take to receive a {product} payout?",
        "What is the settlement time for an accepted {product} claim?",
        "Once my {product} claim has been approved, when will the money arrive?",
        "{product}: payment turnaround after a claim is accepted?",
    ),
    "claims_desk": (
        "Which team handles {product} claims?",
        "What is the name of the claims team for {product}?",
        "Who at {insurer} processes claims made under {product}?",
        "{product} claims are dealt with by which desk?",
        "If I claim on {product}, which named unit will look after my claim?",
        "Name the dedicated desk responsible for {product} claims.",
    ),
    "cooling_off": (
        "How long is the cooling-off period for {product}?",
        "What is the cooling-off period on a new {product} policy?",
        "How many days do I have to cancel {product} for a full refund after buying it?",
        (
            "For how long after purchase can a {product} policy be cancelled without losing any "
            "premium?"
        ),
        (
            "If I change my mind about {product}, within what period can I cancel and get all my "
            "money back?"
        ),
        "What full-refund cancellation window does {insurer} give on {product}?",
    ),
    "cancellation_fee": (
        "What is the cancellation fee for {product}?",
        "How much does it cost to cancel {product} once the cooling-off period is over?",
        "What charge does {insurer} apply for terminating {product} mid-term?",
        "If I end my {product} cover part-way through the term, what charge applies?",
        (
            "What will {insurer} charge me for cancelling {product} after the cooling-off window "
            "has closed?"
        ),
        "{product} cancellation after the cooling-off period: how much is deducted as a fee?",
    ),
    "discount": (
        "How much is the {item} on {product}?",
        "What percentage is the {item} for {product}?",
        "By what percentage does the {item} reduce a {product} premium?",
        "{product}: size of the {item}?",
        "If I qualify for the {item}, how much comes off my {product} premium?",
        "What {item} rate does {insurer} offer on {product}?",
    ),
}

# Handbook sentences stating one fact each ({v} is the canonical value).
FACT_SENTENCES: dict[str, str] = {
    "deductible": "A deductible of {v} is taken off every claim settled under {product}.",
    "annual_limit": "The most {insurer} will pay across all claims in a single policy year is {v}.",
    "waiting_period": (
        "A waiting period of {v} runs from the policy start date, and no claim "
        "is accepted for events that happen during it."
    ),
    "claim_deadline": "A claim must be reported within {v} of the event that gives rise to it.",
    "claim_code": (
        "To claim by phone, call the claims line and key in routing code {v} when prompted."
    ),
    "claim_form": "Written claims are made on {v}, available from the member portal or by post.",
    "payout_time": "Once a claim has been approved, payment is made within {v}.",
    "claims_desk": "{product} claims are handled by the {v}, a dedicated team within {insurer}.",
    "cooling_off": (
        "New policyholders have a cooling-off period of {v} from the start date, "
        "during which they can cancel for a full refund."
    ),
    "cancellation_fee": "Cancelling after the cooling-off period incurs a cancellation fee of {v}.",
}
COVERAGE_SENTENCES: tuple[str, ...] = (
    "{Item} is covered up to {v} per claim.",
    "For {item}, the policy pays up to {v}.",
    "The limit for {item} is {v}.",
)
DISCOUNT_SENTENCE = "A {item} of {v} is available to {condition}."

# ---------------------------------------------------------------------------
# Products. Every value is unique across the handbook; absent_* lists name cover
# and discounts the product does NOT have (used for unanswerable questions).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    slug: str
    name: str
    line: str
    description: str
    exclusions: str
    claim_documents: str
    facts: dict[str, str]
    coverages: tuple[tuple[str, str, str | None], ...]  # (name, value, own sentence or None)
    discounts: tuple[tuple[str, str, str], ...]  # (name, value, who qualifies)
    absent_coverages: tuple[str, ...]
    absent_discounts: tuple[str, ...]
    age_sentence: str | None = None


PRODUCTS: tuple[Product, ...] = (
    Product(
        slug="hearthward",
        name="Hearthward Plus",
        line="home buildings and contents insurance",
        description=(
            "Hearthward Plus is {insurer}'s combined buildings and contents policy for "
            "owner-occupied houses and flats. It protects the structure of the home, its "
            "permanent fittings and the household goods kept inside, and it is sold for a "
            "twelve-month term with a renewal invitation sent before each anniversary. Holiday "
            "lets and homes used mainly for business are not eligible."
        ),
        exclusions=(
            "Hearthward Plus does not pay for damage caused by wear and tear, gradual "
            "deterioration or poor workmanship. Loss or damage while the home has been left "
            "empty for a long stretch is excluded, as is damage deliberately caused by anyone "
            "living at the property. Frost damage to outbuildings, mechanical breakdown of "
            "domestic appliances and the cost of clearing blocked gutters fall outside the "
            "policy."
        ),
        claim_documents=(
            "a list of the damaged items with their approximate age, photographs of the damage "
            "taken before any repairs, and receipts or bank statements showing ownership of "
            "valuable items"
        ),
        facts={
            "deductible": "$640",
            "annual_limit": "$412,000",
            "claim_deadline": "37 days",
            "claim_code": "LQ-3381",
            "claim_form": "Form BM-27B",
            "payout_time": "6 business days",
            "claims_desk": "Larkfield Desk",
            "cooling_off": "17 days",
            "cancellation_fee": "$58",
        },
        coverages=(
            ("escape of water", "$23,500", None),
            ("accidental glass breakage", "$3,180", None),
            ("emergency lock replacement", "$1,340", None),
            ("garden plants and shrubs", "$2,270", None),
        ),
        discounts=(
            (
                "alarm-fitted discount",
                "11%",
                "homes with a monitored burglar alarm that is serviced each year",
            ),
            (
                "claim-free discount",
                "23%",
                "members who have made no claim on any home policy in the previous five years",
            ),
        ),
        absent_coverages=(
            "subsidence",
            "solar panels",
            "swimming pool damage",
            "home office equipment",
            "temporary accommodation",
        ),
        absent_discounts=("loyalty discount", "paperless discount", "senior discount"),
    ),
    Product(
        slug="tenant-satchel",
        name="Tenant Satchel",
        line="contents insurance for renters",
        description=(
            "Tenant Satchel is a contents-only policy designed for people who rent their home. "
            "It covers personal possessions inside the rented property and, for named benefits, "
            "when they are carried elsewhere. The building itself remains the landlord's "
            "responsibility, so Tenant Satchel never pays for repairs to walls, roofs or "
            "plumbing. Shared houses can be insured if each tenant holds a separate policy."
        ),
        exclusions=(
            "Tenant Satchel excludes cash, travel tickets and gift cards, as well as any item "
            "belonging to a flatmate who is not named on the schedule. Theft is only covered "
            "where there are signs of forced entry, unless the item was stolen while being "
            "carried outside the home under a named benefit. Damage by pets, mould and "
            "condensation is not covered, and the policy will not pay for items left in an "
            "unlocked vehicle. Electrical faults that are not the result of an insured event "
            "are also excluded."
        ),
        claim_documents=(
            "the tenancy agreement or a recent rent receipt, a crime reference number for any "
            "theft, and proof of purchase for items of significant value"
        ),
        facts={
            "deductible": "$215",
            "annual_limit": "$38,400",
            "claim_deadline": "26 days",
            "claim_code": "QF-2093",
            "claim_form": "Form BM-41C",
            "claims_desk": "Copperline Desk",
            "cooling_off": "23 days",
        },
        coverages=(
            ("belongings taken away from home", "$4,860", None),
            ("bicycles", "$1,905", None),
            ("freezer contents", "$735", None),
        ),
        discounts=(
            (
                "student discount",
                "14%",
                "full-time students living in university-approved lettings",
            ),
        ),
        absent_coverages=(
            "musical instruments",
            "replacement locks",
            "alternative accommodation",
            "jewellery",
            "accidental damage to carpets",
        ),
        absent_discounts=("multi-policy discount", "alarm-fitted discount", "loyalty discount"),
    ),
    Product(
        slug="roadwright",
        name="Roadwright Comprehensive",
        line="comprehensive motor insurance",
        description=(
            "Roadwright Comprehensive is a private car policy covering accidental damage, fire "
            "and theft of the insured vehicle, together with liability towards other road users. "
            "It is available for cars registered to and kept at the policyholder's home address, "
            "and up to three named drivers may be added. Vehicles used for deliveries, "
            "ride-hailing or track days cannot be insured under Roadwright."
        ),
        exclusions=(
            "Roadwright Comprehensive does not cover mechanical or electrical breakdown, tyre "
            "damage caused by braking or punctures, or loss of value after a repair. There is no "
            "cover while the car is driven by someone who is not named on the policy, while the "
            "driver is over the legal alcohol limit, or while the vehicle is being used for "
            "racing or timed events. Theft is excluded if the keys were left in or on the car."
        ),
        claim_documents=(
            "the driving licence of the person driving at the time, the registration details of "
            "any other vehicle involved, and photographs of the scene if it was safe to take them"
        ),
        facts={
            "deductible": "$1,170",
            "max_entry_age": "81 years",
            "claim_deadline": "9 days",
            "claim_code": "VK-7702",
            "claim_form": "Form BM-08A",
            "payout_time": "11 business days",
            "claims_desk": "Gannet Row Desk",
            "cooling_off": "16 days",
            "cancellation_fee": "$72",
        },
        age_sentence=(
            "The maximum entry age for the main driver is 81 years; older drivers "
            "cannot take out a new policy as the main driver."
        ),
        coverages=(
            ("windscreen repair", "$890", None),
            ("courtesy car hire", "$1,460", None),
            ("personal effects in the vehicle", "$615", None),
            ("towing after a breakdown", "$385", None),
        ),
        discounts=(
            (
                "telematics discount",
                "18%",
                "drivers who fit the Roadwright driving-score box and keep a good score",
            ),
            ("second-car discount", "9%", "households that insure a second car with the mutual"),
        ),
        absent_coverages=(
            "key replacement",
            "child car seats",
            "charging cables",
            "legal expenses",
            "onward travel costs",
        ),
        absent_discounts=("student discount", "loyalty discount", "low-mileage discount"),
    ),
    Product(
        slug="wayfarer-gull",
        name="Wayfarer Gull",
        line="single-trip travel insurance",
        description=(
            "Wayfarer Gull is a single-trip travel policy that covers one journey abroad, of a "
            "length chosen at purchase. It protects against medical emergencies, cancellation "
            "for serious reasons and problems with luggage, and it includes a round-the-clock "
            "assistance service for travellers who fall ill. Cover must be bought before the "
            "traveller leaves home, and each traveller on a booking is named individually."
        ),
        exclusions=(
            "Wayfarer Gull will not pay claims arising from travel against official government "
            "advice, from medical conditions that were not declared, or from injuries sustained "
            "while under the influence of alcohol or drugs. Deep scuba diving, mountaineering "
            "with ropes and any professional sport are excluded. Luggage losses that are not "
            "reported to the carrier or to local police are not covered, and the policy does "
            "not pay when a traveller simply decides not to go."
        ),
        claim_documents=(
            "the booking confirmation and tickets, original medical reports or receipts from "
            "treatment abroad, and the carrier's written report for any baggage that was delayed"
        ),
        facts={
            "deductible": "$95",
            "max_entry_age": "79 years",
            "claim_deadline": "45 days",
            "claim_code": "NP-1186",
            "claim_form": "Form BM-62D",
            "claims_desk": "Sandpiper Desk",
            "cooling_off": "13 days",
        },
        age_sentence=(
            "Travellers can be insured under Wayfarer Gull up to a maximum entry age "
            "of 79 years on the date the policy is bought."
        ),
        coverages=(
            ("emergency medical expenses", "$2,750,000", None),
            ("trip cancellation", "$6,300", None),
            ("delayed baggage", "$420", None),
            ("lost passport replacement", "$310", None),
        ),
        discounts=(
            (
                "family discount",
                "16%",
                "two adults travelling with their own children under eighteen on the same booking",
            ),
        ),
        absent_coverages=(
            "winter sports equipment",
            "missed connections",
            "rental car excess",
            "personal liability abroad",
            "cruise interruption",
        ),
        absent_discounts=("multi-trip discount", "student discount", "senior discount"),
    ),
    Product(
        slug="pawsmith",
        name="Pawsmith Lifetime",
        line="lifetime pet insurance for cats and dogs",
        description=(
            "Pawsmith Lifetime is a pet policy for cats and dogs that renews the vet fee "
            "benefit every year for as long as the policy continues without a break. It pays "
            "towards veterinary treatment for accidents and illnesses, together with several "
            "smaller benefits listed in the cover section. Each animal needs its own policy, "
            "though owners of several pets can manage them under one account."
        ),
        exclusions=(
            "Pawsmith Lifetime does not cover routine care such as vaccinations, flea and worm "
            "treatment, neutering or nail clipping. Conditions that showed symptoms before cover "
            "started are excluded permanently. Breeding costs, pregnancy and whelping are not "
            "covered, nor is any treatment that a vet considers preventive rather than curative. "
            "The policy will not pay for grooming, cosmetic surgery or the cost of a pet "
            "passport."
        ),
        claim_documents=(
            "a completed vet section signed by the treating practice, itemised invoices, and "
            "the pet's full clinical history"
        ),
        facts={
            "deductible": "$180",
            "annual_limit": "$7,850",
            "waiting_period": "19 days",
            "max_entry_age": "9 years",
            "claim_deadline": "63 days",
            "claim_code": "RX-4417",
            "claim_form": "Form BM-33F",
            "payout_time": "8 business days",
            "claims_desk": "Whitlow Desk",
            "cooling_off": "15 days",
            "cancellation_fee": "$41",
        },
        age_sentence=(
            "Pets can be enrolled in Pawsmith Lifetime until they reach 9 years of "
            "age; older animals are not accepted as new members."
        ),
        coverages=(
            ("dental illness", "$1,120", None),
            ("behavioural therapy", "$540", None),
            ("boarding kennel fees", "$830", None),
        ),
        discounts=(
            ("multi-pet discount", "12%", "owners insuring more than one pet with the mutual"),
            ("microchip discount", "4%", "pets whose microchip details are registered and current"),
        ),
        absent_coverages=(
            "third-party liability",
            "lost pet advertising",
            "death from illness",
            "hydrotherapy",
            "overseas vet treatment",
        ),
        absent_discounts=("loyalty discount", "paperless discount", "senior pet discount"),
    ),
    Product(
        slug="molar-meridian",
        name="Molar Meridian",
        line="dental insurance",
        description=(
            "Molar Meridian is a dental plan for adults that reimburses a share of the cost of "
            "check-ups, fillings and more complex treatment carried out by any registered "
            "dentist. Members choose their own practice and claim back afterwards, so there is "
            "no need to switch dentist. The plan can be held on its own or alongside Brightwell "
            "Health Select."
        ),
        exclusions=(
            "Molar Meridian does not pay for cosmetic procedures, including veneers and tooth "
            "bleaching, or for treatment that was started before membership began. Prescription "
            "charges and missed appointment charges made by a practice are excluded. Treatment "
            "carried out abroad is not covered, and any work needed because of an accident while "
            "playing contact sports is excluded."
        ),
        claim_documents=(
            "an itemised receipt from the dentist showing each treatment code, and a treatment "
            "plan for any course of work that runs over several visits"
        ),
        facts={
            "deductible": "$85",
            "annual_limit": "$2,640",
            "waiting_period": "143 days",
            "max_entry_age": "69 years",
            "claim_deadline": "92 days",
            "claim_code": "DZ-6620",
            "claim_form": "Form BM-19E",
            "payout_time": "4 business days",
            "cooling_off": "33 days",
        },
        age_sentence="The maximum entry age for Molar Meridian is 69 years.",
        coverages=(
            ("root canal treatment", "$960", None),
            ("orthodontic braces", "$1,780", None),
            ("emergency dental call-outs", "$260", None),
        ),
        discounts=(
            ("couples discount", "7%", "two partners who join Molar Meridian at the same time"),
        ),
        absent_coverages=(
            "dental implants",
            "hygienist visits",
            "sports mouthguards",
            "crowns",
            "oral cancer screening",
        ),
        absent_discounts=("family discount", "non-smoker discount", "annual-payment discount"),
    ),
    Product(
        slug="brightwell",
        name="Brightwell Health Select",
        line="private health insurance",
        description=(
            "Brightwell Health Select is a private medical policy for individuals, giving "
            "access to specialist consultations, diagnostic tests and selected therapies "
            "without long delays. Members are sent by their own doctor and may choose from a "
            "list of approved clinics. Hospital treatment must be authorised in advance by "
            "Brightwell's clinical team, who confirm which benefit the treatment falls under."
        ),
        exclusions=(
            "Brightwell Health Select excludes treatment of chronic conditions once they have "
            "been stabilised, routine pregnancy care, and any procedure carried out for cosmetic "
            "reasons. Emergency admissions to public hospitals are not covered, because the "
            "policy is designed for planned treatment. Drug and alcohol rehabilitation, "
            "experimental therapies and treatment for injuries from dangerous hobbies such as "
            "motor racing are also outside the cover."
        ),
        claim_documents=(
            "the letter from the member's own doctor, the specialist's invoice, and the "
            "pre-authorisation number issued before treatment"
        ),
        facts={
            "deductible": "$320",
            "annual_limit": "$146,000",
            "waiting_period": "88 days",
            "max_entry_age": "64 years",
            "claim_deadline": "118 days",
            "claim_code": "HB-2954",
            "claim_form": "Form BM-50A",
            "payout_time": "12 business days",
            "claims_desk": "Foxglove Desk",
            "cooling_off": "28 days",
            "cancellation_fee": "$36",
        },
        age_sentence=(
            "The maximum entry age for Brightwell Health Select is 64 years; existing "
            "members may renew beyond that age."
        ),
        coverages=(
            ("physiotherapy", "$1,350", None),
            ("optical care", "$285", None),
            ("mental health therapy", "$3,940", None),
        ),
        discounts=(
            (
                "non-smoker discount",
                "13%",
                "members who have not used tobacco or nicotine products in the last twelve months",
            ),
            ("gym-membership discount", "6%", "members who show proof of a current gym membership"),
        ),
        absent_coverages=(
            "fertility treatment",
            "hearing aids",
            "overseas treatment",
            "chiropractic care",
            "private ambulance transfers",
        ),
        absent_discounts=("family discount", "loyalty discount", "annual-payment discount"),
    ),
    Product(
        slug="counterstone",
        name="Counterstone Business",
        line="small-business insurance for shops and workshops",
        description=(
            "Counterstone Business is a package policy for small shops, cafés and workshops "
            "with no more than a handful of employees. It combines cover for the contents of "
            "the premises, trading stock and portable tools with protection against claims from "
            "members of the public. The policy is written for a single trading address; firms "
            "with several sites are asked to contact {insurer} before buying. Cover can be "
            "arranged in the trading name of a sole trader or of a limited company."
        ),
        exclusions=(
            "Counterstone Business does not cover losses caused by the gradual deterioration of "
            "stock, by a failure to keep the premises secure overnight, or by faulty work carried "
            "out for customers. Fines and penalties imposed by regulators are excluded, as are "
            "claims made by staff against the business. Business vehicles must be insured under "
            "a separate motor policy."
        ),
        claim_documents=(
            "the stock records for the month before the loss, copies of any invoices for "
            "damaged equipment, and, for liability claims, every letter received from the person "
            "making the claim"
        ),
        facts={
            "deductible": "$1,480",
            "claim_deadline": "21 days",
            "claim_code": "CJ-8075",
            "claim_form": "Form BM-71K",
            "payout_time": "15 business days",
            "claims_desk": "Ironmonger Desk",
        },
        coverages=(
            ("public liability", "$1,250,000", None),
            ("stock spoilage", "$8,900", None),
            ("business interruption", "$47,500", None),
            ("portable equipment", "$5,640", None),
        ),
        discounts=(
            (
                "safe-storage discount",
                "8%",
                "premises where stock is kept in a locked store room fitted with a door sensor",
            ),
        ),
        absent_coverages=(
            "cyber attack losses",
            "employee theft",
            "goods in transit",
            "equipment breakdown",
            "signage damage",
        ),
        absent_discounts=("paperless discount", "multi-site discount", "loyalty discount"),
    ),
    Product(
        slug="evergreen-ledger",
        name="Evergreen Ledger Term",
        line="term life insurance",
        description=(
            "Evergreen Ledger Term is a level term life policy that pays a lump sum if the "
            "insured person dies during the chosen term. The amount does not fall over time, "
            "which makes the policy suitable for families who want a fixed sum to protect a "
            "household budget. The term is chosen at purchase, and the policy ends without any "
            "cash value if the insured person survives to the end of it."
        ),
        exclusions=(
            "Evergreen Ledger Term will not pay if death results from taking part in a riot, from "
            "flying other than as a fare-paying passenger, or from a condition that was "
            "deliberately not disclosed on the application. Deaths during military service in a "
            "conflict zone are excluded. The policy has no surrender value, and premiums paid "
            "are not returned when the term ends."
        ),
        claim_documents=(
            "the death certificate, the policy number, proof of the claimant's identity and, "
            "where the estate needs it, the grant of probate"
        ),
        facts={
            "waiting_period": "56 days",
            "max_entry_age": "58 years",
            "claim_code": "EW-3047",
            "claim_form": "Form BM-85H",
            "payout_time": "22 business days",
            "claims_desk": "Quillgate Desk",
            "cooling_off": "31 days",
        },
        age_sentence=(
            "The maximum entry age is 58 years, and the chosen term must end before "
            "the insured person's eightieth birthday."
        ),
        coverages=(
            ("death benefit", "$950,000", "The death benefit can be set at any level up to {v}."),
            (
                "terminal illness advance",
                "$62,500",
                "If the insured person is diagnosed with a terminal illness, a terminal illness "
                "advance of up to {v} is paid early and taken off the death benefit.",
            ),
            (
                "funeral expenses advance",
                "$7,500",
                "A funeral expenses advance of up to {v} can be released to the estate ahead of "
                "the full claim.",
            ),
        ),
        discounts=(
            (
                "healthy-weight discount",
                "17%",
                "applicants whose body mass index falls within the healthy range at application",
            ),
        ),
        absent_coverages=(
            "critical illness",
            "accidental disability",
            "income protection",
            "children's cover",
            "hospital cash benefit",
        ),
        absent_discounts=("non-smoker discount", "couples discount", "loyalty discount"),
    ),
    Product(
        slug="pocketvault",
        name="Pocketvault Gadget",
        line="gadget insurance for phones, tablets and laptops",
        description=(
            "Pocketvault Gadget insures one phone, tablet, laptop or smartwatch that was bought "
            "new from a recognised retailer. Repairs are carried out by approved engineers, and "
            "a device that cannot be repaired is replaced with one of the same or a similar "
            "specification. Refurbished and second-hand devices cannot be insured, and the "
            "policy follows the device rather than the person carrying it."
        ),
        exclusions=(
            "Pocketvault Gadget does not cover cosmetic scratches or dents that do not stop the "
            "device working, faults covered by the manufacturer's warranty, or software problems "
            "and viruses. Theft from an unattended vehicle is excluded unless the device was "
            "hidden in a locked glovebox or boot. Devices that have been modified, jailbroken or "
            "repaired by an unapproved engineer lose their cover."
        ),
        claim_documents=(
            "the original proof of purchase, the device's serial or IMEI number, and a police "
            "reference for any theft"
        ),
        facts={
            "deductible": "$65",
            "annual_limit": "$3,300",
            "waiting_period": "12 days",
            "claim_deadline": "5 days",
            "claim_code": "PV-5538",
            "claim_form": "Form BM-14G",
            "payout_time": "3 business days",
            "claims_desk": "Magpie Desk",
            "cooling_off": "11 days",
            "cancellation_fee": "$19",
        },
        coverages=(
            ("screen repair", "$470", None),
            ("liquid damage", "$590", None),
            ("theft of the device", "$1,090", None),
        ),
        discounts=(
            (
                "multi-device discount",
                "21%",
                "members who insure two or more devices under one account",
            ),
        ),
        absent_coverages=(
            "battery replacement",
            "accessories",
            "data recovery",
            "courier collection costs",
            "unauthorised call charges",
        ),
        absent_discounts=("student discount", "loyalty discount", "paperless discount"),
    ),
)

# Insurer-wide documents (no tested facts; kept free of numbers).
GENERAL_DOCS: tuple[tuple[str, str, str], ...] = (
    (
        "about",
        "About {insurer}",
        (
            "{insurer} is a member-owned insurer: the people who hold its policies are its "
            "members, and any surplus is used to keep premiums steady or to improve cover rather "
            "than to pay outside shareholders. This handbook collects the rules for every product "
            "the mutual sells. Each product has its own overview, a section on cover and limits, a "
            "list of exclusions, a claims section and a section on premiums, discounts and "
            "cancelling. Where a product section is silent on a topic, members should contact "
            "Member Care rather than rely on a figure quoted for a different product."
        ),
    ),
    (
        "paying-premiums",
        "Paying premiums",
        (
            "Premiums for every {insurer} product can be paid in one payment each year by card or "
            "bank transfer, or in monthly instalments by direct debit. The first instalment is "
            "collected shortly after the policy starts, and later instalments are taken on the same "
            "day each month. Members can change the collection day through the member portal. If a "
            "direct debit cannot be collected, Member Care will write to the member to arrange "
            "another way to pay. Receipts for card payments are emailed automatically, and a "
            "statement of premiums paid can be downloaded at any time."
        ),
    ),
    (
        "complaints",
        "Making a complaint",
        (
            "Members who are unhappy with a decision or with the service they received should first "
            "raise the matter with the team that handled it, for example the desk that managed "
            "their claim. If that does not settle things, the complaint can be passed to Member "
            "Care, which reviews the file separately from the original team. Member Care explains "
            "its findings in writing, says what it will do to put matters right, and sets out any "
            "further options available. Complaints can be made by phone, by email or through the "
            "member portal, and making a complaint never affects the member's cover."
        ),
    ),
    (
        "fraud",
        "Fraudulent claims",
        (
            "{insurer} shares information with other insurers and with fraud prevention agencies "
            "to detect false or exaggerated claims. If any part of a claim is found to be dishonest, "
            "the whole claim is declined and the member's policies may be cancelled from the date "
            "of the fraud. The mutual may also recover any money already paid and the cost of "
            "investigating. Honest mistakes are treated differently: a member who corrects an error "
            "on a claim or an application as soon as they notice it will not be penalised."
        ),
    ),
    (
        "glossary",
        "Glossary of handbook terms",
        (
            "Deductible: the part of each claim the member pays before the mutual pays the rest; it "
            "is taken off the settlement rather than paid separately. Waiting period: a stretch of "
            "time at the start of a policy during which claims for new conditions or events are not "
            "accepted; not every product has one. Cooling-off period: the time after buying a policy "
            "during which it can be cancelled for a full refund. Routing code: the short code keyed "
            "into the claims line so that a call reaches the right product team. Limit: the most the "
            "mutual will pay for a particular benefit."
        ),
    ),
    (
        "changes-and-renewals",
        "Changes and renewals",
        (
            "Members should tell {insurer} promptly about changes that could affect their cover, "
            "such as moving home, adding a driver, starting to work from home or buying a more "
            "valuable gadget. Most changes can be made in the member portal and take effect from the "
            "date they are recorded. Before each renewal the mutual sends a renewal invitation "
            "showing the new premium and any changes to the policy wording. Policies renew "
            "automatically unless the member opts out, and a member who does not want to renew only "
            "needs to tell Member Care before the renewal date."
        ),
    ),
)

# Insurer-wide questions the handbook never answers: (topic, phrasings, terms that must
# appear in no document).
GENERAL_UNANSWERABLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "reinstatement-fee",
        (
            "What fee does {insurer} charge to reinstate a policy that has lapsed?",
            "How much does it cost to restore a lapsed {insurer} policy?",
            "If my cover lapses for non-payment, what is the reinstatement charge?",
        ),
        ("reinstat", "lapse", "restore"),
    ),
    (
        "broker-commission",
        (
            "What commission rate does {insurer} pay to insurance brokers?",
            "How much commission do brokers earn on {insurer} policies?",
            "What percentage of the premium goes to a broker as commission?",
        ),
        ("commission", "broker"),
    ),
    (
        "late-payment-fee",
        (
            "What is the late payment fee if a premium is paid after its due date?",
            "How much does {insurer} charge when a premium instalment is overdue?",
            "If I pay my premium late, what penalty fee is added?",
        ),
        ("late payment", "late fee", "overdue", "penalty fee"),
    ),
    (
        "chief-executive",
        (
            "Who is the chief executive of {insurer}?",
            "What is the name of {insurer}'s CEO?",
            "Which person leads {insurer} as managing director?",
        ),
        ("chief executive", "ceo", "managing director"),
    ),
    (
        "founding-year",
        (
            "In what year was {insurer} founded?",
            "When was {insurer} established?",
            "What year did {insurer} begin trading?",
        ),
        ("founded", "established", "began trading", "begin trading"),
    ),
    (
        "instalment-interest",
        (
            "What interest rate applies when premiums are paid monthly?",
            "What APR does {insurer} charge on monthly instalments?",
            "How much interest is added if I spread my premium over monthly payments?",
        ),
        ("interest", "apr"),
    ),
    (
        "duplicate-documents-fee",
        (
            "What is the fee for a duplicate copy of my policy documents?",
            "How much does {insurer} charge to reissue lost policy paperwork?",
            "If I lose my policy schedule, what does a replacement copy cost?",
        ),
        ("duplicate", "reissue", "replacement copy"),
    ),
    (
        "ombudsman",
        (
            "Which ombudsman scheme handles complaints about {insurer}?",
            "What is {insurer}'s ombudsman membership number?",
            "To which independent ombudsman can I escalate an unresolved complaint?",
        ),
        ("ombudsman",),
    ),
    (
        "adjustment-fee",
        (
            "What does {insurer} charge to change my address in the middle of a policy term?",
            "What is the mid-term adjustment fee?",
            "How much is the administration fee for amending a policy mid-term?",
        ),
        ("adjustment fee", "amendment fee", "admin fee", "administration fee"),
    ),
    (
        "referral-reward",
        (
            "How much does {insurer} pay for referring a friend?",
            "What reward do I get under the refer-a-friend scheme?",
            "What is the referral bonus for recommending {insurer} to someone?",
        ),
        ("referral", "refer a friend", "refer-a-friend", "recommend"),
    ),
    (
        "grace-period",
        (
            "How long is the grace period for a missed premium payment?",
            "After missing a premium, how many days do I have before cover stops?",
            "What grace period does {insurer} allow when a premium goes unpaid?",
        ),
        ("grace period", "missed premium", "missed payment", "unpaid"),
    ),
    (
        "head-office",
        (
            "What is the street address of {insurer}'s head office?",
            "Where is {insurer}'s head office located?",
            "In which town is {insurer} headquartered?",
        ),
        ("head office", "headquarter", "street"),
    ),
    (
        "weekend-hours",
        (
            "What time does the claims line close on Saturdays?",
            "What are the opening hours of {insurer}'s claims line at weekends?",
            "Until what hour can I phone the claims team on a Saturday?",
        ),
        ("saturday", "weekend", "opening hours", "a.m.", "p.m."),
    ),
    (
        "minimum-premium",
        (
            "What is the minimum annual premium {insurer} will accept for any policy?",
            "What is the lowest premium {insurer} charges?",
            "How much is the minimum premium across {insurer} products?",
        ),
        ("minimum premium", "lowest premium", "minimum annual premium"),
    ),
)

# ---------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str
    product: str | None  # product slug, None for insurer-wide documents


@dataclass(frozen=True)
class Fact:
    product: Product
    kind: str
    item: str | None
    canonical: str
    doc_id: str

    @property
    def key(self) -> str:
        return f"{self.product.slug}|{self.kind}|{self.item or ''}"


@dataclass(frozen=True)
class Unanswerable:
    category: str  # missing-kind | absent-coverage | absent-discount | general
    product: Product | None
    kind: str | None
    item: str | None
    phrasings: tuple[str, ...] | None = None  # only for insurer-wide topics

    @property
    def key(self) -> str:
        slug = self.product.slug if self.product else "*"
        return f"{slug}|{self.kind}|{self.item or ''}"


# ---------------------------------------------------------------------------
# Answer aliases
# ---------------------------------------------------------------------------

_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(n: int) -> str:
    """English words for 0 <= n < 1000 (e.g. 143 -> 'one hundred forty-three')."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")


def _dedupe(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


def money_aliases(canonical: str) -> list[str]:
    with_commas = canonical.lstrip("$")
    plain = with_commas.replace(",", "")
    out = [canonical, with_commas, plain, f"${plain}", f"{with_commas} dollars", f"{plain} dollars"]
    amount = int(plain)
    if amount >= 1_000_000:
        millions = f"{amount / 1_000_000:g}"
        out += [f"${millions} million", f"{millions} million"]
    return _dedupe(out)


def make_aliases(kind: str, canonical: str) -> list[str]:
    """Canonical form (as written in the handbook) first, then equivalent forms."""
    vtype = VALUE_TYPE[kind]
    if vtype == "money":
        return money_aliases(canonical)
    number = canonical.split()[0].rstrip("%")
    if vtype == "days":
        return [canonical, number, f"{number_words(int(number))} days"]
    if vtype == "business_days":
        words = number_words(int(number))
        return [
            canonical,
            number,
            f"{number} working days",
            f"{number} days",
            f"{words} business days",
        ]
    if vtype == "years":
        return [
            canonical,
            number,
            f"{number} years old",
            f"age {number}",
            f"{number_words(int(number))} years",
        ]
    if vtype == "percent":
        return [
            canonical,
            f"{number} percent",
            f"{number} per cent",
            number,
            f"{number_words(int(number))} percent",
        ]
    if vtype == "code":
        return _dedupe([canonical, canonical.replace("-", ""), canonical.replace("-", " ")])
    if vtype == "form":
        code = canonical.removeprefix("Form ")
        return [canonical, code, code.replace("-", "")]
    if vtype == "desk":
        return [canonical, f"the {canonical}", canonical.removesuffix(" Desk")]
    raise ValueError(f"unknown value type {vtype!r}")


# ---------------------------------------------------------------------------
# Handbook
# ---------------------------------------------------------------------------


def fill(template: str, **values: str) -> str:
    return template.format(insurer=INSURER, **values)


def doc_id(product: Product, section: str) -> str:
    return f"{ID_PREFIX}-{product.slug}-{section}"


def product_docs(product: Product) -> tuple[list[Doc], list[Fact]]:
    """The five documents of one product and the facts each one states."""
    facts: list[Fact] = []
    docs: list[Doc] = []
    p = product.name

    def stated(section: str, kind: str, value: str, item: str | None = None) -> None:
        facts.append(Fact(product, kind, item, value, doc_id(product, section)))

    def simple(kind: str) -> str | None:
        return product.facts.get(kind)

    # Overview: description, overall annual limit, entry age.
    parts = [fill(product.description)]
    if v := simple("annual_limit"):
        parts.append(fill(FACT_SENTENCES["annual_limit"], v=v, product=p))
        stated("overview", "annual_limit", v)
    if v := simple("max_entry_age"):
        assert product.age_sentence and v in product.age_sentence, product.slug
        parts.append(product.age_sentence)
        stated("overview", "max_entry_age", v)
    docs.append(
        Doc(
            doc_id(product, "overview"),
            f"{p} at a glance: {product.line}",
            " ".join(parts),
            product.slug,
        )
    )

    # Cover: per-benefit limits, deductible, waiting period.
    parts = [
        f"This section sets out the main benefits of {p} and the most that will be paid "
        f"for each. Amounts are in US dollars and apply to each claim unless the "
        f"wording says otherwise."
    ]
    for i, (name, value, own) in enumerate(product.coverages):
        template = own or COVERAGE_SENTENCES[i % len(COVERAGE_SENTENCES)]
        parts.append(template.format(Item=name[0].upper() + name[1:], item=name, v=value))
        stated("cover", "coverage_limit", value, name)
    title_bits = ["cover limits"]
    for kind, label in (("deductible", "deductible"), ("waiting_period", "waiting period")):
        if v := simple(kind):
            parts.append(fill(FACT_SENTENCES[kind], v=v, product=p))
            stated("cover", kind, v)
            title_bits.append(label)
    title = f"{p}: " + (
        " and ".join(title_bits)
        if len(title_bits) < 3
        else f"{title_bits[0]}, {title_bits[1]} and {title_bits[2]}"
    )
    docs.append(Doc(doc_id(product, "cover"), title, " ".join(parts), product.slug))

    # Exclusions: prose only.
    text = (
        f"{product.exclusions} The full policy wording lists every exclusion; the points "
        f"above are the ones {p} members ask about most often."
    )
    docs.append(Doc(doc_id(product, "exclusions"), f"{p}: what is not covered", text, product.slug))

    # Claims: deadline, phone code, form, payout time, handling desk, documents.
    parts = [f"This section explains how to make a claim under {p}."]
    for kind in ("claim_deadline", "claim_code", "claim_form", "payout_time", "claims_desk"):
        if v := simple(kind):
            parts.append(fill(FACT_SENTENCES[kind], v=v, product=p))
            stated("claims", kind, v)
    parts.append(f"Documents to include with a claim: {product.claim_documents}.")
    docs.append(Doc(doc_id(product, "claims"), f"{p}: how to claim", " ".join(parts), product.slug))

    # Premiums: cooling-off, cancellation fee, discounts.
    parts = [
        f"Premiums for {p} are priced individually and can be paid in one sum or monthly. "
        f"The price depends on the details recorded at purchase, and a breakdown of it is "
        f"sent with the policy documents."
    ]
    if v := simple("cooling_off"):
        parts.append(fill(FACT_SENTENCES["cooling_off"], v=v, product=p))
        stated("premiums", "cooling_off", v)
    if v := simple("cancellation_fee"):
        assert simple("cooling_off"), f"{product.slug}: fee sentence refers to cooling-off"
        parts.append(fill(FACT_SENTENCES["cancellation_fee"], v=v, product=p))
        stated("premiums", "cancellation_fee", v)
    for name, value, condition in product.discounts:
        parts.append(DISCOUNT_SENTENCE.format(item=name, v=value, condition=condition))
        stated("premiums", "discount", value, name)
    parts.append(
        "Discounts are applied when the qualifying details are recorded at purchase or renewal."
    )
    cancelling = simple("cooling_off") or simple("cancellation_fee")
    title = f"{p}: " + (
        "premiums, discounts and cancelling" if cancelling else "premiums and discounts"
    )
    docs.append(Doc(doc_id(product, "premiums"), title, " ".join(parts), product.slug))
    return docs, facts


def build_handbook() -> tuple[list[Doc], list[Fact]]:
    docs: list[Doc] = []
    facts: list[Fact] = []
    for slug, title, text in GENERAL_DOCS:
        docs.append(Doc(f"{ID_PREFIX}-{slug}", fill(title), fill(text), None))
    for product in PRODUCTS:
        p_docs, p_facts = product_docs(product)
        docs += p_docs
        facts += p_facts
    return docs, facts


# ---------------------------------------------------------------------------
# Unanswerable pool (every entry verified against the handbook text)
# ---------------------------------------------------------------------------


def mentions(text: str, term: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(term), text, flags=re.IGNORECASE) is not None


def corpus(docs: list[Doc], product: Product | None) -> str:
    """Text a question about `product` could be answered from (None: the whole handbook)."""
    return "\n".join(
        f"{d.title}\n{d.text}" for d in docs if product is None or d.product in (None, product.slug)
    )


def build_unanswerable(docs: list[Doc]) -> list[Unanswerable]:
    pool: list[Unanswerable] = []
    for product in PRODUCTS:
        own_text = "\n".join(f"{d.title}\n{d.text}" for d in docs if d.product == product.slug)
        visible = corpus(docs, product)
        for kind in SIMPLE_KINDS:
            if kind in product.facts:
                continue
            for term in ABSENCE_TERMS[kind]:
                assert not mentions(own_text, term), (
                    f"{product.slug} has no {kind} but its documents mention {term!r}"
                )
            pool.append(Unanswerable("missing-kind", product, kind, None))
        stated_covers = {name for name, _, _ in product.coverages}
        for name in product.absent_coverages:
            assert name not in stated_covers and not mentions(visible, name), (
                f"absent coverage {name!r} is mentioned for {product.slug}"
            )
            pool.append(Unanswerable("absent-coverage", product, "coverage_limit", name))
        stated_discounts = {name for name, _, _ in product.discounts}
        for name in product.absent_discounts:
            assert name not in stated_discounts and not mentions(visible, name), (
                f"absent discount {name!r} is mentioned for {product.slug}"
            )
            pool.append(Unanswerable("absent-discount", product, "discount", name))
    everything = corpus(docs, None)
    for topic, phrasings, terms in GENERAL_UNANSWERABLE:
        for term in terms:
            assert not mentions(everything, term), (
                f"general topic {topic!r}: handbook mentions {term!r}"
            )
        pool.append(Unanswerable("general", None, topic, None, tuple(fill(p) for p in phrasings)))
    return pool


# ---------------------------------------------------------------------------
# Questions and splits
# ---------------------------------------------------------------------------


def ask(kind: str, template_index: int, product: Product, item: str | None) -> str:
    return fill(TEMPLATES[kind][template_index], product=product.name, item=item or "")


def answerable_item(fact: Fact, template_index: int) -> dict[str, object]:
    return {
        "question": ask(fact.kind, template_index, fact.product, fact.item),
        "answers": make_aliases(fact.kind, fact.canonical),
        "answerable": True,
        "doc_id": fact.doc_id,
    }


def unanswerable_item(entry: Unanswerable, index: int) -> dict[str, object]:
    if entry.phrasings is not None:
        question = entry.phrasings[index]
    else:
        assert entry.product is not None and entry.kind is not None
        question = ask(entry.kind, index, entry.product, entry.item)
    return {"question": question, "answers": [], "answerable": False, "doc_id": None}


def split_pool(
    rng: random.Random, pool: list[Unanswerable]
) -> tuple[list[Unanswerable], list[Unanswerable], list[Unanswerable]]:
    """Disjoint train/dev/eval shares of the unanswerable pairs, stratified by category."""
    train: list[Unanswerable] = []
    dev: list[Unanswerable] = []
    eval_: list[Unanswerable] = []
    for category in ("missing-kind", "absent-coverage", "absent-discount", "general"):
        group = [u for u in pool if u.category == category]
        rng.shuffle(group)
        n_train = round(len(group) * TRAIN_UNANSWERABLE_SHARE)
        n_dev = round(len(group) * DEV_UNANSWERABLE_SHARE)
        train += group[:n_train]
        dev += group[n_train : n_train + n_dev]
        eval_ += group[n_train + n_dev :]
    return train, dev, eval_


def finalize(
    rng: random.Random, split: str, rows: list[dict[str, object]]
) -> list[dict[str, object]]:
    rng.shuffle(rows)
    return [{"id": f"{QA_PREFIX}-{split}-{i:04d}", **row} for i, row in enumerate(rows, 1)]


def build_splits(
    rng: random.Random, facts: list[Fact], pool: list[Unanswerable]
) -> dict[str, list[dict[str, object]]]:
    un_train, un_dev, un_eval = split_pool(rng, pool)
    held_out_keys = {u.key for u in un_dev + un_eval}
    assert not {u.key for u in un_train} & held_out_keys, "unanswerable pair in train and dev/eval"
    assert not {u.key for u in un_dev} & {u.key for u in un_eval}, "unanswerable pair in dev+eval"

    train = [answerable_item(f, t) for f in facts for t in TRAIN_TEMPLATES]
    train += [unanswerable_item(u, t) for u in un_train for t in TRAIN_TEMPLATES]

    n_dev = min(len(facts), round(len(un_dev) * DEV_ANSWERABLE_RATIO))
    dev = [answerable_item(f, rng.choice(DEV_TEMPLATES)) for f in rng.sample(facts, n_dev)]
    dev += [unanswerable_item(u, _held_out_index(rng, u, DEV_TEMPLATES)) for u in un_dev]

    n_eval = min(len(facts), round(len(un_eval) * EVAL_ANSWERABLE_RATIO))
    eval_ = [answerable_item(f, rng.choice(EVAL_TEMPLATES)) for f in rng.sample(facts, n_eval)]
    eval_ += [unanswerable_item(u, _held_out_index(rng, u, EVAL_TEMPLATES)) for u in un_eval]

    return {
        "train": finalize(rng, "train", train),
        "dev": finalize(rng, "dev", dev),
        "eval": finalize(rng, "eval", eval_),
    }


def _held_out_index(rng: random.Random, entry: Unanswerable, templates: tuple[int, ...]) -> int:
    # Insurer-wide topics have three phrasings of their own and never reach train.
    if entry.phrasings is not None:
        return rng.randrange(len(entry.phrasings))
    return rng.choice(templates)


# ---------------------------------------------------------------------------
# Output and self-check
# ---------------------------------------------------------------------------


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    lines = [json.dumps(row, ensure_ascii=False, sort_keys=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def occurrences(text: str, value: str) -> int:
    """Whole-value matches ('$640' does not match inside '$6,400' or '$640,000')."""
    pattern = r"(?<![\w.,$-])" + re.escape(value) + r"(?![\w-]|[.,]\d)"
    return len(re.findall(pattern, text))


def normalize(question: str) -> str:
    return " ".join(question.lower().split())


def self_check(docs: list[dict[str, object]], splits: dict[str, list[dict[str, object]]]) -> None:
    doc_text = {str(d["id"]): str(d["text"]) for d in docs}
    assert len(doc_text) == len(docs), "duplicate handbook ids"
    assert len(docs) >= 40, f"only {len(docs)} handbook documents (need >= 40)"
    for d in docs:
        words = len(str(d["text"]).split())
        assert DOC_WORDS[0] <= words <= DOC_WORDS[1], f"{d['id']}: {words} words"

    ids = [str(r["id"]) for rows in splits.values() for r in rows]
    assert len(ids) == len(set(ids)), "duplicate QA ids"

    for split, rows in splits.items():
        questions = [normalize(str(r["question"])) for r in rows]
        assert len(questions) == len(set(questions)), f"{split}: repeated question"
        for r in rows:
            answers = r["answers"]
            assert isinstance(answers, list)
            if not r["answerable"]:
                assert answers == [] and r["doc_id"] is None, f"{r['id']}: bad unanswerable item"
                continue
            assert answers and len(answers) == len(set(answers)), f"{r['id']}: bad answer list"
            target = str(r["doc_id"])
            assert target in doc_text, f"{r['id']}: unknown doc_id {target}"
            canonical = str(answers[0])
            assert canonical in doc_text[target], f"{r['id']}: {canonical!r} not in {target}"
            holders = [i for i, text in doc_text.items() if occurrences(text, canonical)]
            assert holders == [target], f"{r['id']}: {canonical!r} stated in {holders}"

    train_questions = {normalize(str(r["question"])) for r in splits["train"]}
    train_pairs = {(r["doc_id"], r["answers"][0]) for r in splits["train"] if r["answerable"]}
    for split in ("dev", "eval"):
        for r in splits[split]:
            assert normalize(str(r["question"])) not in train_questions, (
                f"{r['id']}: question also appears in train"
            )
            if r["answerable"]:
                assert (r["doc_id"], r["answers"][0]) in train_pairs, (
                    f"{r['id']}: fact not covered by train"
                )
    eval_rows = splits["eval"]
    share = sum(not r["answerable"] for r in eval_rows) / len(eval_rows)
    assert share >= MIN_EVAL_UNANSWERABLE, f"eval unanswerable share {share:.2f} < 0.30"


def template_words(template: str) -> set[str]:
    return set(re.findall(r"[a-z'-]+", re.sub(r"\{\w+\}", " ", template.lower())))


def check_structure(facts: list[Fact], pool: list[Unanswerable]) -> None:
    """Checks on the tables themselves, before any question is written."""
    for kind, templates in TEMPLATES.items():
        assert len(templates) == 6, f"{kind}: need six phrasings"
        assert len({normalize(t) for t in templates}) == 6, f"{kind}: repeated phrasing"
        # Held-out phrasings must be rewordings, not near-copies, of the train ones.
        for held_out in DEV_TEMPLATES + EVAL_TEMPLATES:
            for seen in TRAIN_TEMPLATES:
                a, b = template_words(templates[held_out]), template_words(templates[seen])
                overlap = len(a & b) / len(a | b)
                assert overlap < MAX_TEMPLATE_OVERLAP, (
                    f"{kind}: phrasing {held_out} too close to train phrasing {seen}"
                )
    fact_keys = {f.key for f in facts}
    assert len(fact_keys) == len(facts), "a fact is stated twice"
    overlap = fact_keys & {u.key for u in pool}
    assert not overlap, f"pairs both answerable and unanswerable: {sorted(overlap)}"


def main() -> None:
    rng = random.Random(SEED)
    docs, facts = build_handbook()
    pool = build_unanswerable(docs)
    check_structure(facts, pool)
    splits = build_splits(rng, facts, pool)

    handbook = [{"id": d.id, "title": d.title, "text": d.text} for d in docs]
    write_jsonl(OUT_DIR / "handbook.jsonl", handbook)
    for split, rows in splits.items():
        write_jsonl(OUT_DIR / f"{split}.jsonl", rows)
    self_check(handbook, splits)

    def describe(split: str) -> str:
        rows = splits[split]
        missing = sum(not r["answerable"] for r in rows)
        return f"{split} {len(rows)} ({100 * missing / len(rows):.1f}% unanswerable)"

    print(
        f"insurance-policy-qa: {len(handbook)} docs, {len(facts)} facts | "
        + " | ".join(describe(s) for s in ("train", "dev", "eval"))
    )


if __name__ == "__main__":
    main()
