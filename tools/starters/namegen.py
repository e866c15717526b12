"""Names for game things, made by our own syllable and template rules (no outside data).

Three styles (fantasy, sci-fi, cute) of item, creature and place names, one-line lore for
items, NPC lines and ad slogans. Everything draws from one `random.Random`, so a seed gives
the same corpus on every machine.
"""
from __future__ import annotations

import random

# Real words a made-up name must not be ("Tint", "Papa"); filled from word lists by the corpus.
AVOID: set[str] = set()

# -- syllables ---------------------------------------------------------------------------------
SYLLABLES = {
    "fantasy": {
        "onset": "b br d dr f g gr h k kh l m n r s st th v vr z el al or ar"
                 " cal mor bel thal gal ith aer",
        "vowel": "a e i o u a e ae ei ia y ou",
        "coda": "n r l th s nd rn ld x m k ss ric wyn dor",
    },
    "scifi": {
        "onset": "z x v k q t tr dr n r s sk j ax vex kor zan ory nex",
        "vowel": "a o e i u y io ia",
        "coda": "x n r k t on ax ex is ar us ion",
    },
    "cute": {
        "onset": "b p m n l t ch w f d pip bun mo lu",
        "vowel": "a i o u ee oo ie",
        "coda": " n p b m ll bble mble ppy kins",
    },
}


def syllable_name(rng: random.Random, style: str, parts: tuple[int, ...] = (1, 2, 2, 2, 3)) -> str:
    """A made-up name of `parts` syllables (one drawn at random), the last one closed by a coda."""
    bank = {k: v.split(" ") if style == "cute" and k == "coda" else v.split() for k, v in SYLLABLES[style].items()}
    for _ in range(20):  # long draws read as noise: keep names short
        name = _syllables(rng, style, bank, rng.choice(parts))
        if 3 <= len(name) <= 9 and name.lower() not in AVOID:
            return name
    return name


def _syllables(rng: random.Random, style: str, bank: dict, n: int) -> str:
    if style == "cute" and rng.random() < 0.3:  # Lulu, Bibi, Momo
        half = rng.choice(bank["onset"][:10]) + rng.choice(bank["vowel"][:4])
        return (half * 2 + rng.choice(("", "", "bee", "kins", "puff"))).capitalize()
    word = "".join(rng.choice(bank["onset"]) + rng.choice(bank["vowel"]) for _ in range(n - 1))
    word += rng.choice(bank["onset"]) + rng.choice(bank["vowel"]) + rng.choice(bank["coda"])
    word = word.replace("  ", " ").strip()
    for triple in ("aaa", "eee", "iii", "ooo", "uuu"):
        word = word.replace(triple, triple[:2])
    return word.capitalize()


def pick(rng: random.Random, words: str) -> str:
    return rng.choice(words.split("|"))


def title(text: str) -> str:
    small = {"of", "the", "and", "in", "a", "an", "to", "from", "on", "by", "under", "upon"}
    words = text.split(" ")
    return " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))


# -- word banks (our own) -----------------------------------------------------------------------
ABSTRACT = ("quiet tides|the ember king|the last dawn|hollow stars|the drowned moon|endless winter|"
            "swift feet|the iron oath|second sight|the wandering sun|deep roots|the silver fox|"
            "mending|the seventh gate|lost names|storms|the old gods|clear water|the burning road|"
            "restless sleep|the green knight|courage|whispers|the northern wind|ash and honey|"
            "the sleeping giant|long memory|the mirror lake|dusk|the hidden path|thunder|"
            "the broken crown|kindness|vigilance|the falling star|mists|the lantern keeper")
ADJ = ("ashen|silver|gilded|hollow|crimson|frostbitten|ancient|moonlit|sunken|bitter|radiant|"
       "cursed|blessed|weeping|howling|shimmering|smoldering|verdant|obsidian|pale|runed|"
       "wandering|forgotten|thorned|storm-forged|starlit|golden|emerald|grim|humble|"
       "shadowed|bright|thundering|quiet|gleaming|rusted|sacred|wild")
MATERIAL = "iron|silver|gold|bone|oak|ash|obsidian|glass|bronze|jade|amber|crystal|moonstone|copper|steel|ivory"
NATURE = ("moon|sun|star|storm|frost|ember|ash|thorn|raven|wolf|oak|river|stone|shadow|dawn|dusk|"
          "mist|iron|bramble|willow|flame|tide|winter|night|thunder|bone|cinder|hollow|gale|briar")

