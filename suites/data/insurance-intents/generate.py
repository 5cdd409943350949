"""Writes the intent task: messages members send Brindlecombe Mutual, labelled with what they want.

A label task shaped like a real intent set: many labels (24), few examples of each (8 train,
2 dev, 5 eval), labels written as identifiers (`claim_status`), and neighbours that are easy to
confuse (a windscreen chip is `glass_damage`, not `motor_claim`; a late payment is not a refund).
Each label has four phrasings shared by every split and three only eval uses, so that
looking up the nearest train message is a strong baseline but not a perfect one. Messages are
filled from slots, with greetings, sign-offs and a few typos. Deterministic: rerun it to
regenerate the committed files.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 28
PER_SPLIT = {"train": 8, "dev": 2, "eval": 5}
EVAL_ONLY = 3  # the last phrasings of each label appear only in eval

SLOTS = {
    "car": ["car", "van", "hatchback", "motorbike", "estate car", "Corsa", "Golf"],
    "room": ["kitchen", "bathroom", "hallway", "living room", "loft", "utility room"],
    "item": ["laptop", "phone", "bike", "watch", "camera", "tablet", "engagement ring"],
    "pet": ["dog", "cat", "puppy", "rabbit", "kitten", "spaniel"],
    "when": ["yesterday", "last night", "on Saturday", "this morning", "two days ago", "today"],
    "ref": ["BM-41872", "BM-20931", "BM-77310", "BM-55102", "BM-90417", "BM-13368"],
    "place": ["Spain", "Portugal", "Greece", "Canada", "Thailand", "Italy"],
    "who": ["my son", "my daughter", "my partner", "my wife", "my husband", "my flatmate"],
}

INTENTS: dict[str, list[str]] = {
    "home_claim": [
        "A pipe burst in the {room} {when} and the floor is ruined, I need to claim.",
        "Storm damage to our roof {when}, how do I make a claim on the home policy?",
        "Water came through the {room} ceiling, I want to claim for the damage.",
        "Our fence and shed were wrecked in the wind {when}. Can I put in a claim?",
        "There was a small fire in the {room}. I'd like to start a home insurance claim.",
        "I need to report damage to my house so it can be repaired under my cover.",
        "The washing machine flooded the {room}, want to claim on buildings and contents.",
    ],
    "motor_claim": [
        "Someone drove into my {car} {when}, I need to make a claim.",
        "I had a crash at a roundabout {when}. How do I claim on my motor policy?",
        "My {car} was hit while parked, I'd like to report an accident.",
        "I reversed into a wall and dented the {car}, can I claim for the repair?",
        "Accident on the motorway {when}, nobody hurt but the {car} is badly damaged.",
        "The other driver admitted fault; I need to open a claim for my {car}.",
        "Want to claim for the bumper of my {car} after a collision in a car park.",
    ],
    "glass_damage": [
        "A stone chipped my windscreen {when}, is that covered?",
        "My {car}'s windscreen has a crack right across it, who do I call to fix it?",
        "The side window of the {car} was smashed, I need the glass replaced.",
        "Can I get a windscreen repair without it counting against my no claims?",
        "There's a chip in the windscreen getting bigger, book a repair please.",
        "Rear window of my {car} shattered {when}, need it replaced.",
        "Do I have windscreen cover, there's a crack on the driver's side?",
    ],
    "theft_report": [
        "My {item} was stolen {when}, I need to report it.",
        "Someone broke into the house and took my {item}. What do I do?",
        "My {car} was stolen from outside the house {when}.",
        "Pickpocketed on the bus {when}, they took my {item}, can I claim?",
        "Burglary {when}: jewellery and a {item} are gone. The police gave me a crime number.",
        "I've had my {item} nicked from my bag, is theft covered?",
        "The shed was broken into and my {item} is missing.",
    ],
    "travel_claim": [
        "My flight to {place} was cancelled, can I claim the hotel costs?",
        "Our luggage never arrived in {place}, I want to claim on the travel policy.",
        "I got ill in {place} and had to see a doctor, how do I claim the bill back?",
        "We had to cut our trip to {place} short, can I get the costs back?",
        "Missed my connection because of a delay, I'd like to claim on my travel insurance.",
        "{who} broke an arm skiing in {place} and we paid the clinic, claim please.",
        "The airline lost my suitcase on the way back from {place}.",
    ],
    "pet_claim": [
        "My {pet} needed surgery {when}, how do I claim the vet bill?",
        "The vet says my {pet} has an ear infection, I want to send the invoice.",
        "Claiming for my {pet}'s treatment after it ate something it shouldn't.",
        "My {pet} hurt its leg, the vet fees were huge, can I claim?",
        "How do I submit a vet invoice for my {pet}?",
        "Our {pet} was hit by a car and had an operation {when}.",
        "I paid the vet for my {pet}'s scans, I need to claim that back.",
    ],
    "claim_status": [
        "Any news on my claim {ref}? It's been weeks.",
        "What is the status of claim {ref}?",
        "I put in a claim a fortnight ago and have heard nothing, can you check?",
        "When will my claim {ref} be paid?",
        "Has the assessor looked at my claim yet?",
        "Still waiting on an update for claim {ref}, what's happening?",
        "Can you tell me where my claim is up to, reference {ref}?",
    ],
    "cancel_policy": [
        "I want to cancel my policy.",
        "Please cancel my {car} insurance from the end of the month.",
        "I've sold the {car}, so I need to cancel the cover.",
        "How do I stop my policy? I've found a cheaper one.",
        "Cancel my home insurance please, I'm moving abroad.",
        "I don't need the pet policy any more, my {pet} passed away. Please end it.",
        "Can I cancel within the cooling-off period and get my money back?",
    ],
    "renew_policy": [
        "My policy runs out next week, how do I renew?",
        "I'd like to renew my {car} insurance for another year.",
        "Renewal letter arrived, can I just accept it online?",
        "Please renew my home cover at the same level.",
        "Does my policy renew automatically or do I need to do something?",
        "I want to carry on with my travel insurance next year.",
        "Can you set up the renewal for policy {ref}?",
    ],
    "payment_failed": [
        "My direct debit bounced, what happens now?",
        "I missed this month's payment, will my cover stop?",
        "The premium payment failed because my card expired.",
        "I got a letter saying my payment didn't go through.",
        "Bank returned my direct debit, can I pay another way?",
        "Why did my payment fail {when}? There was money in the account.",
        "I'm behind on a payment, how do I catch up?",
    ],
    "change_payment": [
        "I want to change the bank account my direct debit comes from.",
        "Can I switch from monthly payments to paying annually?",
        "Please move my payment date to the 15th.",
        "I have a new card, how do I update the payment details?",
        "Can I pay by card instead of direct debit from now on?",
        "Change my payments to a different account please.",
        "How do I update my bank details for the premium?",
    ],
    "refund_request": [
        "I was charged twice this month, I want a refund.",
        "I cancelled but you still took a payment, please refund it.",
        "Am I owed money back after cancelling mid-year?",
        "There's an overpayment on my account, can I have it back?",
        "I want the money back for the weeks I didn't use after cancelling.",
        "Please refund the extra premium you took {when}.",
        "How long does a refund take to reach my account?",
    ],
    "premium_question": [
        "Why has my premium gone up this year?",
        "My renewal price is much higher than last year, why?",
        "Can you explain how my premium is worked out?",
        "The quote went up after I added {who}, why so much?",
        "Is there any way to bring my premium down?",
        "Why am I paying more when I didn't claim?",
        "What makes the price of my {car} cover change?",
    ],
    "get_quote": [
        "Can I get a quote for home insurance?",
        "How much would it cost to insure my {car}?",
        "I'd like a price for pet cover for my {pet}.",
        "Quote for travel insurance to {place} please.",
        "What would you charge for gadget cover on a {item}?",
        "I'm thinking of switching to you, can you give me a price?",
        "Looking for a quote for life insurance.",
    ],
    "add_driver": [
        "I want to add {who} as a named driver.",
        "Can {who} drive my {car} on my policy?",
        "Please add a second driver to the motor policy.",
        "{who} has just passed their test, can they go on my insurance?",
        "How much to put {who} on my {car} cover?",
        "Add a named driver from next Monday please.",
        "I need {who} insured to drive the {car} for a month.",
    ],
    "remove_driver": [
        "Please take {who} off my motor policy.",
        "{who} has moved out, remove them as a driver.",
        "I want to remove a named driver from the policy.",
        "{who} has their own car now, can they come off my insurance?",
        "Remove the second driver from policy {ref}.",
        "Take the named driver off, they no longer use the {car}.",
        "Will my premium drop if I remove {who}?",
    ],
    "update_address": [
        "I've moved house, please update my address.",
        "New address from next month, how do I change it on the policy?",
        "We're moving, does the home cover move with us?",
        "Please change my postal address on file.",
        "I moved {when}, my letters are going to the old address.",
        "Update the address where the {car} is kept overnight.",
        "How do I tell you about a change of address?",
    ],
    "policy_documents": [
        "Can you send me a copy of my policy documents?",
        "I've lost my certificate of insurance, I need a new one.",
        "Where can I download my policy schedule?",
        "Please email me proof of insurance for my {car}.",
        "I need my documents for the mortgage lender.",
        "Can I get a letter confirming I'm insured?",
        "Send the policy wording for {ref} please.",
    ],
    "no_claims_bonus": [
        "How many years no claims bonus do I have?",
        "Can I protect my no claims discount?",
        "I need proof of my no claims bonus for a new insurer.",
        "Will a windscreen claim affect my no claims?",
        "Can I transfer my no claims from my old company car?",
        "How is the no claims discount worked out?",
        "Lost my no claims after an accident, can I get it back?",
    ],
    "roadside_assistance": [
        "My {car} has broken down on the motorway, I need help now.",
        "Flat battery, car won't start, can you send someone?",
        "I'm stuck at the side of the road with a puncture.",
        "Broken down {when}, do I have breakdown cover?",
        "The {car} died on the way home, I need a tow.",
        "Locked my keys in the {car}, can roadside help?",
        "Need a recovery truck, the engine's failed.",
    ],
    "home_emergency": [
        "Our boiler has stopped and we have no heating, can someone come out?",
        "Water is pouring from a pipe in the {room} right now!",
        "The front door lock is broken and I can't secure the house.",
        "No power in half the house, I need an emergency electrician.",
        "Blocked drain flooding the {room}, please send a plumber urgently.",
        "There's a gas smell and the boiler is making noises, help.",
        "Roof tiles came off in the storm and rain is coming in now.",
    ],
    "make_complaint": [
        "I want to make a formal complaint about how my claim was handled.",
        "Your adviser was rude to me on the phone {when}.",
        "I'm unhappy with the settlement offer and want to complain.",
        "This is the third time I've chased, I'd like to raise a complaint.",
        "How do I take my complaint to the ombudsman?",
        "The repairer you sent did a terrible job, I want to complain.",
        "Nobody has called me back as promised, this is not good enough.",
    ],
    "change_beneficiary": [
        "I want to change the beneficiary on my life policy.",
        "Please make {who} the beneficiary instead.",
        "How do I update who gets paid out on my life insurance?",
        "After my divorce I need to change the beneficiary.",
        "Can I add {who} as a second beneficiary?",
        "Change who receives the payout on policy {ref}.",
        "Who is named on my life policy at the moment, I want to update it.",
    ],
    "speak_to_agent": [
        "Can I speak to a real person please?",
        "I need to talk to someone, not a bot.",
        "Put me through to an adviser.",
        "Is there a phone number I can call to talk to someone?",
        "I'd rather discuss this with an agent.",
        "Can someone call me back {when}?",
        "Human please.",
    ],
}
GREETINGS = ["", "", "", "Hi, ", "Hello, ", "Hi there. ", "Good morning, ", "hey "]
SIGNOFFS = ["", "", "", " Thanks.", " Thank you", " Cheers", " Regards, Sam", " thx"]


def _fill(template: str, rng: random.Random) -> str:
    out = template
    for key, values in SLOTS.items():
        while "{" + key + "}" in out:
            out = out.replace("{" + key + "}", rng.choice(values), 1)
    return out[0].upper() + out[1:]


def _typo(text: str, rng: random.Random) -> str:
    """One swapped pair of letters in a word of five or more (about one message in five)."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long or rng.random() > 0.2:
        return text
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def message(template: str, rng: random.Random) -> str:
    text = _fill(template, rng)
    greeting = rng.choice(GREETINGS)
    if greeting:
        text = greeting + text[0].lower() + text[1:]
    return _typo(text + rng.choice(SIGNOFFS), rng)


def build() -> dict[str, list[dict]]:
    rng = random.Random(SEED)
    rows: dict[str, list[dict]] = {split: [] for split in PER_SPLIT}
    seen: set[str] = set()
    for label, templates in INTENTS.items():
        shared, held_out = templates[:-EVAL_ONLY], templates[-EVAL_ONLY:]
        for split, n in PER_SPLIT.items():
            pool = shared + (held_out if split == "eval" else [])
            for k in range(n):
                # eval takes its first phrasings from the held-out ones, then shared ones
                template = pool[-1 - k] if split == "eval" and k < EVAL_ONLY else rng.choice(shared)
                text = message(template, rng)
                while text.lower() in seen:  # no message twice, in any split
                    text = message(rng.choice(pool), rng)
                seen.add(text.lower())
                rows[split].append(
                    {"id": f"int-{split}-{label}-{k}", "question": text, "answers": [label]}
                )
    for split in rows:
        rng.shuffle(rows[split])
    return rows


def main() -> None:
    for split, items in build().items():
        with open(HERE / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for row in items:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{split}: {len(items)} items")


if __name__ == "__main__":
    main()
