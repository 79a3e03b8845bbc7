"""The wild corpus: real war-related text (news and discussion) in en, ru, uk and de that nobody on the project wrote.

No third-party text is committed. This module reads it from local snapshots of public repositories (brought by the
`fetch` tool to /work/.mirror/<owner>+<name>/repo, read with `git show <pinned commit>:<path>`), filters and
deduplicates it, and caches the extracted rows as jsonl in data/wild/.cache/ (gitignored). Another machine can
supply those jsonl files through CONTEXTBOT_WILD_DIR. Provenance, licences and the filter rules are in
data/wild/README.md; our own labels (no text) are in data/wild/labels.jsonl.

    load_wild(split=None, langs=None) -> list[dict]   # id, text, lang, source, kind, split, label, talking_point
    wild_status() -> str                              # one sentence: where the rows came from, or why there are none

    python bench/wild.py --stats              counts per language / source / split / label
    python bench/wild.py --export DIR         write the extracted rows as DIR/<source>.jsonl (the cache format)
    python bench/wild.py --missing            the `fetch` sources this machine lacks
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

ROOT = Path(__file__).resolve().parents[1]
WILD_DIR = ROOT / "data" / "wild"
CACHE_DIR = WILD_DIR / ".cache"
LABELS_PATH = WILD_DIR / "labels.jsonl"
MIRROR_ROOT = Path(os.environ.get("CONTEXTBOT_MIRROR_ROOT", "/work/.mirror"))
ENV_DIR = "CONTEXTBOT_WILD_DIR"

# Bump when the extraction rules change, so stale caches are rebuilt from the snapshots.
EXTRACT_VERSION = 6

MIN_CHARS, MAX_CHARS = 20, 1000
LABELS = ("none", "assert", "refute", "report", "ask", "other")

# A row is war-related when it names the war, its parties, places or people. Deliberately broad: the corpus is
# meant to be the bulk of on-topic talk, most of which asserts none of the talking points.
WAR_PATTERNS = {
    "en": r"ukrain|\brussia|putin|zelensk|kyiv|kiev|kremlin|donbas|donetsk|luhansk|crimea|mariupol|kharkiv|kherson|"
          r"bakhmut|zaporizh|\bnato\b|wagner|lavrov|shoigu|bucha|azov|moscow|sanction",
    "de": r"ukrain|\bruss(?!ell)|putin|selenskyj|kreml|\bkiew\b|kyjiw|moskau|\bnato\b|donbass|donezk|luhansk|krim\b|"
          r"charkiw|cherson|bachmut|saporischschja|lawrow|schoigu|mariupol|butscha|sanktion",
    # not bare "Россия": Russian-language channels name their own country in all domestic news
    "ru": r"украин|путин|зеленск|киев|донбасс|донецк|луганск|крым|мариупол|харьков|херсон|бахмут|артемовск|"
          r"запорож|\bнато\b|вагнер|лавров|шойгу|\bбуч[аеи]\b|\bвсу\b|спецоперац|\bсво\b|санкц|беспилотник|\bбпла\b|"
          r"\bдрон|обстрел|мобилиз|\bфронт|военнопленн|\bпленн",
    "uk": r"україн|росі|російськ|путін|зеленськ|київ|кремл|донбас|донецьк|луганськ|крим|маріупол|харків|херсон|"
          r"бахмут|запоріж|нато|вагнер|лавров|шойгу|буч[аіу]|зсу|окупант|окупац|рашист|санкці",
}
_WAR_RE = {lang: re.compile(p, re.I) for lang, p in WAR_PATTERNS.items()}
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_WS_RE = re.compile(r"\s+")


# Rows from general news feeds ("strict" sources, and all German rows) must also name something of the war itself:
# there "Ukraine" is as often the football team.
WAR_CORE_PATTERNS = {
    "de": r"krieg|angriff|invasion|armee|truppe|\bfront|waffe|soldat|rakete|drohne|besetz|offensive|gefecht|beschuss|"
          r"frieden|waffenruhe|sanktion|putin|selenskyj|kreml|\bnato\b|militär|verteidigung|annex|flücht|geflücht",
    "en": r"\bwar\b|invasion|invade|occup|shell|missile|drone|troops|\bfront|army|military|sanction|putin|zelensk|"
          r"kremlin|\bnato\b|strike|attack|killed|weapon|refugee",
    "ru": r"войн|вторжен|оккупа|обстрел|ракет|дрон|беспилот|\bвсу\b|фронт|арми|военн|санкци|путин|зеленск|кремл|"
          r"\bнато\b|удар|атак|погиб|плен|\bсво\b|спецопер|оруж|беженц",
    "uk": r"війн|вторгн|окупа|обстріл|ракет|дрон|\bзсу\b|фронт|арм|військ|санкці|путін|зеленськ|кремл|\bнато\b|удар|"
          r"атак|загиб|полон|зброї|зброя|біженц",
}
_WAR_CORE_RE = {lang: re.compile(p, re.I) for lang, p in WAR_CORE_PATTERNS.items()}


def war_related(text: str, lang: str, strict: bool = False) -> bool:
    if not _WAR_RE[lang].search(text):
        return False
    return not (strict or lang == "de") or bool(_WAR_CORE_RE[lang].search(text))


def cyrillic_lang(text: str) -> str | None:
    """'uk' or 'ru' for Cyrillic text by the letters only one of them uses; None when it cannot tell."""
    uk = len(re.findall(r"[іїєґІЇЄҐ]", text))
    ru = len(re.findall(r"[ыэъёЫЭЪЁ]", text))
    if uk and not ru:
        return "uk"
    if ru and not uk:
        return "ru"
    return None


def is_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum("a" <= c.lower() <= "z" or c in "äöüßÄÖÜéèáà" for c in letters) / len(letters) > 0.9


def clean(text: str) -> str:
    text = html.unescape(text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)          # markdown images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)       # markdown links -> their text
    text = re.sub(r"\*\*|__", "", text)                         # bold markers
    return _WS_RE.sub(" ", text).strip()


def acceptable(text: str) -> bool:
    """Length limits, and not only a URL (or nothing but URLs and punctuation)."""
    if not (MIN_CHARS <= len(text) <= MAX_CHARS):
        return False
    rest = _URL_RE.sub("", text)
    return sum(c.isalpha() for c in rest) >= 12


def split_of(row_id: str) -> str:
    """Deterministic 50/50 split by a hash of the id alone: a row never changes split when the corpus grows."""
    return "tune" if int(hashlib.sha256(row_id.encode("utf-8")).hexdigest()[:8], 16) % 2 == 0 else "check"


def _dedup_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


# --------------------------------------------------------------------------------------------------------------
# sources: one pinned snapshot each, and how rows are read out of it


@dataclass(frozen=True)
class Source:
    name: str            # short source name, also the id prefix and the cache file name
    repo: str            # owner/name on GitHub (fetch with "github:<repo>")
    commit: str          # the commit every file is read at
    kind: str            # "news" or "discussion" (an extractor may override per row)
    extract: Callable[["Source", "Snapshot"], Iterator[dict]]
    cap: int = 5000      # at most this many rows per language (a deterministic hash-ordered subset)
    strict: bool = False # a general news feed: rows must also name something of the war itself (WAR_CORE_PATTERNS)
    labelled_only: bool = False  # rows are used only once hand-labelled (never presumed `none`)

    @property
    def fetch_source(self) -> str:
        return f"github:{self.repo}"

    @property
    def git_dir(self) -> Path:
        return MIRROR_ROOT / self.repo.replace("/", "+") / "repo"


class Snapshot:
    def __init__(self, source: Source):
        self.source = source

    def available(self) -> bool:
        if not self.source.git_dir.is_dir():
            return False
        proc = subprocess.run(["git", "--git-dir", str(self.source.git_dir), "cat-file", "-e",
                               f"{self.source.commit}^{{commit}}"], capture_output=True)
        return proc.returncode == 0

    def show_bytes(self, path: str) -> bytes:
        proc = subprocess.run(["git", "--git-dir", str(self.source.git_dir), "show", f"{self.source.commit}:{path}"],
                              capture_output=True, check=True)
        return proc.stdout

    def show(self, path: str) -> str:
        return self.show_bytes(path).decode("utf-8", errors="replace")

    def ls(self, prefix: str) -> list[str]:
        proc = subprocess.run(["git", "--git-dir", str(self.source.git_dir), "ls-tree", "-r", "-z", "--name-only",
                               self.source.commit, "--", prefix], capture_output=True, check=True)
        return [p for p in proc.stdout.decode("utf-8").split("\0") if p]

    def grep_files(self, pattern: str, prefix: str) -> list[str]:
        """Paths under prefix whose text matches the (fixed-string) pattern, read in one git process."""
        proc = subprocess.run(["git", "--git-dir", str(self.source.git_dir), "grep", "-l", "-z", "-F", "-e", pattern,
                               self.source.commit, "--", prefix], capture_output=True)
        return [p.split(":", 1)[1] for p in proc.stdout.decode("utf-8").split("\0") if p]

    def show_many(self, paths: list[str]) -> Iterator[tuple[str, str]]:
        """(path, text) for many files through one `git cat-file --batch` process."""
        proc = subprocess.Popen(["git", "--git-dir", str(self.source.git_dir), "cat-file", "--batch"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            for path in paths:
                proc.stdin.write(f"{self.source.commit}:{path}\n".encode("utf-8"))
                proc.stdin.flush()
                header = proc.stdout.readline().decode("utf-8").split()
                if len(header) < 3 or header[1] != "blob":
                    continue
                data = proc.stdout.read(int(header[2]))
                proc.stdout.read(1)
                yield path, data.decode("utf-8", errors="replace")
        finally:
            proc.stdin.close()
            proc.wait()


def _row(key: str, text: str, lang: str, kind: str | None = None, **meta) -> dict:
    return {"key": key, "text": text, "lang": lang, "kind": kind, **meta}


_JS_STRING = r"""(?:'((?:\\.|[^'\\])*)'|"((?:\\.|[^"\\])*)"|`((?:\\.|[^`\\])*)`)"""