# item kinds: subject -> (bases, templates). {b} base noun, {a} adjective, {n} nature word,
# {x} abstract, {s} a syllable name, {m} material.
ITEMS = {
    "fantasy": {
        "potions": ("potion|elixir|draught|tonic|brew|philter|tincture|essence",
                    ["{b} of {x}", "{a} {b}", "{s}'s {b}", "{n}bloom {b}", "{b} of the {a} {n}",
                     "{a} {b} of {x}"]),
        "swords": ("blade|sword|sabre|edge|brand|fang", ["{n}{b}", "{s}", "{s}, the {a} {b}",
                   "{m} {b} of {x}", "the {a} {b}", "{n}cleaver", "oath of {x}", "{s}'s {b}"]),
        "rings": ("ring|band|circlet|loop|signet", ["{b} of {x}", "{s}'s {b}", "the {a} {b}",
                  "{m} {b} of the {n}", "{n}{b}", "{a} {m} {b}"]),
        "shields": ("shield|aegis|buckler|bulwark|ward", ["{n}{b}", "the {a} {b}", "{b} of {x}",
                    "{s}'s {b}", "{m} {b}"]),
        "staffs": ("staff|rod|stave|crook|scepter", ["{n}{b}", "{b} of {x}", "the {a} {b}", "{s}'s {b}",
                   "{m} {b} of the {n}"]),
        "amulets": ("amulet|talisman|pendant|locket|charm", ["{b} of {x}", "{a} {b}", "{s}'s {b}",
                    "the {n} {b}", "{m} {b} of {x}"]),
        "bows": ("bow|longbow|recurve|shortbow", ["{n}{b}", "the {a} {b}", "{s}'s {b}", "{b} of {x}",
                 "{n}string"]),
        "axes": ("axe|cleaver|hatchet|greataxe", ["{n}{b}", "{s}", "the {a} {b}", "{m} {b} of {x}",
                 "{n}biter"]),
        "daggers": ("dagger|dirk|knife|stiletto|kris", ["{n}{b}", "{s}'s {b}", "the {a} {b}",
                    "whisper of {x}", "{m} {b}"]),
        "helmets": ("helm|helmet|crown|visor|coif", ["{n}{b}", "the {a} {b}", "{b} of {x}", "{s}'s {b}",
                    "{m} {b}"]),
        "cloaks": ("cloak|mantle|shroud|cape|veil", ["{b} of {x}", "the {a} {b}", "{n}weave {b}",
                   "{s}'s {b}", "{a} {b}"]),
        "wands": ("wand|rod|spindle|twig", ["{n}{b}", "{b} of {x}", "{s}'s {b}", "the {a} {b}",
                  "{m} {b}"]),
        "scrolls": ("scroll|rune|sigil|writ|parchment", ["{b} of {x}", "{a} {b}", "{s}'s {b}",
                    "{b} of the {a} {n}"]),
        "tomes": ("tome|codex|grimoire|book|ledger", ["{b} of {x}", "the {a} {b}", "{s}'s {b}",
                  "the {n} {b}"]),
        "gems": ("gem|stone|shard|jewel|crystal", ["{n}{b}", "the {a} {b}", "{b} of {x}", "{s}'s {b}",
                 "heart of {x}"]),
        "boots": ("boots|greaves|striders|treads|sandals", ["{n}{b}", "{b} of {x}", "the {a} {b}",
                  "{s}'s {b}"]),
        "herbs": ("root|leaf|moss|bloom|cap|weed|petal", ["{n}{b}", "{a} {b}", "{s}'s {b}",
                  "{n}wort", "{a} {n}{b}"]),
        "keys": ("key|latch|seal", ["{b} of {x}", "the {a} {b}", "{n} {b}", "{s}'s {b}"]),
    },
    "scifi": {
        "blasters": ("blaster|pistol|disruptor|carbine|ray", ["{S}-{d} {b}", "{s} {b}", "{S} Mk {r}",
                     "{n} {b}", "the {a} {b}"]),
        "starships": ("cruiser|frigate|corvette|hauler|runner|skiff", ["{s}", "the {a} {s}",
                      "{S}-{d}", "{n} {b}", "{s} {r}", "{a} {n}"]),
        "gadgets": ("scanner|beacon|module|drive|core|node", ["{s} {b}", "{S}-{d} {b}", "{n} {b}",
                    "pocket {b}", "{a} {b}"]),
        "implants": ("implant|lens|chip|graft|spine|link", ["{s} {b}", "{S}-{d} {b}", "{n} {b}",
                     "neural {b}", "{a} {b}"]),
        "drones": ("drone|probe|sentry|scout|swarm", ["{s} {b}", "{S}-{d}", "{n} {b}", "unit {S}-{d}"]),
        "energy rifles": ("rifle|lance|repeater|railgun", ["{S}-{d} {b}", "{s} {b}", "{n} {b}",
                          "{S} Mk {r}"]),
    },
    "cute": {
        "candies": ("drop|gummy|swirl|puff|chew|sprinkle", ["{c} {b}", "{n}berry {b}", "{s} {b}",
                    "{c} {n} {b}", "sugar {b}"]),
        "hats": ("hat|beanie|bonnet|cap|beret", ["{c} {b}", "{s}'s {b}", "{n}puff {b}", "little {c} {b}"]),
        "plush toys": ("bear|bunny|kitty|pup|duckling|frog", ["{s} the {b}", "{c} {b}", "mister {s}",
                       "little {c} {b}"]),
        "snacks": ("bun|cookie|tart|muffin|dumpling|roll", ["{c} {b}", "{n}berry {b}", "{s} {b}",
                   "honey {b}"]),
        "teas": ("tea|brew|cup|blend", ["{c} {b}", "{n}blossom {b}", "{s}'s {b}", "sleepy {b}"]),
    },
}
CUTE = "fluffy|tiny|sleepy|bouncy|sparkly|cozy|happy|snuggly|bubbly|puffy|sunny|wiggly|rosy|minty|cocoa|peachy"

