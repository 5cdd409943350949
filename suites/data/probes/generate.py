"""Generate the adaptbench general-ability probes (retention / forgetting checks).

Writes two JSONL files into the installed package's probe folder, harness/probes/ (this script
lives outside the package: it makes shipped data, it is not part of what is installed):

* ``general_mc.jsonl``: four-way multiple choice, ``{"id", "category", "question",
  "choices", "label"}`` with ``label`` the 0-3 index of the right choice.
* ``short_answer.jsonl``: short free-form answers, ``{"id", "category", "question",
  "answers"}`` with the canonical answer first and common variants after it.

The hand-written tables below hold every non-arithmetic item; arithmetic items are
generated. All randomness (arithmetic operands, distractors, choice order) comes from one
``random.Random(SEED)``, so a rerun writes byte-identical files. The right answer's position
is balanced across 0-3 within every category, and items are interleaved round-robin across
categories so that any prefix of a file covers all categories.

Run from anywhere: ``python3 suites/data/probes/generate.py``. A self-check runs on the written files and
fails with an AssertionError naming the problem.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

SEED = 20_250_117
OUT_DIR = Path(__file__).resolve().parents[3] / "harness" / "probes"
MC_PATH = OUT_DIR / "general_mc.jsonl"
SA_PATH = OUT_DIR / "short_answer.jsonl"

MC_CATEGORIES = ("world", "science", "arithmetic", "everyday", "language")
SA_CATEGORIES = ("capitals", "facts", "arithmetic", "opposites", "colours", "animals")
MC_MIN_PER_CATEGORY = 40
SA_MIN_PER_CATEGORY = 15
MC_MIN_TOTAL = 240
SA_MIN_TOTAL = 120
MC_ARITHMETIC_PER_OP = 12  # 4 operations -> 48 items
SA_ARITHMETIC_PER_OP = 8  # 4 operations -> 32 items
MAX_ANSWER_WORDS = 3

# (question, right answer, three wrong answers)
McRow = tuple[str, str, tuple[str, str, str]]
# (question, answers: canonical first, then aliases)
SaRow = tuple[str, tuple[str, ...]]

# --------------------------------------------------------------------------------------
# Multiple choice: hand-written tables
# --------------------------------------------------------------------------------------

WORLD: list[McRow] = [
    ("What is the capital of Japan?", "Tokyo", ("Osaka", "Kyoto", "Hiroshima")),
    ("What is the capital of Italy?", "Rome", ("Milan", "Venice", "Naples")),
    ("What is the capital of Spain?", "Madrid", ("Barcelona", "Seville", "Valencia")),
    ("What is the capital of Germany?", "Berlin", ("Munich", "Hamburg", "Frankfurt")),
    ("What is the capital of the United Kingdom?", "London", ("Manchester", "Liverpool", "Leeds")),
    ("What is the capital of Egypt?", "Cairo", ("Alexandria", "Luxor", "Aswan")),
    ("What is the capital of Canada?", "Ottawa", ("Toronto", "Vancouver", "Montreal")),
    ("What is the capital of Russia?", "Moscow", ("Saint Petersburg", "Kazan", "Novosibirsk")),
    ("What is the capital of China?", "Beijing", ("Shanghai", "Hong Kong", "Guangzhou")),
    ("What is the capital of Greece?", "Athens", ("Sparta", "Thessaloniki", "Corinth")),
    ("What is the capital of Kenya?", "Nairobi", ("Mombasa", "Kisumu", "Nakuru")),
    ("What is the capital of Argentina?", "Buenos Aires", ("Córdoba", "Rosario", "Mendoza")),
    ("What is the capital of Australia?", "Canberra", ("Sydney", "Melbourne", "Perth")),
    (
        "What is the largest ocean on Earth?",
        "the Pacific Ocean",
        ("the Atlantic Ocean", "the Indian Ocean", "the Arctic Ocean"),
    ),
    (
        "Which ocean lies between Europe and North America?",
        "the Atlantic Ocean",
        ("the Pacific Ocean", "the Indian Ocean", "the Southern Ocean"),
    ),
    (
        "Which ocean surrounds the North Pole?",
        "the Arctic Ocean",
        ("the Indian Ocean", "the Pacific Ocean", "the Southern Ocean"),
    ),
    (
        "Which ocean lies between Africa and Australia?",
        "the Indian Ocean",
        ("the Atlantic Ocean", "the Arctic Ocean", "the Pacific Ocean"),
    ),
    ("On which continent is Kenya?", "Africa", ("Asia", "Europe", "South America")),
    ("On which continent is Brazil?", "South America", ("Africa", "Europe", "Asia")),
    ("On which continent is India?", "Asia", ("Africa", "Europe", "South America")),
    ("On which continent is France?", "Europe", ("Asia", "Africa", "North America")),
    (
        "On which continent is the South Pole?",
        "Antarctica",
        ("Australia", "South America", "Africa"),
    ),
    ("Which country is also a whole continent?", "Australia", ("Brazil", "India", "Canada")),
    ("How many continents are there on Earth?", "seven", ("three", "ten", "twelve")),
    ("What is the longest river in Africa?", "the Nile", ("the Congo", "the Niger", "the Zambezi")),
    ("Which river flows through London?", "the Thames", ("the Seine", "the Danube", "the Rhine")),
    ("Which river flows through Paris?", "the Seine", ("the Thames", "the Tiber", "the Volga")),
    ("In which country are the pyramids of Giza?", "Egypt", ("Mexico", "Greece", "India")),
    ("In which city is the Eiffel Tower?", "Paris", ("London", "Rome", "Berlin")),
    ("Which country is home to the Great Wall?", "China", ("Japan", "India", "Russia")),
    ("In which city is the Colosseum?", "Rome", ("Athens", "Paris", "Madrid")),
    ("In which city is the Statue of Liberty?", "New York", ("Los Angeles", "Chicago", "Boston")),
    ("In which country is the Taj Mahal?", "India", ("Egypt", "Turkey", "Spain")),
    ("In which city is the clock tower Big Ben?", "London", ("Paris", "Dublin", "Edinburgh")),
    (
        "In which country is the Sydney Opera House?",
        "Australia",
        ("New Zealand", "Canada", "South Africa"),
    ),
    ("In which country is Mount Fuji?", "Japan", ("China", "South Korea", "Thailand")),
    ("In which country is the city of Venice?", "Italy", ("Spain", "Greece", "France")),
    ("Which European country is shaped like a boot?", "Italy", ("Spain", "Portugal", "Greece")),
    ("Which city is nicknamed the Big Apple?", "New York", ("Chicago", "Boston", "Miami")),
    (
        "In which country is most of the Amazon rainforest?",
        "Brazil",
        ("Argentina", "Chile", "Mexico"),
    ),
    (
        "What is the tallest mountain in the world?",
        "Mount Everest",
        ("Mount Kilimanjaro", "Mont Blanc", "Mount Fuji"),
    ),
    (
        "What is the largest desert in Africa?",
        "the Sahara",
        ("the Gobi", "the Atacama", "the Mojave"),
    ),
    ("Which is the largest country by area?", "Russia", ("Canada", "China", "Brazil")),
    ("What is the currency of Japan?", "the yen", ("the yuan", "the won", "the rupee")),
    (
        "What is the currency of the United States?",
        "the dollar",
        ("the euro", "the pound", "the peso"),
    ),
    (
        "What is the currency of the United Kingdom?",
        "the pound",
        ("the euro", "the dollar", "the franc"),
    ),
    ("What is the currency of India?", "the rupee", ("the yen", "the peso", "the dollar")),
    ("What is the currency of Mexico?", "the peso", ("the euro", "the yen", "the rupee")),
    (
        "Which currency is used today in France, Italy and Spain?",
        "the euro",
        ("the dollar", "the pound", "the yen"),
    ),
]

SCIENCE: list[McRow] = [
    (
        "What gas do plants take in from the air to make their food?",
        "carbon dioxide",
        ("oxygen", "helium", "hydrogen"),
    ),
    (
        "What gas do people need to breathe in to stay alive?",
        "oxygen",
        ("carbon dioxide", "helium", "hydrogen"),
    ),
    (
        "Which gas makes up most of the air on Earth?",
        "nitrogen",
        ("oxygen", "carbon dioxide", "helium"),
    ),
    ("What is the chemical formula for water?", "H2O", ("CO2", "O2", "NaCl")),
    ("What is the chemical symbol for gold?", "Au", ("Ag", "Gd", "Go")),
    ("What is the chemical symbol for oxygen?", "O", ("Ox", "Ob", "Oz")),
    (
        "What is the chemical name for table salt?",
        "sodium chloride",
        ("carbon dioxide", "calcium carbonate", "iron oxide"),
    ),
    (
        "What is the centre of an atom called?",
        "the nucleus",
        ("the electron", "the shell", "the orbit"),
    ),
    (
        "Which particle has a negative electric charge?",
        "the electron",
        ("the proton", "the neutron", "the photon"),
    ),
    ("Which material is attracted to a magnet?", "iron", ("wood", "glass", "plastic")),
    (
        "What force pulls objects down towards the ground?",
        "gravity",
        ("magnetism", "friction", "electricity"),
    ),
    ("Through which of these can sound not travel?", "a vacuum", ("water", "air", "steel")),
    (
        "At what temperature does water freeze, in degrees Celsius?",
        "0 degrees",
        ("10 degrees", "50 degrees", "100 degrees"),
    ),
    (
        "At what temperature does water boil at sea level, in degrees Celsius?",
        "100 degrees",
        ("0 degrees", "50 degrees", "200 degrees"),
    ),
    ("Ice is water in which state?", "solid", ("liquid", "gas", "plasma")),
    ("Steam is water in which state?", "gas", ("solid", "liquid", "crystal")),
    ("What does a thermometer measure?", "temperature", ("weight", "time", "distance")),
    (
        "Which instrument measures air pressure?",
        "a barometer",
        ("a thermometer", "a ruler", "a compass"),
    ),
    ("What is the unit of force?", "the newton", ("the litre", "the metre", "the second")),
    (
        "What is the unit of electric current?",
        "the ampere",
        ("the metre", "the kilogram", "the litre"),
    ),
    (
        "Roughly how fast does light travel?",
        "300,000 kilometres per second",
        ("300 kilometres per hour", "3,000 kilometres per hour", "30 metres per second"),
    ),
    ("What is the hardest natural material?", "diamond", ("gold", "iron", "glass")),
    ("What is the closest star to Earth?", "the Sun", ("Sirius", "Polaris", "Vega")),
    ("Which planet is known as the Red Planet?", "Mars", ("Venus", "Jupiter", "Saturn")),
    ("What is the largest planet in the solar system?", "Jupiter", ("Saturn", "Earth", "Mars")),
    ("Which planet is closest to the Sun?", "Mercury", ("Venus", "Earth", "Mars")),
    ("Which planet is famous for its bright rings?", "Saturn", ("Mars", "Mercury", "Venus")),
    ("How many planets are in the solar system?", "eight", ("five", "twelve", "twenty")),
    (
        "What is the natural satellite of the Earth called?",
        "the Moon",
        ("the Sun", "Mars", "Venus"),
    ),
    (
        "How long does the Earth take to travel once around the Sun?",
        "about one year",
        ("about one day", "about one month", "about ten years"),
    ),
    (
        "How long does the Earth take to spin once on its axis?",
        "about one day",
        ("about one hour", "about one week", "about one year"),
    ),
    (
        "What mainly causes the ocean tides?",
        "the pull of the Moon",
        ("the wind", "swimming whales", "earthquakes"),
    ),
    (
        "What process do plants use to make food from sunlight?",
        "photosynthesis",
        ("digestion", "evaporation", "erosion"),
    ),
    (
        "Which part of a plant takes in water from the soil?",
        "the roots",
        ("the flowers", "the petals", "the seeds"),
    ),
    ("What do caterpillars grow into?", "butterflies", ("frogs", "spiders", "worms")),
    ("What do tadpoles grow into?", "frogs", ("fish", "snakes", "birds")),
    (
        "Which of these animals is a mammal?",
        "the dolphin",
        ("the shark", "the salmon", "the octopus"),
    ),
    (
        "Which of these animals is a reptile?",
        "the crocodile",
        ("the frog", "the salmon", "the eagle"),
    ),
    (
        "What do we call animals that eat only plants?",
        "herbivores",
        ("carnivores", "omnivores", "predators"),
    ),
    (
        "What do we call animals that eat only meat?",
        "carnivores",
        ("herbivores", "omnivores", "decomposers"),
    ),
    ("How many legs does an insect have?", "six", ("four", "eight", "ten")),
    ("How many legs does a spider have?", "eight", ("six", "four", "ten")),
    ("What do bees make?", "honey", ("milk", "silk", "cheese")),
    (
        "Which organ pumps blood around the body?",
        "the heart",
        ("the lungs", "the liver", "the stomach"),
    ),
    (
        "Which organs do people use to breathe?",
        "the lungs",
        ("the kidneys", "the heart", "the liver"),
    ),
    ("Which organ do people think with?", "the brain", ("the heart", "the stomach", "the skin")),
    (
        "What is the largest organ of the human body?",
        "the skin",
        ("the heart", "the brain", "the lungs"),
    ),
    (
        "Which blood cells carry oxygen around the body?",
        "red blood cells",
        ("white blood cells", "nerve cells", "skin cells"),
    ),
    ("About how many bones are in an adult human body?", "206", ("12", "50", "1,000")),
    ("Which sense do the ears give us?", "hearing", ("sight", "smell", "taste")),
    (
        "Which vitamin does the skin make when it gets sunlight?",
        "vitamin D",
        ("vitamin C", "vitamin A", "vitamin B12"),
    ),
]

EVERYDAY: list[McRow] = [
    ("What do you usually use to cut paper?", "scissors", ("a spoon", "a pillow", "a bucket")),
    (
        "What happens to ice when it is left in the sun?",
        "It melts.",
        ("It grows bigger.", "It turns into wood.", "It gets colder."),
    ),
    (
        "What happens to water when you put it in a freezer?",
        "It turns to ice.",
        ("It starts to boil.", "It turns to steam.", "It turns to milk."),
    ),
    (
        "If you drop a glass on a stone floor, what will most likely happen?",
        "It breaks.",
        ("It bounces.", "It melts.", "It floats."),
    ),
    ("How many days are in a week?", "seven", ("five", "ten", "twelve")),
    ("How many months are in a year?", "twelve", ("ten", "seven", "fifteen")),
    ("How many hours are in a day?", "24", ("12", "60", "100")),
    ("How many minutes are in an hour?", "60", ("24", "100", "30")),
    ("How many seconds are in a minute?", "60", ("10", "100", "24")),
    ("How many days are in a leap year?", "366", ("365", "360", "300")),
    ("Which day comes after Monday?", "Tuesday", ("Wednesday", "Sunday", "Friday")),
    ("Which month comes after January?", "February", ("March", "December", "June")),
    ("Which season is usually the coldest?", "winter", ("summer", "spring", "autumn")),
    ("Which season is usually the hottest?", "summer", ("winter", "autumn", "spring")),
    (
        "Which meal is usually eaten in the morning?",
        "breakfast",
        ("dinner", "supper", "a midnight snack"),
    ),
    (
        "If it is 3 o'clock now, what time will it be in one hour?",
        "4 o'clock",
        ("2 o'clock", "5 o'clock", "6 o'clock"),
    ),
    ("What do people usually wear on their feet?", "shoes", ("gloves", "hats", "scarves")),
    (
        "What should you wear in the snow to keep your hands warm?",
        "gloves",
        ("sandals", "sunglasses", "shorts"),
    ),
    (
        "What is an umbrella used for?",
        "staying dry in the rain",
        ("cooking food", "cutting wood", "telling the time"),
    ),
    (
        "Where do you keep food cold at home?",
        "in a refrigerator",
        ("in an oven", "in a toaster", "in a bathtub"),
    ),
    ("What do you use to brush your teeth?", "a toothbrush", ("a hairbrush", "a fork", "a comb")),
    (
        "What should a driver do at a red traffic light?",
        "stop",
        ("drive faster", "keep going", "turn off the engine"),
    ),
    (
        "What should you do before crossing a road?",
        "look both ways",
        ("close your eyes", "run without looking", "lie down"),
    ),
    ("What do you use to unlock a door?", "a key", ("a spoon", "a pencil", "a sock")),
    (
        "What do you switch on when a room is dark?",
        "the light",
        ("the tap", "the oven", "the kettle"),
    ),
    ("What do you usually use to write on paper?", "a pen", ("a fork", "a plate", "a shoe")),
    ("Where do people go to borrow books?", "a library", ("a bakery", "a garage", "a pharmacy")),
    (
        "Where would you usually buy fresh bread?",
        "a bakery",
        ("a library", "a dentist", "a museum"),
    ),
    (
        "Who should you visit when you have a toothache?",
        "a dentist",
        ("a plumber", "a pilot", "a baker"),
    ),
    ("Whose job is it to put out fires?", "firefighters", ("teachers", "farmers", "chefs")),
    (
        "What do you use to dry yourself after a shower?",
        "a towel",
        ("a plate", "a book", "a candle"),
    ),
    ("What do you usually eat soup with?", "a spoon", ("a knife", "a fork", "a hammer")),
    ("What do you use to hit a nail into wood?", "a hammer", ("a sponge", "a feather", "a spoon")),
    ("What do you use to sweep the floor?", "a broom", ("a fork", "a pillow", "a kettle")),
    ("What do you use to boil water for tea?", "a kettle", ("a toaster", "a fridge", "a lamp")),
    ("What do people usually sleep on?", "a bed", ("a table", "a stove", "a bookshelf")),
    ("What do you use to take a photo?", "a camera", ("a kettle", "a broom", "a ruler")),
    (
        "What do you use to talk to someone who is far away?",
        "a telephone",
        ("a spoon", "a hammer", "a pillow"),
    ),
    ("What do you use to tell the time?", "a clock", ("a spoon", "a ladder", "a plate")),
    (
        "What do you need to put on a letter before you post it?",
        "a stamp",
        ("a spoon", "a candle", "a battery"),
    ),
    (
        "Where do aeroplanes take off and land?",
        "at an airport",
        ("at a harbour", "at a library", "at a farm"),
    ),
    (
        "Where do ships stop to load and unload goods?",
        "at a port",
        ("at an airport", "at a stadium", "at a cinema"),
    ),
    ("If you are thirsty, what should you drink?", "water", ("sand", "paint", "soap")),
    ("What do cows give us to drink?", "milk", ("juice", "coffee", "tea")),
    ("What do hens lay?", "eggs", ("apples", "stones", "nuts")),
    (
        "What do plants need to grow?",
        "water and sunlight",
        ("salt and darkness", "sand and smoke", "ice and oil"),
    ),
    ("Which of these is the heaviest?", "a car", ("a feather", "a leaf", "a coin")),
    ("How many wheels does a bicycle have?", "two", ("three", "four", "six")),
    ("How many legs does a dog have?", "four", ("two", "six", "eight")),
    ("What colour is fresh snow?", "white", ("green", "red", "brown")),
    ("What colour is a ripe banana?", "yellow", ("blue", "purple", "pink")),
]

LANGUAGE: list[McRow] = [
    # synonyms
    ('Which word means the same as "big"?', "large", ("small", "thin", "quiet")),
    ('Which word means the same as "happy"?', "glad", ("sad", "angry", "tired")),
    ('Which word means the same as "quick"?', "fast", ("slow", "late", "heavy")),
    ('Which word means the same as "begin"?', "start", ("finish", "stop", "forget")),
    ('Which word means the same as "shut"?', "close", ("open", "break", "lift")),
    ('Which word means the same as "tiny"?', "small", ("huge", "bright", "loud")),
    ('Which word means the same as "angry"?', "mad", ("calm", "glad", "sleepy")),
    ('Which word means the same as "simple"?', "easy", ("hard", "long", "dark")),
    # antonyms
    ('What is the opposite of "up"?', "down", ("above", "high", "over")),
    ('What is the opposite of "early"?', "late", ("soon", "first", "quick")),
    ('What is the opposite of "full"?', "empty", ("heavy", "whole", "round")),
    ('What is the opposite of "rich"?', "poor", ("wealthy", "famous", "busy")),
    ('What is the opposite of "loud"?', "quiet", ("noisy", "fast", "bright")),
    ('What is the opposite of "push"?', "pull", ("press", "shove", "kick")),
    ('What is the opposite of "win"?', "lose", ("beat", "play", "score")),
    ('What is the opposite of "strong"?', "weak", ("powerful", "tall", "brave")),
    ('What is the opposite of "buy"?', "sell", ("pay", "spend", "shop")),
    ('What is the opposite of "always"?', "never", ("often", "usually", "forever")),
    ('What is the opposite of "inside"?', "outside", ("within", "under", "behind")),
    ('What is the opposite of "remember"?', "forget", ("recall", "think", "learn")),
    ('What is the opposite of "narrow"?', "wide", ("thin", "long", "tight")),
    # plurals
    ('What is the plural of "child"?', "children", ("childs", "childes", "childrens")),
    ('What is the plural of "mouse"?', "mice", ("mouses", "mousen", "meese")),
    ('What is the plural of "foot"?', "feet", ("foots", "feets", "footes")),
    ('What is the plural of "tooth"?', "teeth", ("tooths", "teeths", "toothes")),
    ('What is the plural of "man"?', "men", ("mans", "mens", "manes")),
    ('What is the plural of "woman"?', "women", ("womans", "womens", "womanes")),
    ('What is the plural of "box"?', "boxes", ("boxs", "boxen", "boxies")),
    ('What is the plural of "baby"?', "babies", ("babys", "babyes", "babis")),
    ('What is the plural of "knife"?', "knives", ("knifes", "knive", "knifs")),
    ('What is the plural of "leaf"?', "leaves", ("leafs", "leafes", "leavs")),
    ('What is the plural of "sheep"?', "sheep", ("sheeps", "sheepes", "shoop")),
    # spelling
    (
        "Which is the correct spelling of the day after Tuesday?",
        "Wednesday",
        ("Wensday", "Wednsday", "Wedensday"),
    ),
    (
        "Which is the correct spelling of the day after today?",
        "tomorrow",
        ("tommorow", "tomorow", "tommorrow"),
    ),
    (
        "Which is the correct spelling of a place where you borrow books?",
        "library",
        ("libary", "liberry", "librery"),
    ),
    (
        "Which is the correct spelling of the word for a close companion?",
        "friend",
        ("freind", "frend", "freend"),
    ),
    (
        'Which is the correct spelling of the word meaning "very pretty"?',
        "beautiful",
        ("beautifull", "beutiful", "beatiful"),
    ),
    (
        'Which is the correct spelling of the word meaning "needed"?',
        "necessary",
        ("neccessary", "necesary", "neccesary"),
    ),
    (
        'Which is the correct spelling of the word meaning "to get something"?',
        "receive",
        ("recieve", "receeve", "resieve"),
    ),
    (
        "Which is the correct spelling of the word used to give a reason?",
        "because",
        ("becuase", "becaus", "beccause"),
    ),
    # word meanings
    ('What does "enormous" mean?', "very large", ("very small", "very fast", "very quiet")),
    ('What does "ancient" mean?', "very old", ("very new", "very bright", "very cheap")),
    ('What does "fragile" mean?', "easily broken", ("very heavy", "very loud", "always wet")),
    ('What does "exhausted" mean?', "very tired", ("very hungry", "very happy", "very rich")),
    (
        'What does "silent" mean?',
        "making no sound",
        ("making no money", "having no colour", "having no legs"),
    ),
    ("What is a baby cow called?", "a calf", ("a foal", "a puppy", "a lamb")),
    ("What is a baby sheep called?", "a lamb", ("a calf", "a foal", "a chick")),
    ("What is a baby horse called?", "a foal", ("a lamb", "a puppy", "a calf")),
    # rhymes, tenses, letters
    ('Which word rhymes with "cat"?', "hat", ("dog", "cup", "sun")),
    ('Which word rhymes with "moon"?', "spoon", ("star", "night", "sun")),
    ('Which word rhymes with "tree"?', "bee", ("leaf", "branch", "root")),
    ('What is the past tense of "go"?', "went", ("goed", "goes", "going")),
    ('What is the past tense of "eat"?', "ate", ("eated", "eating", "eats")),
    ('What is the past tense of "run"?', "ran", ("runned", "runs", "running")),
    ('What is the past tense of "see"?', "saw", ("seed", "sees", "seeing")),
    ("How many letters are in the English alphabet?", "26", ("24", "28", "30")),
    ('Which letter comes after "C" in the alphabet?', "D", ("B", "E", "F")),
    ("Which of these letters is a vowel?", "E", ("B", "T", "K")),
    ("Which of these words is the name of a colour?", "purple", ("table", "river", "seven")),
]

# --------------------------------------------------------------------------------------
# Short answer: hand-written tables
# --------------------------------------------------------------------------------------

CAPITALS: list[SaRow] = [
    ("What is the capital of France?", ("Paris",)),
    ("What is the capital of Portugal?", ("Lisbon", "Lisboa")),
    ("What is the capital of Ireland?", ("Dublin",)),
    ("What is the capital of Scotland?", ("Edinburgh",)),
    ("What is the capital of Wales?", ("Cardiff",)),
    ("What is the capital of Norway?", ("Oslo",)),
    ("What is the capital of Sweden?", ("Stockholm",)),
    ("What is the capital of Denmark?", ("Copenhagen",)),
    ("What is the capital of Finland?", ("Helsinki",)),
    ("What is the capital of Iceland?", ("Reykjavik", "Reykjavík")),
    ("What is the capital of Austria?", ("Vienna", "Wien")),
    ("What is the capital of Poland?", ("Warsaw", "Warszawa")),
    ("What is the capital of the Netherlands?", ("Amsterdam",)),
    ("What is the capital of Belgium?", ("Brussels",)),
    ("What is the capital of Hungary?", ("Budapest",)),
    ("What is the capital of the Czech Republic?", ("Prague", "Praha")),
    ("What is the capital of Switzerland?", ("Bern", "Berne")),
    ("What is the capital of Ukraine?", ("Kyiv", "Kiev")),
    ("What is the capital of Turkey?", ("Ankara",)),
    ("What is the capital of Thailand?", ("Bangkok",)),
    ("What is the capital of South Korea?", ("Seoul",)),
    ("What is the capital of Vietnam?", ("Hanoi", "Ha Noi")),
    ("What is the capital of India?", ("New Delhi", "Delhi")),
    ("What is the capital of the Philippines?", ("Manila",)),
    (
        "What is the capital of the United States?",
        ("Washington, D.C.", "Washington", "Washington DC"),
    ),
    ("What is the capital of Mexico?", ("Mexico City",)),
    ("What is the capital of Cuba?", ("Havana", "La Habana")),
    ("What is the capital of Peru?", ("Lima",)),
    ("What is the capital of Chile?", ("Santiago",)),
    ("What is the capital of Colombia?", ("Bogotá", "Bogota")),
]

FACTS: list[SaRow] = [
    (
        "What is the boiling point of water in degrees Celsius?",
        ("100", "100 degrees", "100 °C", "100 degrees Celsius"),
    ),
    ("What is the freezing point of water in degrees Celsius?", ("0", "zero", "0 degrees", "0 °C")),
    ("How many days are there in a year that is not a leap year?", ("365", "365 days")),
    ("How many weeks are there in a year?", ("52", "fifty-two", "fifty two")),
    ("How many years are there in a century?", ("100", "one hundred", "a hundred")),
    ("How many years are there in a decade?", ("10", "ten")),
    ("How many centimetres are there in a metre?", ("100", "one hundred", "a hundred")),
    ("How many grams are there in a kilogram?", ("1000", "1,000", "one thousand", "a thousand")),
    ("How many sides does a triangle have?", ("3", "three")),
    ("How many sides does a square have?", ("4", "four")),
    ("How many sides does a hexagon have?", ("6", "six")),
    ("How many strings does a standard guitar have?", ("6", "six")),
    ("How many wheels does a tricycle have?", ("3", "three")),
    (
        "How many players from one team are on the field in a football (soccer) match?",
        ("11", "eleven"),
    ),
    ("Which planet do we live on?", ("Earth", "the Earth", "planet Earth")),
    ("What is the name of the star at the centre of our solar system?", ("the Sun", "Sun")),
    ("What is H2O more commonly called?", ("water",)),
    ("What is the chemical symbol for iron?", ("Fe",)),
    ("Which metal is liquid at room temperature?", ("mercury",)),
    ("Who wrote the play Romeo and Juliet?", ("William Shakespeare", "Shakespeare")),
    ("Who painted the Mona Lisa?", ("Leonardo da Vinci", "da Vinci", "Leonardo")),
    ("What language is mainly spoken in Spain?", ("Spanish", "Castilian")),
    ("What language is mainly spoken in Brazil?", ("Portuguese",)),
]

OPPOSITES: list[SaRow] = [
    ("What is the opposite of hot?", ("cold",)),
    ("What is the opposite of big?", ("small", "little")),
    ("What is the opposite of day?", ("night",)),
    ("What is the opposite of black?", ("white",)),
    ("What is the opposite of happy?", ("sad", "unhappy")),
    ("What is the opposite of fast?", ("slow",)),
    ("What is the opposite of open?", ("closed", "shut")),
    ("What is the opposite of yes?", ("no",)),
    ("What is the opposite of left?", ("right",)),
    ("What is the opposite of tall?", ("short",)),
    ("What is the opposite of good?", ("bad",)),
    ("What is the opposite of top?", ("bottom",)),
    ("What is the opposite of in?", ("out",)),
    ("What is the opposite of dark?", ("light", "bright")),
    ("What is the opposite of young?", ("old",)),
    ("What is the opposite of love?", ("hate",)),
    ("What is the opposite of north?", ("south",)),
    ("What is the opposite of east?", ("west",)),
    ("What is the opposite of asleep?", ("awake",)),
    ("What is the opposite of first?", ("last",)),
    ("What is the opposite of boy?", ("girl",)),
]

COLOURS: list[SaRow] = [
    ("What colour is grass?", ("green",)),
    ("What colour is the sky on a clear day?", ("blue",)),
    ("What colour is a ripe lemon?", ("yellow",)),
    ("What colour is coal?", ("black",)),
    ("What colour is milk?", ("white",)),
    ("What colour is a ripe tomato?", ("red",)),
    ("What colour is a carrot?", ("orange",)),
    ("What colour is milk chocolate?", ("brown",)),
    ("What colour is an emerald?", ("green",)),
    ("What colour is a ruby?", ("red",)),
    ("What colour is a polar bear's fur?", ("white",)),
    ("What colour is a crow?", ("black",)),
    ("What colour is a stop sign?", ("red",)),
    ("What colour is the middle light on a traffic light?", ("amber", "yellow", "orange")),
    ("What colour do you get when you mix blue and yellow?", ("green",)),
    ("What colour do you get when you mix red and white?", ("pink",)),
    ("What colour do you get when you mix red and yellow?", ("orange",)),
    ("What colour do you get when you mix black and white?", ("grey", "gray")),
    ("What colour do you get when you mix red and blue?", ("purple", "violet")),
]

ANIMALS: list[SaRow] = [
    ("What is the fastest land animal?", ("cheetah", "the cheetah")),
    ("What is the largest animal on Earth?", ("blue whale", "the blue whale")),
    ("Which animal is called the king of the jungle?", ("lion", "the lion")),
    ("Which African animal has a very long neck?", ("giraffe", "the giraffe")),
    ("Which animal has a long trunk and big ears?", ("elephant", "an elephant", "the elephant")),
    (
        "Which animal has black and white stripes and looks like a horse?",
        ("zebra", "a zebra", "the zebra"),
    ),
    (
        "Which animal hops and carries its baby in a pouch?",
        ("kangaroo", "a kangaroo", "the kangaroo"),
    ),
    ("Which animal is called the ship of the desert?", ("camel", "the camel")),
    ("Which bird cannot fly and lives in Antarctica?", ("penguin", "the penguin", "penguins")),
    ("Which insect makes honey?", ("bee", "bees", "honeybee")),
    ("Which farm animal gives us wool?", ("sheep", "a sheep")),
    ("Which animal says moo?", ("cow", "a cow", "cattle")),
    ("Which animal says woof?", ("dog", "a dog")),
    ("Which animal says meow?", ("cat", "a cat")),
    ("Which animal says quack?", ("duck", "a duck")),
    ("Which animal says oink?", ("pig", "a pig")),
    ("What is a baby dog called?", ("puppy", "a puppy", "pup")),
    ("What is a baby cat called?", ("kitten", "a kitten")),
    ("What is a baby bear called?", ("cub", "a cub")),
    ("What is a baby duck called?", ("duckling", "a duckling")),
    ("How many legs does a cat have?", ("4", "four")),
]

# --------------------------------------------------------------------------------------
# Arithmetic generation
# --------------------------------------------------------------------------------------

OPERATIONS = ("add", "sub", "mul", "div")
MC_SYMBOLS = {"add": "+", "sub": "-", "mul": "×", "div": "÷"}
SA_WORDS = {"add": "plus", "sub": "minus", "mul": "times", "div": "divided by"}
MC_ARITHMETIC_RE = re.compile(r"^What is (\d+) ([+\-×÷]) (\d+)\?$")

ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_to_words(n: int) -> str:
    """English words for 0-100, hyphenated the usual way ("forty-two")."""
    if not 0 <= n <= 100:
        raise ValueError(f"number_to_words covers 0-100, got {n}")
    if n == 100:
        return "one hundred"
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] if ones == 0 else f"{TENS[tens]}-{ONES[ones]}"


def number_answers(n: int) -> tuple[str, ...]:
    """Digits first, then the words, then the unhyphenated words where they differ."""
    words = number_to_words(n)
    answers = [str(n), words]
    if "-" in words:
        answers.append(words.replace("-", " "))
    return tuple(answers)


def compute(op: str, a: int, b: int) -> int:
    """Exact integer result of ``a op b`` (division must be exact)."""
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        quotient, remainder = divmod(a, b)
        if remainder:
            raise ValueError(f"{a} / {b} is not an integer")
        return quotient
    raise ValueError(f"unknown operation {op!r}")


def draw_operands(rng: random.Random, op: str) -> tuple[int, int]:
    """Small operands with a non-negative integer result of at most 100."""
    if op == "add":
        return rng.randint(2, 40), rng.randint(2, 40)
    if op == "sub":
        a = rng.randint(10, 60)
        return a, rng.randint(2, a - 2)
    if op == "mul":
        return rng.randint(2, 10), rng.randint(2, 10)
    if op == "div":
        divisor, quotient = rng.randint(2, 10), rng.randint(2, 10)
        return divisor * quotient, divisor
    raise ValueError(f"unknown operation {op!r}")


def operation_key(op: str, a: int, b: int) -> tuple[str, int, int]:
    """Identity of a sum for de-duplication; 3 + 4 and 4 + 3 count as the same."""
    if op in ("add", "mul"):
        return op, min(a, b), max(a, b)
    return op, a, b


def draw_unique(
    rng: random.Random, op: str, seen: set[tuple[str, int, int]]
) -> tuple[int, int, int]:
    """Operands and result for a sum not drawn before (in either file)."""
    while True:
        a, b = draw_operands(rng, op)
        key = operation_key(op, a, b)
        if key not in seen:
            seen.add(key)
            return a, b, compute(op, a, b)


def near_misses(rng: random.Random, op: str, a: int, b: int, answer: int) -> tuple[str, str, str]:
    """Three wrong answers close to the right one: off by a little, or a slip in the table."""
    candidates = {answer + delta for delta in (-3, -2, -1, 1, 2, 3)}
    if op in ("add", "sub"):
        candidates |= {answer - 10, answer + 10}
    elif op == "mul":
        candidates |= {answer - a, answer + a, answer - b, answer + b}
    pool = sorted(c for c in candidates if c > 0 and c != answer)
    first, second, third = rng.sample(pool, 3)
    return str(first), str(second), str(third)


def arithmetic_mc_rows(rng: random.Random, seen: set[tuple[str, int, int]]) -> list[McRow]:
    """``MC_ARITHMETIC_PER_OP`` questions per operation, written with symbols."""
    rows: list[McRow] = []
    for op in OPERATIONS:
        for _ in range(MC_ARITHMETIC_PER_OP):
            a, b, answer = draw_unique(rng, op, seen)
            question = f"What is {a} {MC_SYMBOLS[op]} {b}?"
            rows.append((question, str(answer), near_misses(rng, op, a, b, answer)))
    return rows


def arithmetic_sa_rows(rng: random.Random, seen: set[tuple[str, int, int]]) -> list[SaRow]:
    """``SA_ARITHMETIC_PER_OP`` questions per operation, written in words."""
    rows: list[SaRow] = []
    for op in OPERATIONS:
        for _ in range(SA_ARITHMETIC_PER_OP):
            a, b, answer = draw_unique(rng, op, seen)
            rows.append((f"What is {a} {SA_WORDS[op]} {b}?", number_answers(answer)))
    return rows


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------


def balanced_positions(rng: random.Random, n: int) -> list[int]:
    """Positions 0-3 for ``n`` right answers, each used n//4 or n//4 + 1 times, shuffled."""
    positions = [i % 4 for i in range(n)]
    rng.shuffle(positions)
    return positions