def _js_unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": " ", "r": ""}.get(m.group(1), m.group(1)), s)


def _js_field(block: str, field: str) -> str | None:
    m = re.search(rf"\b{field}:\s*{_JS_STRING}", block, re.S)
    if not m:
        return None
    return _js_unescape(next(g for g in m.groups() if g is not None))


# Reddit submission titles (r/worldnews, r/ukraine, r/news, r/politics, ...) with the linked domain.
_SELF_DOMAINS = re.compile(r"^(?:self\.|i\.redd\.it|v\.redd\.it|reddit\.com|(?:mobile\.)?twitter\.com|t\.me|"
                           r"youtube\.com|youtu\.be|imgur\.com|i\.imgur\.com|gfycat\.com|streamable\.com)")


def _extract_reddit_headlines(src: Source, snap: Snapshot) -> Iterator[dict]:
    for item in json.loads(snap.show("headlines.json")):
        title = clean(item.get("title") or "")
        if not title or not is_latin(title) or not war_related(title, "en"):
            continue
        domain = item.get("domain") or ""
        # a link to a news site: its headline; a self post, tweet or video: somebody's own words
        kind = "discussion" if _SELF_DOMAINS.match(domain) else "news"
        key = hashlib.sha1(f"{item.get('link')}\n{title}".encode("utf-8")).hexdigest()[:12]
        yield _row(key, title, "en", kind, outlet=domain, subreddit=item.get("category"))