CREATURES = {
    "swamp creatures": ("bog|mire|marsh|fen|murk|sludge|reed|silt|moss|toad",
                        "lurker|hag|crawler|wretch|toad|eel|wisp|strider|croaker|gulper|leech"),
    "forest creatures": ("thorn|moss|bark|fern|oak|briar|leaf|root|glade|pine",
                         "stalker|stag|sprite|boar|warden|howler|owl|dryad|lynx|prowler"),
    "cave creatures": ("gloom|stone|crag|echo|deep|blind|dark|drip|crystal|shale",
                       "crawler|bat|grub|worm|maw|troll|skitter|lurker|spider|golem"),
    "sea monsters": ("tide|brine|deep|kelp|wave|coral|salt|storm|reef|abyss",
                     "serpent|kraken|leviathan|maw|eel|siren|drake|shark|crab|horror"),
    "desert beasts": ("sand|dune|sun|dust|scorch|salt|ember|bone|mirage|ash",
                      "scorpion|wyrm|stalker|jackal|strider|basilisk|viper|beetle|rider|hound"),
    "mountain beasts": ("frost|crag|peak|snow|storm|ridge|ice|stone|cliff|gale",
                        "yeti|griffin|ram|roc|bear|wyvern|giant|goat|eagle|howler"),
    "undead": ("grave|bone|ash|rot|gloom|crypt|barrow|dread|pale|hollow",
               "walker|wight|ghoul|wraith|shade|revenant|knight|lich|specter|husk"),
    "dragons": ("ember|frost|storm|shadow|gold|iron|ash|thunder|cinder|night",
                "wyrm|drake|dragon|wyvern|serpent|scale|fang|wing"),
    "spirits": ("wisp|dream|mist|lantern|ember|echo|moon|hearth|whisper|dawn",
                "spirit|wisp|shade|sprite|ghost|kami|fae|will-o'-wisp"),
    "alien creatures": ("void|plasma|nebula|crystal|acid|quantum|cryo|ion|spore|xeno",
                        "crawler|hive|stalker|brood|floater|drifter|swarm|mauler|parasite|hound"),
    "robots": ("rust|chrome|steel|servo|bolt|circuit|laser|scrap|turbo|mega",
               "bot|droid|walker|unit|sentinel|crusher|drone|mech"),
    "cute pets": ("puff|fluff|button|pudding|honey|muffin|clover|pebble|bubble|cocoa",
                  "bun|kit|pup|chick|mouse|hamster|fox|cub|otter|duckling"),
    "slimes": ("goo|jelly|ooze|gel|blob|slime|drip|wobble|syrup|jam",
               "slime|blob|jelly|ooze|puddle|glob"),
}
CREATURE_STYLE = {"alien creatures": "scifi", "robots": "scifi", "cute pets": "cute", "slimes": "cute"}