def arrange_choices(
    rng: random.Random, right: str, wrong: tuple[str, str, str], position: int
) -> list[str]:
    """The wrong answers in shuffled order with the right one inserted at ``position``."""
    choices = list(wrong)
    rng.shuffle(choices)
    choices.insert(position, right)
    return choices


def interleave(groups: list[list[dict[str, object]]]) -> list[dict[str, object]]:
    """Round-robin over the groups, so that every prefix mixes all categories."""
    merged: list[dict[str, object]] = []
    longest = max(len(group) for group in groups)
    for i in range(longest):
        merged.extend(group[i] for group in groups if i < len(group))
    return merged


def build_mc(rng: random.Random, arithmetic: list[McRow]) -> list[dict[str, object]]:
    """All multiple-choice items, ids assigned in the final (interleaved) order."""
    tables = {
        "world": WORLD,
        "science": SCIENCE,
        "arithmetic": arithmetic,
        "everyday": EVERYDAY,
        "language": LANGUAGE,
    }
    groups: list[list[dict[str, object]]] = []
    for category in MC_CATEGORIES:
        rows = tables[category]
        group: list[dict[str, object]] = []
        for (question, right, wrong), position in zip(
            rows, balanced_positions(rng, len(rows)), strict=True
        ):
            choices = arrange_choices(rng, right, wrong, position)
            group.append(
                {"category": category, "question": question, "choices": choices, "label": position}
            )
        groups.append(group)
    items = interleave(groups)
    return [{"id": f"gmc-{i:04d}", **item} for i, item in enumerate(items, start=1)]