# Google-Trends posts for Germany: a German news item's headline, lede and article paragraphs.
_DE_SKIP = re.compile(r"^(?:Stand:|liveblog\b|Konfliktparteien als Quelle|Alle Entwicklungen im Liveblog)", re.I)


def _extract_trends_de(src: Source, snap: Snapshot) -> Iterator[dict]:
    for path, body in snap.show_many(snap.grep_files("categories: entries DE", "_posts")):
        parts = body.split("---", 2)
        text = parts[2] if len(parts) == 3 else body
        post = Path(path).stem
        for i, para in enumerate(re.split(r"\n\s*\n", text)):
            para = para.strip()
            if para.startswith("!["):
                continue
            para = clean(para)
            if _DE_SKIP.match(para) or not is_latin(para):
                continue
            yield _row(f"{post}#{i}", para, "de", "news")


# A museum timeline of the war: each event has a headline (mostly English tweets of news outlets and officials)
# and a short description in Ukrainian.
def _extract_warline(src: Source, snap: Snapshot) -> Iterator[dict]:
    for path in sorted(p for p in snap.ls("constants/collections/Warline") if p.endswith("/data.tsx")):
        body = snap.show(path)
        for block in re.split(r"\n\s*\{\s*\n\s*Tokenid:", body)[1:]:
            token = re.match(r"\s*'?(\d+)", block)
            if not token:
                continue
            tid = token.group(1)
            who = _js_field(block, "TwitterUsername") or ""
            headline = _js_field(block, "Headline")
            if headline and is_latin(headline):
                yield _row(f"{tid}:headline", clean(headline), "en", "news", outlet=who)
            desc_uk = _js_field(block, "DescriptionUkrainian")
            if desc_uk and cyrillic_lang(desc_uk) != "ru":
                yield _row(f"{tid}:uk", clean(desc_uk), "uk", "news", outlet="museum-of-war")


