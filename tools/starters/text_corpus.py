"""The starter language model's corpus: completion-style documents shaped like the text presets.

Sources (licences in LICENSE-DATA.md beside the model):
  - WordNet 3.0 noun glosses (Debian `wordnet-base`, WordNet licence): "Name: description" lines
    and "Item: a lantern.\\nDescription: ..." pairs for things, animals, plants and places;
  - The Devil's Dictionary (Debian `dict-devil`, public domain): witty one-line definitions;
  - Webster's Second International word list (`miscfiles`' web2, public domain) and SCOWL
    (`wamerican`, permissive): which made-up compound names are real words, to keep them apart;
  - our own syllable and template rules (namegen.py): item, creature and place names in three
    styles, item lore, NPC lines, ad slogans.

Every document is one JSON line {"text": ...}; engines/train/text_data.py ends each with the
end-of-text token, so a list the model writes stops where the list ends.
"""
from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import namegen as g

PACKAGES = {"wordnet-base": Path("/usr/share/wordnet/data.noun"),
            "dict-devil": Path("/usr/share/dictd/devil.dict.dz"),
            "miscfiles": Path("/usr/share/dict/web2"),
            "wamerican": Path("/usr/share/dict/american-english")}

# WordNet lexicographer files of the nouns a game needs: artifacts, animals, foods, places,
# natural objects, plants, substances.
LEXFILES = {"06": "artifact", "05": "animal", "13": "food", "15": "location", "17": "object", "20": "plant",
            "27": "substance"}
# Groups for lists: label -> WordNet head words whose hyponyms belong to it.
GROUPS = {
    "weapons": ("weapon",), "garments": ("garment",), "jewelry": ("jewelry",), "tools": ("hand tool",),
    "containers": ("container",), "ships": ("ship", "boat"), "musical instruments": ("musical instrument",),
    "buildings": ("building",), "drinks": ("beverage",), "dishes": ("dish",), "baked goods": ("baked goods",),
    "herbs": ("herb",), "flowers": ("flower",), "trees": ("tree",), "mushrooms": ("fungus",),
    "birds": ("bird",), "fish": ("fish",), "snakes": ("snake",), "insects": ("insect",), "dogs": ("dog",),
    "wild cats": ("wildcat", "big cat"), "gems and minerals": ("gem", "mineral"),
    "landforms": ("geological formation",), "bodies of water": ("body of water",),
}
LIST_SIZES = (6, 8, 10, 12, 12, 14, 16)


def ensure_packages() -> None:
    """Install the Debian data packages that are missing (this script only, never the tests)."""
    missing = [name for name, path in PACKAGES.items() if not path.exists()]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise SystemExit(f"missing Debian packages {', '.join(missing)} and no apt-get to install them")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                   env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


# -- readers ---------------------------------------------------------------------------------------
def read_wordnet(path: Path = PACKAGES["wordnet-base"]) -> list[dict]:
    """The noun synsets of LEXFILES: words, lexfile, hypernym offsets and the gloss (examples cut)."""
    synsets = []
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue  # the licence header
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        if fields[1] not in LEXFILES:
            continue
        count = int(fields[3], 16)
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
        words = [re.sub(r"\(\w+\)$", "", w) for w in words]
        rest = fields[4 + 2 * count:]
        pointers = int(rest[0])
        hypernyms = [rest[1 + 4 * i + 1] for i in range(pointers) if rest[1 + 4 * i] in ("@", "@i")]
        definition = gloss.split('; "')[0].split(' "')[0].strip().rstrip(";").strip()
        if definition:
            synsets.append({"offset": fields[0], "lexfile": LEXFILES[fields[1]], "words": words,
                            "hypernyms": hypernyms, "gloss": definition})
    return synsets