PLACES = {
    "mountain villages": ("high|frost|stone|snow|crag|pine|eagle|cold|iron|cloud|wind",
                          "hold|crest|peak|fell|hollow|reach|top|stead|watch|rest"),
    "towns": ("mill|ash|oak|bright|river|cross|market|elm|willow|barley|amber",
              "ford|wick|ton|bury|field|brook|gate|ham|stead|well"),
    "dungeons": ("doom|grim|bone|shadow|black|blood|gloom|skull|rot|dread|night",
                 "hollow|pit|crypt|depths|vault|halls|keep|maw|warrens|catacombs"),
    "forests": ("whisper|elder|thorn|moon|green|mist|silver|fern|wild|old|deep",
                "wood|wald|grove|glade|thicket|weald|copse|shade"),
    "kingdoms": ("elden|vael|cor|aur|thal|mar|valen|ost|ser|dun|aer",
                 "mark|ia|land|dor|heim|oria|mere|gard|oth|anor"),
    "taverns": ("prancing|sleeping|drunken|golden|rusty|laughing|weary|jolly|crooked|silver",
                "pony|dragon|goose|tankard|boar|lantern|barrel|stag|kettle|fiddle"),
    "islands": ("gull|salt|coral|storm|pearl|driftwood|tide|sun|shell|wreck",
                "isle|cay|rock|key|atoll|reach|strand|point"),
    "castles": ("raven|wolf|storm|iron|gold|winter|black|dragon|lion|rose",
                "keep|hold|spire|bastion|citadel|tower|fort|castle"),
    "planets": ("kep|vor|zan|ory|tau|nex|cyg|ald|ery|xan", "is|on|ar|ia|us|ex|a|ion"),
    "space stations": ("orbital|deep|outer|relay|haven|dock|ring|array|gate|hub",
                       "station|outpost|platform|spire|hub|anchorage|port"),
    "cozy villages": ("honey|clover|apple|butter|plum|maple|pudding|bramble|teacup|sunny",
                      "dell|brook|bottom|hollow|dale|nook|meadow|cottage|burrow|green"),
}
PLACE_STYLE = {"planets": "scifi", "space stations": "scifi", "cozy villages": "cute"}
DIRECTIONS = ("north", "south", "east", "west", "old kingdom", "far reaches", "inner sea", "wild frontier")


def item_name(rng: random.Random, style: str, kind: str) -> str:
    bases, templates = ITEMS[style][kind]
    values = {"b": pick(rng, bases), "a": pick(rng, ADJ if style != "cute" else CUTE), "n": pick(rng, NATURE),
              "x": pick(rng, ABSTRACT), "m": pick(rng, MATERIAL), "c": pick(rng, CUTE),
              "s": syllable_name(rng, style), "S": syllable_name(rng, "scifi", (1,)).upper()[:3],
              "d": str(rng.randint(1, 99)), "r": rng.choice(("I", "II", "III", "IV", "V", "VII", "IX", "X"))}
    name = rng.choice(templates).format(**values)
    return title(name)


def creature_name(rng: random.Random, kind: str) -> str:
    first, second = CREATURES[kind]
    style = CREATURE_STYLE.get(kind, "fantasy")
    a, b = pick(rng, first), pick(rng, second)
    forms = [f"{a} {b}", f"{a}{b}", f"{syllable_name(rng, style)} the {a} {b}", f"{syllable_name(rng, style)}",
             f"{pick(rng, ADJ if style != 'cute' else CUTE)} {b}", f"{a}-{pick(rng, 'back|fang|eye|tail|claw|maw|wing')} {b}"]
    if style == "scifi":
        forms.append(f"{syllable_name(rng, 'scifi', (1,)).upper()[:3]}-{rng.randint(1, 999)} {b}")
    return title(rng.choice(forms))