def build_sa(arithmetic: list[SaRow]) -> list[dict[str, object]]:
    """All short-answer items, ids assigned in the final (interleaved) order."""
    tables = {
        "capitals": CAPITALS,
        "facts": FACTS,
        "arithmetic": arithmetic,
        "opposites": OPPOSITES,
        "colours": COLOURS,
        "animals": ANIMALS,
    }
    groups = [
        [
            {"category": category, "question": question, "answers": list(answers)}
            for question, answers in tables[category]
        ]
        for category in SA_CATEGORIES
    ]
    items = interleave(groups)
    return [{"id": f"gsa-{i:03d}", **item} for i, item in enumerate(items, start=1)]


def to_jsonl(items: list[dict[str, object]]) -> str:
    """One JSON object per line, UTF-8 kept as is, trailing newline."""
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Parse a JSONL file written by ``to_jsonl``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Case- and space-insensitive form for duplicate detection."""
    return " ".join(text.lower().split())


def check_common(
    items: list[dict[str, object]],
    id_pattern: str,
    categories: tuple[str, ...],
    min_per_category: int,
    min_total: int,
) -> Counter[str]:
    """Checks shared by both files; returns the per-category counts."""
    ids = [str(item["id"]) for item in items]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert all(re.fullmatch(id_pattern, i) for i in ids), f"an id does not match {id_pattern}"
    questions = [normalise(str(item["question"])) for item in items]
    duplicated = sorted(q for q, n in Counter(questions).items() if n > 1)
    assert not duplicated, f"duplicate questions: {duplicated}"
    assert all(q.endswith("?") for q in questions), "every question should end with '?'"
    counts = Counter(str(item["category"]) for item in items)
    unknown = set(counts) - set(categories)
    assert not unknown, f"unknown categories: {sorted(unknown)}"
    for category in categories:
        assert counts[category] >= min_per_category, (
            f"category {category!r} has {counts[category]} items, needs {min_per_category}"
        )
    assert len(items) >= min_total, f"{len(items)} items, needs at least {min_total}"
    return counts


def check_mc(items: list[dict[str, object]]) -> Counter[str]:
    """Validate the multiple-choice file."""
    counts = check_common(items, r"gmc-\d{4}", MC_CATEGORIES, MC_MIN_PER_CATEGORY, MC_MIN_TOTAL)
    for item in items:
        choices = item["choices"]
        label = item["label"]
        assert isinstance(choices, list) and len(choices) == 4, f"{item['id']}: needs 4 choices"
        assert all(isinstance(c, str) and c.strip() for c in choices), f"{item['id']}: empty choice"
        assert len({normalise(c) for c in choices}) == 4, f"{item['id']}: choices not distinct"
        assert isinstance(label, int) and 0 <= label <= 3, f"{item['id']}: label out of range"
        match = MC_ARITHMETIC_RE.match(str(item["question"]))
        if item["category"] == "arithmetic":
            assert match, f"{item['id']}: arithmetic question not in the generated form"
            a, symbol, b = int(match[1]), match[2], int(match[3])
            op = next(k for k, v in MC_SYMBOLS.items() if v == symbol)
            assert choices[label] == str(compute(op, a, b)), f"{item['id']}: wrong answer"
    for category in MC_CATEGORIES:
        labels = Counter(item["label"] for item in items if item["category"] == category)
        spread = max(labels[p] for p in range(4)) - min(labels[p] for p in range(4))
        assert spread <= 1, f"{category}: right-answer positions unbalanced {dict(labels)}"
    return counts


def check_sa(items: list[dict[str, object]]) -> Counter[str]:
    """Validate the short-answer file."""
    counts = check_common(items, r"gsa-\d{3}", SA_CATEGORIES, SA_MIN_PER_CATEGORY, SA_MIN_TOTAL)
    for item in items:
        answers = item["answers"]
        assert isinstance(answers, list) and answers, f"{item['id']}: no answers"
        assert all(isinstance(a, str) and a.strip() for a in answers), f"{item['id']}: empty answer"
        assert len({normalise(a) for a in answers}) == len(answers), f"{item['id']}: repeated alias"
        too_long = [a for a in answers if len(a.split()) > MAX_ANSWER_WORDS]
        assert not too_long, f"{item['id']}: answers over {MAX_ANSWER_WORDS} words: {too_long}"
    return counts


def self_check(mc: list[dict[str, object]], sa: list[dict[str, object]]) -> None:
    """Validate both files and that no question appears in both."""
    check_mc(mc)
    check_sa(sa)
    shared = {normalise(str(i["question"])) for i in mc} & {
        normalise(str(i["question"])) for i in sa
    }
    assert not shared, f"questions in both files: {sorted(shared)}"


def main() -> None:
    rng = random.Random(SEED)
    seen: set[tuple[str, int, int]] = set()
    mc_arithmetic = arithmetic_mc_rows(rng, seen)
    sa_arithmetic = arithmetic_sa_rows(rng, seen)
    mc = build_mc(rng, mc_arithmetic)
    sa = build_sa(sa_arithmetic)
    MC_PATH.write_text(to_jsonl(mc), encoding="utf-8", newline="\n")
    SA_PATH.write_text(to_jsonl(sa), encoding="utf-8", newline="\n")

    mc_written, sa_written = read_jsonl(MC_PATH), read_jsonl(SA_PATH)
    assert mc_written == mc and sa_written == sa, "files do not read back as written"
    self_check(mc_written, sa_written)
    for path, items in ((MC_PATH, mc_written), (SA_PATH, sa_written)):
        counts = Counter(str(item["category"]) for item in items)
        summary = ", ".join(f"{c} {n}" for c, n in counts.items())
        print(f"{path.name}: {len(items)} items ({summary})")


if __name__ == "__main__":
    main()