# Transcripts of Ukrainian officials' public video addresses (President, ministers, regional heads), 2022,
# one row per paragraph.
def _extract_resistinua(src: Source, snap: Snapshot) -> Iterator[dict]:
    for path in ("docs/content/messages.js", "docs/content/messages-2.js", "docs/content/messages-3.js"):
        body = snap.show(path)
        for block in re.split(r"\n\s*\{\s*\n\s*id:", body)[1:]:
            mid = re.match(r"\s*'([^']+)'", block)
            text = _js_field(block, "text")
            if not mid or not text:
                continue
            speaker = _js_field(block, "speaker") or ""
            for i, para in enumerate(re.split(r"\n\s*\n", text)):
                para = clean(para)
                if cyrillic_lang(para) == "uk":
                    yield _row(f"{mid.group(1)}#{i}", para, "uk", "news", outlet="official address", speaker=speaker)


# Posts of Russian Telegram channels (Oct-Dec 2024): state media (RIA Novosti), BBC Russian, and popular news
# channels (SHOT, Mash, Ньюсач, Топор, Раньше всех, ...). A post is one row when it fits the length limit, else
# one row per paragraph.
def _extract_tg_ru(src: Source, snap: Snapshot) -> Iterator[dict]:
    for path, body in snap.show_many(snap.ls("data/raw")):
        for msg in json.loads(body):
            text = (msg.get("text") or "").strip()
            if not text:
                continue
            channel = msg.get("channel") or ""
            key = f"{msg.get('sender_id')}:{msg.get('message_id')}"
            parts = [text] if len(clean(text)) <= MAX_CHARS else re.split(r"\n\s*\n", text)
            for i, part in enumerate(parts):
                part = clean(part)
                if cyrillic_lang(part) == "uk":
                    continue
                yield _row(key if len(parts) == 1 else f"{key}#{i}", part, "ru", "news", outlet=channel)


# Comments under the VKontakte posts of Meduza and TV Rain (Дождь), collected 14 Feb 2022, ten days before the
# invasion: heated Russian discussion. VK mention markup "[id123|Name]" becomes "@user" (no user ids kept).
def _extract_vk_ru(src: Source, snap: Snapshot) -> Iterator[dict]:
    import csv
    import io

    reader = csv.DictReader(io.StringIO(snap.show("toxicity_corpus/russian_distorted_toxicity.tsv")), delimiter="\t")
    for rec in reader:
        text = re.sub(r"\[(?:id|club)\d+\|[^\]]*\]", "@user", rec.get("comments") or "")
        text = clean(text)
        if cyrillic_lang(text) == "uk":
            continue
        yield _row(rec["comment_id"], text, "ru", "discussion", outlet=f"vk comments ({rec.get('source')})")


# RUW (multi-target stance about the Russia-Ukraine war): English tweets of 2023 with the annotators' stance towards
# Russia and towards Ukraine. The files are encoded in GB18030, not UTF-8. Only tweets the annotators marked neither
# in favour of Russia nor against Ukraine are kept: war discussion in which none of the (Russian state) talking
# points is presumed asserted (source "ruw-en"). The pro-Russian ones (source "ruw-pro-en") may or may not assert one
# of our points: they count only where we labelled them, which gives a recall figure on real tweets.
RUW_FILES = ("raw_train_Russia_Ukraine.csv", "raw_val_Russia_Ukraine.csv", "raw_test_Russia_Ukraine.csv")