def place_name(rng: random.Random, kind: str) -> str:
    first, second = PLACES[kind]
    style = PLACE_STYLE.get(kind, "fantasy")
    a, b = pick(rng, first), pick(rng, second)
    if kind == "taverns":
        return title(rng.choice([f"the {a} {b}", f"the {b} and {pick(rng, second)}", f"{syllable_name(rng, style)}'s {b}"]))
    if kind == "planets":
        return title(rng.choice([f"{a}{b}", f"{a}{b} {rng.choice(('Prime', 'II', 'IV', 'VI', 'Minor'))}",
                                 syllable_name(rng, style)]))
    if kind == "space stations":
        return title(rng.choice([f"{a} {b} {syllable_name(rng, style, (1, 2))}", f"{syllable_name(rng, style)} {b}",
                                 f"{b} {rng.randint(1, 99)}"]))
    forms = [f"{a}{b}", f"{a}{b}", f"{syllable_name(rng, style)} {b}", f"{syllable_name(rng, style)}",
             f"{a} {b}", f"{a}{b} {pick(rng, 'upon the hill|by the sea|under the mountain|in the vale|on the marsh')}"]
    if kind in ("dungeons", "castles"):
        forms.append(f"the {pick(rng, ADJ)} {b}")
    return title(rng.choice(forms))


# -- item lore ---------------------------------------------------------------------------------
EFFECTS = ("lets its owner breathe beneath the waves|glows faintly when danger is near|"
           "heals small wounds overnight|turns aside the first blow of every fight|"
           "whispers the names of the dead|never dulls, no matter what it cuts|"
           "keeps its bearer warm in the deepest winter|burns the hands of liars|"
           "grants a night of dreamless sleep|makes the wearer lighter than a feather|"
           "sings softly under a full moon|points always toward home|"
           "was forged for a king who never came back|hums when its twin is near|"
           "calls down a spark of lightning once a day|cannot be lost or stolen|"
           "was found in the belly of a sea serpent|smells of rain and old books|"
           "slows the fall of anyone who holds it|reveals hidden doors|"
           "frightens wolves and bears alike|grows heavier in the hands of cowards|"
           "lets the drinker speak with birds for an hour|restores a little strength|"
           "shines like a lantern in the dark|freezes any water it touches|"
           "was blessed by the priests of the old temple|quickens the step of weary travelers|"
           "remembers every hand that held it|turns bitter when poison is near")
ORIGINS = ("Carried by the knights of {p}|Lost in the ruins of {p} for a hundred years|"
           "Traded at the night market of {p}|Stolen from the vaults of {p}|Sold by a tinker on the road to {p}")
MADE = ("Forged in the fires of {p}|Made by a dwarf smith of {p}|Crafted in the workshops of {p}")
BREWED = ("Brewed by the witches of {p}|Gathered at dawn in the hills of {p}|Cooked in the kitchens of {p}")
CONSUMED = ("potions", "herbs", "teas", "snacks", "candies")


SENSES = ("smells of rain and old books|tastes of honey and smoke|is cold to the touch|hums when held|"
          "glitters in any light|is heavier than it looks|is warm even in winter|bears a maker's mark worn smooth|"
          "leaves a faint trail of sparks|is said to be older than the kingdom|was once owned by a famous thief|"
          "is wrapped in faded blue cloth|crackles softly like a hearth|tastes bitter at first, then sweet|"
          "shows a faint face in its surface|is covered in tiny runes|chimes like a bell when struck|"
          "carries the scent of pine needles|shimmers like oil on water|feels lighter each time it is used")
USES = {
    "potions": "Drink it {w}.|Shake well before drinking.|One sip lasts an hour.|Keep it away from open flame.",
    "herbs": "Brew it into a tea {w}.|Chew a leaf {w}.|Dry it in the shade.",
    "rings": "Wear it {w}.|It fits any finger.|Never take it off at night.",
    "amulets": "Wear it close to the heart.|Hold it tight {w}.",
    "swords": "Draw it {w}.|Keep the edge oiled.|It answers only to a steady hand.",
}
WHEN = "before a long swim|when the moon is full|in times of need|before a battle|at dawn|when you feel lost"


def item_lore(rng: random.Random, style: str, kind: str) -> tuple[str, str]:
    """(name, one-line lore) of a made-up item: what it is and what it does."""
    name = item_name(rng, style, kind)
    thing, effect = item_thing(rng, style, kind), pick(rng, EFFECTS)
    if rng.random() < 0.35:
        return name, f"{origin(rng, kind)}, this {thing} {effect}."
    return name, f"{with_article(thing).capitalize()} that {effect}."