def group_synsets(synsets: list[dict]) -> dict[str, list[dict]]:
    """GROUPS label -> the synsets below one of its head words (hypernym closure)."""
    by_offset = {s["offset"]: s for s in synsets}
    heads = {label: {s["offset"] for s in synsets if set(s["words"]) & set(words)} for label, words in GROUPS.items()}
    memo: dict[str, set[str]] = {}

    def ancestors(offset: str, depth: int = 0) -> set[str]:
        if offset in memo or depth > 40:
            return memo.get(offset, set())
        found: set[str] = set()
        for parent in by_offset.get(offset, {}).get("hypernyms", []):
            found |= {parent} | ancestors(parent, depth + 1)
        memo[offset] = found
        return found

    groups: dict[str, list[dict]] = {label: [] for label in GROUPS}
    for s in synsets:
        above = ancestors(s["offset"])
        for label, offsets in heads.items():
            if above & offsets:
                groups[label].append(s)
    return groups


def read_devil(path: Path = PACKAGES["dict-devil"]) -> list[tuple[str, str]]:
    """(word, first sentence of its definition) for each entry of the Devil's Dictionary."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    entries = []
    pattern = re.compile(r"^([A-Z][A-Z'\- ]+), ([a-z.]+)\s+(.+)$")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = pattern.match(line)
        if not m:
            continue
        body = [m.group(3)]
        for more in lines[i + 1:]:
            if not more.strip() or more.startswith("    "):
                break
            body.append(more.strip())
        paragraph = re.sub(r"\s+", " ", " ".join(body)).replace("_", "")
        sentence = re.split(r"(?<=[.!?])\s", paragraph)[0].strip()
        if 8 <= len(sentence) <= 220:
            entries.append((m.group(1).strip().capitalize(), sentence))
    return entries


def real_words() -> set[str]:
    words = set()
    for name in ("miscfiles", "wamerican"):
        words |= {w.strip().lower() for w in PACKAGES[name].read_text(encoding="utf-8", errors="replace").split()}
    return words


# -- documents -------------------------------------------------------------------------------------
def numbered(header: str, items: list[str]) -> str:
    return header + "\n" + "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def unique(rng: random.Random, make, count: int) -> list[str]:
    seen: list[str] = []
    for _ in range(count * 5):
        item = make()
        if item not in seen:
            seen.append(item)
        if len(seen) == count:
            break
    return seen


def name_lists(rng: random.Random, n: int) -> list[str]:
    """Lists of made-up item, creature and place names under the presets' headers."""
    docs = []
    items = [(style, kind) for style, kinds in g.ITEMS.items() for kind in kinds]
    style_word = {"fantasy": "fantasy", "scifi": "sci-fi", "cute": "cute"}
    for i in range(n):
        size = rng.choice(LIST_SIZES)
        what = i % 3
        if what == 0:
            style, kind = rng.choice(items)
            game = style_word[style] if rng.random() < 0.8 else rng.choice(("cozy", "retro", "mobile", "indie"))
            names = unique(rng, lambda: g.item_name(rng, style, kind), size)
            docs.append(numbered(f"Names of {kind} in a {game} game:", names))
        elif what == 1:
            kind = rng.choice(list(g.CREATURES))
            docs.append(numbered(f"Bestiary, {kind}:", unique(rng, lambda: g.creature_name(rng, kind), size)))
        else:
            kind = rng.choice(list(g.PLACES))
            where = "north" if rng.random() < 0.5 else rng.choice(g.DIRECTIONS)
            docs.append(numbered(f"Map of the {where}, {kind}:", unique(rng, lambda: g.place_name(rng, kind), size)))
    return docs


def lore_lists(rng: random.Random, n: int) -> list[str]:
    """'Name: description' lists of made-up items under the lore preset's header."""
    items = [(style, kind) for style, kinds in g.ITEMS.items() for kind in kinds]
    docs = []
    for _ in range(n):
        style, kind = rng.choice(items)
        adjective = rng.choice(("magic", "cursed", "ancient", "legendary", "enchanted", "")) if style == "fantasy" else ""
        subject = f"{adjective} {kind}".strip()
        lore = [g.item_lore(rng, style, kind) for _ in range(rng.choice((4, 5, 6, 8)))]
        # The preset fills in the subject as typed, most often lower case.
        subject = subject.capitalize() if rng.random() < 0.3 else subject
        docs.append(numbered(f"{subject} of the realm, each with its lore:",
                             [f"{name}: {text}" for name, text in lore]))
    return docs