def ruw_rows(raw: bytes, pro_russian: bool = False) -> Iterator[dict]:
    """The kept rows of one RUW file (its bytes, GB18030): tweets neither in favour of Russia nor against Ukraine,
    or, with ``pro_russian``, exactly the others."""
    import csv
    import io

    for rec in csv.DictReader(io.StringIO(raw.decode("gb18030", errors="replace"))):
        if (rec.get("Stance 1") == "FAVOR" or rec.get("Stance 2") == "AGAINST") is not pro_russian:
            continue
        text = clean(rec.get("Tweet") or "")
        if not is_latin(text):
            continue
        key = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        yield _row(key, text, "en", "discussion",
                   outlet=f"tweet (Russia {(rec.get('Stance 1') or '?').lower()}, "
                          f"Ukraine {(rec.get('Stance 2') or '?').lower()})")


def _ruw_extractor(pro_russian: bool) -> Callable[[Source, Snapshot], Iterator[dict]]:
    """The RUW tweets of one side (see :func:`ruw_rows`)."""
    def extract(src: Source, snap: Snapshot) -> Iterator[dict]:
        for path in RUW_FILES:
            yield from ruw_rows(snap.show_bytes(path), pro_russian=pro_russian)
    return extract


# A Next.js site that published Google-Trends news cards (headline + lede of the linked article) for many countries,
# Nov 2022 - Mar 2023: Ukrainian, Russian, German and English outlets. The pages were replaced over time, so every
# version of every page in the history up to the pinned commit is read (blobs named by `git log --raw`).
_ND_CARD = re.compile(r"<h3>(.*?)</h3>.*?<p[^>]*>(.*?)</p>", re.S)
_DE_WORDS = re.compile(r"[äöüß]|\b(?:der|die|das|und|nicht|mit|ist|sich|wird|auf)\b", re.I)
_EN_WORDS = re.compile(r"\b(?:the|and|of|to|in|is|for|with|says|after)\b", re.I)


def _latin_lang(text: str) -> str | None:
    de, en = len(_DE_WORDS.findall(text)), len(_EN_WORDS.findall(text))
    if de > en:
        return "de"
    if en > de:
        return "en"
    return None