def item_thing(rng: random.Random, style: str, kind: str) -> str:
    """"fizzy potion", "pair of bronze boots": what kind of thing an item is."""
    base = pick(rng, ITEMS[style][kind][0])
    if kind in CONSUMED:
        thing = f"{pick(rng, 'sweet|bitter|fizzy|smoky|thick|clear|glowing|cold|warm|cloudy')} {base}"
    elif rng.random() < 0.5:
        thing = f"{pick(rng, MATERIAL)} {base}"
    else:
        thing = f"{pick(rng, ADJ if style != 'cute' else CUTE)} {base}"
    return f"pair of {thing}" if base.endswith("s") and kind != "gems" else thing


def origin(rng: random.Random, kind: str) -> str:
    place = place_name(rng, rng.choice(("towns", "kingdoms", "mountain villages")))
    return pick(rng, ORIGINS + "|" + (BREWED if kind in CONSUMED else MADE)).format(p=place)


def item_description(rng: random.Random, style: str, kind: str) -> tuple[str, str]:
    """(subject, description) for the item-description preset: the subject says what the item
    is and does, the description adds where it comes from, how it feels and how to use it."""
    thing, effect = item_thing(rng, style, kind), pick(rng, EFFECTS)
    subject = rng.choice((f"{with_article(thing)} that {effect}", f"the {item_name(rng, style, kind)}",
                          with_article(thing)))
    first = f"{origin(rng, kind)}, it {pick(rng, SENSES)}." if rng.random() < 0.5 else f"It {pick(rng, SENSES)}."
    second = pick(rng, USES[kind]).format(w=pick(rng, WHEN)) if kind in USES and rng.random() < 0.6 \
        else f"Some say it {pick(rng, EFFECTS)}." if not subject.endswith(effect) else ""
    return subject, f"{first} {second}".strip()


def with_article(thing: str) -> str:
    return ("an " if thing[0] in "aeiou" else "a ") + thing


# -- NPC lines ---------------------------------------------------------------------------------
ROLES = ("blacksmith|innkeeper|town guard|merchant|old wizard|farmer|ship captain|priest|thief|"
         "baker|hunter|librarian|knight|fisherman|alchemist|bard|miner|witch|robot|space pilot")
ROLE_WORDS = {
    "blacksmith": "steel|the forge|a good blade|horseshoes", "innkeeper": "a warm bed|ale|the stew|a room",
    "town guard": "the gate|the law|the curfew|the walls", "merchant": "my wares|a fair price|silks|coin",
    "old wizard": "the stars|old magic|my tower|the prophecy", "farmer": "the harvest|my cows|the rain|the fields",
    "ship captain": "the tide|my ship|the open sea|the crew", "priest": "the gods|the temple|a prayer|the light",
    "thief": "the shadows|your purse|the rooftops|a locked door", "baker": "fresh bread|the oven|sweet rolls|flour",
    "hunter": "the woods|the tracks|the wolves|my bow", "librarian": "the books|silence|old maps|the archive",
    "knight": "my oath|the king|honor|the dragon", "fisherman": "the nets|the river|the catch|the weather",
    "alchemist": "my potions|the formula|strange herbs|the cauldron", "bard": "a song|the tavern|a tale|my lute",
    "miner": "the deep tunnels|the ore|the dark|my pick", "witch": "the moon|my cat|the brew|old curses",
    "robot": "my programming|the protocol|the system|the reactor", "space pilot": "my ship|the stars|the jump|the void",
}
MOODS = {
    "grumpy": ("What do you want?|Make it quick.|Hmph.|Not you again.|I'm busy.",
               "and don't waste my time|if you must|and then leave me be"),
    "cheerful": ("Well, hello there!|What a lovely day!|Welcome, friend!|Oh, a new face!|Good morning!",
                 "it's a joy to see you|come in, come in|what luck"),
    "nervous": ("Oh! You startled me.|Is someone following you?|Keep your voice down.|Please, not so loud.",
                "I shouldn't be talking to you|they might be watching|please hurry"),
    "sleepy": ("Mmm... what?|*yawn* Oh, it's you.|Is it morning already?|Five more minutes...",
               "if I can stay awake|let me rub my eyes"),
    "proud": ("You stand before the finest in the land.|Ah, you have heard of me.|Behold!|Of course you came to me.",
              "no one does it better|naturally|as everyone knows"),
    "suspicious": ("Who sent you?|I don't know your face.|State your business.|You're not from around here.",
                   "I'm watching you|no tricks|keep your hands where I can see them"),
}
SITUATIONS = {
    "greeting the player": ("{o} Come for {w}?|{o} You look like you need {w}.|{o} Welcome to my corner of the world, "
                            "{c}.|{o} Not many travelers come this way."),
    "warning the player": ("{o} Stay away from {w} after dark.|{o} Something has been stirring near {w}.|"
                           "{o} Don't go north, {c}.|{o} The last one who asked about {w} never came back."),
    "selling wares": ("{o} Nobody knows {w} like I do, {c}.|{o} For you, a special price on {w}.|"
                      "{o} Buy now, before it's gone.|{o} Nothing here is cheap, but it's all good."),
    "asking for help": ("{o} Could you help me with {w}?|{o} I need someone brave, {c}.|"
                        "{o} Something's wrong with {w}, and I can't fix it alone.|{o} Will you help me?"),
    "saying goodbye": ("{o} Safe travels, {c}.|{o} Come back when you need {w}.|{o} Off you go, then.|"
                       "{o} May the road be kind to you."),
}