def item_descriptions(rng: random.Random, n: int) -> list[str]:
    """The item-description preset's shape for made-up items."""
    items = [(style, kind) for style, kinds in g.ITEMS.items() for kind in kinds]
    docs = []
    for _ in range(n):
        subject, text = g.item_description(rng, *rng.choice(items))
        docs.append(f"Item: {subject}.\nDescription: {text}")
    return docs


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def wordnet_docs(rng: random.Random, synsets: list[dict], groups: dict[str, list[dict]], lists: int) -> list[str]:
    """Item descriptions and 'Name: description' / name lists from WordNet glosses."""
    docs = []
    for s in synsets:
        word = s["words"][0]
        if s["lexfile"] == "location" and word[:1].isupper():
            continue  # real cities and countries do not belong on a fantasy map
        gloss = s["gloss"][0].upper() + s["gloss"][1:] + "."
        label = {"animal": "Creature", "location": "Place", "object": "Place", "plant": "Plant"}.get(s["lexfile"], "Item")
        docs.append(f"{label}: {article(word)}.\nDescription: {gloss}")
    labels = [label for label, members in groups.items() if len(members) >= 20]
    for _ in range(lists):
        label = rng.choice(labels)
        members = rng.sample(groups[label], min(len(groups[label]), rng.choice((4, 5, 6, 8))))
        if rng.random() < 0.5:
            lines = [f"{m['words'][0][:1].upper() + m['words'][0][1:]}: {m['gloss']}." for m in members]
            docs.append(numbered(f"{label.capitalize() if rng.random() < 0.3 else label} of the realm, "
                                 "each with its lore:", lines))
        else:
            names = sorted({m["words"][0][:1].upper() + m["words"][0][1:] for m in
                            rng.sample(groups[label], min(len(groups[label]), rng.choice(LIST_SIZES)))})
            rng.shuffle(names)
            header = f"Bestiary, {label}:" if label in ("birds", "fish", "snakes", "insects", "dogs", "wild cats") \
                else f"Names of {label} in a fantasy game:"
            docs.append(numbered(header, names))
    return docs


def devil_docs(rng: random.Random, entries: list[tuple[str, str]]) -> list[str]:
    """The Devil's Dictionary as glossaries and as a sour sage's lines."""
    docs = []
    shuffled = entries[:]
    rng.shuffle(shuffled)
    for i in range(0, len(shuffled), 6):
        chunk = shuffled[i:i + 6]
        docs.append(numbered("Words of the cynic, each with its meaning:", [f"{w}: {d}" for w, d in chunk]))
    for word, definition in entries:
        who = rng.choice(("a sour old sage", "a cynical court jester", "a grumpy scholar", "a bitter old bard"))
        docs.append(f'{who} explaining the word "{word.lower()}":\n"{definition}"')
    return docs


def npc_docs(rng: random.Random, n: int) -> list[str]:
    docs = []
    for _ in range(n):
        who, line = g.npc_line(rng)
        docs.append(f'{who}:\n"{line}"')
    return docs


def slogan_docs(rng: random.Random, n: int) -> list[str]:
    docs = []
    for _ in range(n):
        game, slogans = g.slogan_list(rng, rng.choice((4, 5, 6, 8)))
        docs.append(numbered(f"Slogans for {game}:", slogans))
    return docs


def build(out: Path, seed: int = 0, scale: float = 1.0) -> dict:
    """Write the corpus (one .jsonl per source) into `out`; returns the counts per file."""
    ensure_packages()
    rng = random.Random(seed)
    g.AVOID = real_words()
    synsets = read_wordnet()
    groups = group_synsets(synsets)
    k = lambda n: max(1, int(n * scale))  # noqa: E731
    parts = {
        "names": name_lists(rng, k(24000)),
        "lore": lore_lists(rng, k(4000)),
        "items": item_descriptions(rng, k(8000)),
        "wordnet": wordnet_docs(rng, rng.sample(synsets, k(min(len(synsets), 12000))), groups, k(4000)),
        "devil": devil_docs(rng, read_devil()),
        "npc": npc_docs(rng, k(5000)),
        "slogans": slogan_docs(rng, k(2500)),
    }
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, docs in parts.items():
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for doc in docs:
                f.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
        counts[name] = len(docs)
    return counts