def _extract_trend_cards(src: Source, snap: Snapshot) -> Iterator[dict]:
    proc = subprocess.run(["git", "--git-dir", str(src.git_dir), "log", "--format=", "--raw", "--no-abbrev",
                           src.commit, "--", "pages/news"], capture_output=True, check=True)
    blobs = {}
    for line in proc.stdout.decode("utf-8", errors="replace").splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[4][:1] in "AM":
            blobs.setdefault(parts[3], parts[5])
    cat = subprocess.Popen(["git", "--git-dir", str(src.git_dir), "cat-file", "--batch"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for sha in sorted(blobs):
            cat.stdin.write(f"{sha}\n".encode())
            cat.stdin.flush()
            header = cat.stdout.readline().split()
            if len(header) < 3 or header[1] != b"blob":
                continue
            body = cat.stdout.read(int(header[2])).decode("utf-8", errors="replace")
            cat.stdout.read(1)
            for i, m in enumerate(_ND_CARD.finditer(body)):
                headline = clean(re.sub(r"<[^>]+>", " ", m.group(1)))
                lede = clean(re.sub(r"<[^>]+>", " ", m.group(2)))
                for part, text in (("h", headline), ("l", lede)):
                    if text.endswith("...") or text.endswith("…") or text == "Recent News":
                        continue  # truncated headlines: the lede carries the item
                    lang = cyrillic_lang(text) if re.search(r"[А-Яа-яІіЇїЄєҐґ]", text) else (
                        _latin_lang(text) if is_latin(text) else None)
                    if lang:
                        key = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
                        yield _row(f"{part}:{key}", text, lang, "news")
    finally:
        cat.stdin.close()
        cat.wait()


SOURCES: tuple[Source, ...] = (
    Source("reddit-headlines", "fwd/news", "1027636fdfd3b8a414882b3c214c32830dccaf23", "news",
           _extract_reddit_headlines),
    Source("trends-de", "nguyenvulebinh/trends", "b4236fbda84f06e9409375d6ec89ea0f107eeba1", "news",
           _extract_trends_de),
    Source("warline", "museum-of-war/web", "1f2acf845aaaafa2b78401f3c5004467359d8e72", "news", _extract_warline),
    Source("resistinua", "Amice13/resistinua", "2391318cf8c1d24d492995fbf99934ba696ef334", "news",
           _extract_resistinua, cap=1500),
    Source("tg-ru", "NKTKLN/telegram-news-classifier", "b8b03f1982910fbf4151c184f1ade8b67aa1f585", "news",
           _extract_tg_ru),
    Source("trend-cards", "New-dev0/New-dev0.github.io", "df23dea14961f466931ed62a1b2e16ffa69809a3", "news",
           _extract_trend_cards, strict=True),
    Source("vk-ru", "alla-g/toxicity-detection-thesis", "651159350f42fef6187c87af732835d46b1ccf60", "discussion",
           _extract_vk_ru),
    Source("ruw-en", "multi-target/RUW", "ecb2a4579197c5be03092a1b8fa21ead359809ce", "discussion", _ruw_extractor(False)),
    Source("ruw-pro-en", "multi-target/RUW", "ecb2a4579197c5be03092a1b8fa21ead359809ce", "discussion",
           _ruw_extractor(True), labelled_only=True),
)
LABELLED_ONLY = frozenset(s.name for s in SOURCES if s.labelled_only)


def extract(src: Source) -> list[dict]:
    """Rows of one source from its snapshot: war-related, within the length limits, deduplicated, capped."""
    snap = Snapshot(src)
    seen: set[str] = set()
    seen_keys: set[str] = set()
    rows: list[dict] = []
    for r in src.extract(src, snap):
        text = r["text"]
        if not acceptable(text) or not war_related(text, r["lang"], src.strict):
            continue
        k = _dedup_key(text)
        if k in seen or r["key"] in seen_keys:
            continue
        seen.add(k)
        seen_keys.add(r["key"])
        meta = {k2: v for k2, v in r.items() if k2 not in ("key", "text", "lang", "kind") and v}
        rows.append({"id": f"{src.name}:{r['key']}", "text": text, "lang": r["lang"], "source": src.name,
                     "kind": r["kind"] or src.kind, **meta})
    out: list[dict] = []
    for lang in sorted({r["lang"] for r in rows}):
        mine = [r for r in rows if r["lang"] == lang]
        if len(mine) > src.cap:
            mine = sorted(mine, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())[: src.cap]
        out.extend(mine)
    return sorted(out, key=lambda r: r["id"])


# --------------------------------------------------------------------------------------------------------------
# cache and loading


def _manifest_entry(src: Source) -> dict:
    return {"repo": src.repo, "commit": src.commit, "version": EXTRACT_VERSION}


def export(directory: Path, sources: Iterable[Source] = SOURCES) -> dict[str, int]:
    """Extract every source whose snapshot is here into directory/<source>.jsonl; returns rows written per source."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    written = {}
    for src in sources:
        if not Snapshot(src).available():
            continue
        rows = extract(src)
        with (directory / f"{src.name}.jsonl").open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        manifest[src.name] = _manifest_entry(src)
        written[src.name] = len(rows)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return written


def _read_jsonl_dir(directory: Path) -> list[dict]:
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                if all(k in rec for k in ("id", "text", "lang", "source", "kind")):  # skip anything else
                    rows.append(rec)
    return rows


def _refresh_cache() -> None:
    """Re-extract into data/wild/.cache any source whose snapshot is here and whose cache is missing or stale."""
    manifest_path = CACHE_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    stale = [s for s in SOURCES if manifest.get(s.name) != _manifest_entry(s) or not (CACHE_DIR / f"{s.name}.jsonl").exists()]
    stale = [s for s in stale if Snapshot(s).available()]
    if stale:
        export(CACHE_DIR, stale)


def load_labels(path: Path = LABELS_PATH) -> dict[str, dict]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if rec.get("label") not in LABELS:
                raise ValueError(f"{path}: {rec.get('id')}: unknown label {rec.get('label')!r} (one of {LABELS})")
            if rec["label"] != "none" and not rec.get("talking_point"):
                raise ValueError(f"{path}: {rec['id']}: a {rec['label']!r} label needs its talking_point")
            out[rec["id"]] = rec
    return out


def _dedup_across_sources(rows: list[dict]) -> list[dict]:
    """One row per text across sources: the row with the smallest id wins (the same on every machine)."""
    best: dict[str, dict] = {}
    for r in rows:
        k = _dedup_key(r["text"])
        if k not in best or r["id"] < best[k]["id"]:
            best[k] = r
    keep = {id(r) for r in best.values()}
    return [r for r in rows if id(r) in keep]


_status = "the wild corpus has not been loaded yet"


def wild_status() -> str:
    """One sentence: where load_wild's rows came from, or why it returned none."""
    return _status


def missing_sources() -> list[str]:
    """The fetch sources (github:owner/name) of the snapshots this machine lacks."""
    return [s.fetch_source for s in SOURCES if not Snapshot(s).available()]


def load_wild(split: str | None = None, langs: Iterable[str] | None = None, *,
              labels_path: Path = LABELS_PATH) -> list[dict]:
    """The wild corpus rows, labelled. Rows not hand-checked are presumed `none` (label_checked False)."""
    global _status
    env = os.environ.get(ENV_DIR)
    if env:
        directory = Path(env)
        rows = _read_jsonl_dir(directory) if directory.is_dir() else []
        where = f"{ENV_DIR}={env}"
        if not rows:
            _status = f"no wild corpus: {ENV_DIR} points at {env}, which holds no *.jsonl rows."
            return []
    else:
        _refresh_cache()
        rows = _read_jsonl_dir(CACHE_DIR) if CACHE_DIR.is_dir() else []
        where = str(CACHE_DIR)
        if not rows:
            _status = (f"no wild corpus: set {ENV_DIR} to a directory of its jsonl files, or fetch the snapshots "
                       f"({', '.join(missing_sources())}) and run bench/wild.py --stats.")
            return []
    labels = load_labels(labels_path)
    want_langs = set(langs) if langs else None
    out = []
    for r in _dedup_across_sources(rows):
        if want_langs and r["lang"] not in want_langs:
            continue
        r = dict(r)
        r["split"] = split_of(r["id"])
        if split and r["split"] != split:
            continue
        lab = labels.get(r["id"])
        if lab is None and r["source"] in LABELLED_ONLY:
            continue
        r["label"] = lab["label"] if lab else "none"
        r["talking_point"] = lab.get("talking_point") if lab else None
        r["label_checked"] = lab is not None
        if lab and lab.get("note"):
            r["label_note"] = lab["note"]
        out.append(r)
    missing = missing_sources() if not env else []
    _status = f"{len(out)} wild rows from {where}" + (
        f" (snapshots missing here: {', '.join(missing)})." if missing else ".")
    return out


def stats(rows: list[dict]) -> str:
    lines = [wild_status()]
    for title, key in (("language", lambda r: r["lang"]),
                       ("language / source / kind", lambda r: (r["lang"], r["source"], r["kind"])),
                       ("language / split", lambda r: (r["lang"], r["split"])),
                       ("language / label", lambda r: (r["lang"], r["label"])),
                       ("hand-checked per language", lambda r: (r["lang"], r["label_checked"]))):
        lines.append(f"\n{title}:")
        for k, n in sorted(Counter(key(r) for r in rows).items(), key=lambda kv: str(kv[0])):
            lines.append(f"  {' / '.join(map(str, k)) if isinstance(k, tuple) else k:<48} {n:>6}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stats", action="store_true", help="counts per language / source / split / label")
    ap.add_argument("--export", metavar="DIR", type=Path, help="write the extracted rows as DIR/<source>.jsonl")
    ap.add_argument("--missing", action="store_true", help="print the fetch sources of missing snapshots")
    args = ap.parse_args(argv)
    if args.export:
        written = export(args.export)
        for name, n in written.items():
            print(f"{name:<24} {n:>6} rows -> {args.export / (name + '.jsonl')}")
        for s in missing_sources():
            print(f"snapshot missing (bring it with fetch {s})")
    if args.missing:
        for s in missing_sources():
            print(s)
    if args.stats or not (args.export or args.missing):
        rows = load_wild()
        print(stats(rows) if rows else wild_status())
        for s in missing_sources():
            print(f"snapshot missing (bring it with fetch {s})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