def npc_line(rng: random.Random) -> tuple[str, str]:
    """(who, line) such as ("a grumpy blacksmith greeting the player", "Hmph. Come for steel?")."""
    role, mood, situation = pick(rng, ROLES), rng.choice(list(MOODS)), rng.choice(list(SITUATIONS))
    openers, closers = MOODS[mood]
    line = pick(rng, SITUATIONS[situation]).format(o=pick(rng, openers), w=pick(rng, ROLE_WORDS[role]),
                                                   c=pick(rng, closers))
    article = "an" if mood[0] in "aeiou" else "a"
    return f"{article} {mood} {role} {situation}", line


# -- ad slogans ---------------------------------------------------------------------------------
GENRES = {
    "farming game": ("crop|seed|harvest|farm|barn|orchard", "grow|plant|harvest|tend"),
    "dungeon crawler": ("dungeon|loot|darkness|treasure|monster|torch", "delve|fight|loot|survive"),
    "space shooter": ("galaxy|star|laser|fleet|void|asteroid", "blast|fly|dodge|conquer"),
    "puzzle game": ("puzzle|piece|mind|pattern|riddle|tile", "think|solve|match|twist"),
    "racing game": ("road|speed|engine|finish line|track|race", "race|drift|boost|win"),
    "cooking game": ("kitchen|recipe|oven|feast|spice|order", "cook|bake|serve|taste"),
    "fishing game": ("lake|catch|river|boat|tide|lure", "cast|reel|fish|relax"),
    "city builder": ("city|street|skyline|town|tower|district", "build|plan|grow|design"),
    "platformer": ("level|jump|world|coin|castle|cloud", "jump|run|climb|dash"),
    "horror game": ("dark|night|shadow|house|silence|fear", "hide|run|survive|listen"),
}
GAME_ADJ = ("cozy|dark|tiny|epic|cute|retro|relaxing|chaotic|pixel-art|tactical|endless|magical")
SLOGANS = ("{V} your own {n}.|Every {n} tells a story.|{V}. {V2}. Repeat.|The {n} is waiting.|"
           "Small {n}, big dreams.|One more {n}. Just one more.|{V} like nobody's watching.|"
           "Your {n}. Your rules.|Where every {n} matters.|Come for the {n}, stay for the {n2}.|"
           "{V} together.|Not every {n} is the same.|It's time to {v}.|The {a} way to {v}.|"
           "Less stress, more {n}.|{V} the {n}. Find yourself.|Welcome to the {n}.|"
           "Made for those who {v}.|A {a} world awaits.|{V} today. Dream tomorrow.")


def slogan_list(rng: random.Random, count: int) -> tuple[str, list[str]]:
    """(game, slogans) such as ("a cozy farming game", ["Grow your own harvest.", ...])."""
    genre, adj = rng.choice(list(GENRES)), pick(rng, GAME_ADJ)
    nouns, verbs = GENRES[genre]
    article = "an" if adj[0] in "aeiou" else "a"
    seen: list[str] = []
    for _ in range(count * 4):
        v, v2 = rng.sample(verbs.split("|"), 2)
        n, n2 = rng.sample(nouns.split("|"), 2)
        text = pick(rng, SLOGANS).format(V=v.capitalize(), V2=v2.capitalize(), v=v, n=n, n2=n2, a=adj)
        if text not in seen:
            seen.append(text)
        if len(seen) == count:
            break
    return f"{article} {adj} {genre}", seen
