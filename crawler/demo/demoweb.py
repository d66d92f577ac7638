"""The demo web: a small realistic web of generated sites that `linkgraph demo` crawls.

It is deterministic given its seed and built up front (about a megabyte): ~60 hosts under ~30
registered domains (public and private suffixes), skewed sizes and popularity, robots.txt
rules, nofollow/sponsored/ugc links. Its vocabulary and `sentence` also fill the benchmarks'
bench web.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crawler.demo.web import StaticWeb, TemplateResource, html, text


def _words(text_: str) -> list[str]:
    return text_.split()


WORDS = _words(
    "garden river maple stone harbor cloud copper meadow lantern orbit cedar falcon pixel "
    "summit willow ember atlas coral prairie beacon quartz tundra canyon glacier velvet "
    "thistle marble saffron juniper cobalt nimbus aurora bramble delta fjord grove ivory"
)
TOPICS = _words(
    "gardening cycling recipes astronomy woodworking photography travel history chess "
    "birdwatching baking climbing sailing pottery linux coffee knitting robotics maps tea"
)
FILLER = _words(
    "the of and to in is that for it with as on was by this from at be are have an or "
    "which one all were when we there can more if about out up so what into time some"
)
# (suffix, share): the demo's mix of public and private (github.io-style) suffixes.
SUFFIXES = (("com", 0.35), ("org", 0.2), ("co.uk", 0.2), ("github.io", 0.15), ("net", 0.1))
SUBDOMAINS = ("blog", "shop", "docs", "news", "forum", "wiki")
SECTION = {"blog": "posts", "shop": "products", "docs": "docs", "news": "stories"}
ALLOW_ALL = "User-agent: *\nAllow: /\n"


def sentence(rng: random.Random, words: int) -> str:
    text_ = " ".join(rng.choice(FILLER) for _ in range(words))
    return text_[0].upper() + text_[1:] + "."


@dataclass(slots=True)
class _Host:
    name: str
    domain: str
    paths: list[str]  # paths[0] is "/"
    titles: list[str]
    private: list[str]  # robots-disallowed leaf pages (empty: robots allows all)


class DemoWeb(StaticWeb):
    """The demo web; `seeds` are the home pages of the three most popular domains."""

    def __init__(self, resources: dict, seed_urls: list[str]) -> None:
        super().__init__(resources)
        self._seeds = seed_urls

    def seeds(self, port: int) -> list[str]:
        return [u.replace("{port}", str(port)) for u in self._seeds]


def demo_web(hosts: int = 60, pages: int = 1200, seed: int = 1) -> DemoWeb:
    """~`hosts` hosts under ~hosts/2 registered domains, `pages` small HTML pages in total."""
    rng = random.Random(seed)
    n_domains = max(2, hosts // 2)
    domains: list[tuple[str, str]] = []  # (registered domain, suffix)
    used: set[str] = set()
    while len(domains) < n_domains:
        name = rng.choice(WORDS) + rng.choice(WORDS + TOPICS)
        suffix = rng.choices([s for s, _ in SUFFIXES], [w for _, w in SUFFIXES])[0]
        if name not in used:
            used.add(name)
            domains.append((f"{name}.{suffix}", suffix))
    # Every domain gets one host; the rest go to domains that can have subdomains.
    names = [d if s == "github.io" else f"www.{d}" for d, s in domains]
    owners = [d for d, _ in domains]
    plain = [d for d, s in domains if s != "github.io"]
    taken = set(names)
    while len(names) < hosts and plain:
        domain = rng.choice(plain)
        name = f"{rng.choice(SUBDOMAINS)}.{domain}"
        if name not in taken:
            taken.add(name)
            names.append(name)
            owners.append(domain)

    # Skewed sizes and popularity: a few big, much-linked domains and a long tail.
    sizes = [1 / (r + 1) ** 0.6 for r in range(len(names))]
    rng.shuffle(sizes)
    counts = [max(5, round(pages * s / sum(sizes))) for s in sizes]
    popularity = {d: 1 / (r + 1) for r, (d, _) in enumerate(domains)}

    sites: list[_Host] = []
    for name, domain, count in zip(names, owners, counts, strict=True):
        section = SECTION.get(name.split(".")[0], "articles")
        paths, titles = ["/"], [f"{domain} - {rng.choice(TOPICS)} home"]
        for i in range(1, count):
            words = [rng.choice(WORDS), rng.choice(TOPICS), rng.choice(WORDS)]
            paths.append(f"/{section}/{'-'.join(words)}-{i}")
            titles.append(" ".join(words).capitalize())
        private = ["/private/members", "/private/drafts"] if rng.random() < 0.25 else []
        sites.append(_Host(name, domain, paths, titles, private))

    by_domain: dict[str, list[_Host]] = {}
    for site in sites:
        by_domain.setdefault(site.domain, []).append(site)
    # Each domain links out to a few favourite domains, picked by popularity: so popular
    # domains collect many referring domains and the tail only a few.
    favourites = {d: _pick(rng, popularity, d, rng.randint(2, 6)) for d in popularity}

    resources: dict[tuple[str, str], TemplateResource] = {}
    for h, site in enumerate(sites):
        robots = ALLOW_ALL
        if site.private:
            robots = "User-agent: *\nDisallow: /private/\n"
        resources[(site.name, "/robots.txt")] = text(robots)
        for path in site.private:
            resources[(site.name, path)] = html(_page("Members only", [], rng))
        following = sites[(h + 1) % len(sites)]
        for i, path in enumerate(site.paths):
            links: list[tuple[str, str, str]] = []  # (href, anchor, rel)
            # A chain through every page of every host keeps the whole web reachable.
            if i + 1 < len(site.paths):
                links.append((site.paths[i + 1], site.titles[i + 1], ""))
            else:
                links.append((f"http://{following.name}:{{port}}/", following.domain, ""))
            if i == 0:
                links += [(p, "Members area", "nofollow") for p in site.private]
            for _ in range(rng.randint(5, 25) - len(links)):
                links.append(_demo_link(rng, site, by_domain, favourites[site.domain]))
            resources[(site.name, path)] = html(_page(site.titles[i], links, rng))

    top = sorted(popularity, key=popularity.__getitem__, reverse=True)[:3]
    seeds = [f"http://{by_domain[d][0].name}:{{port}}/" for d in top]
    return DemoWeb(resources, seeds)


def _pick(rng: random.Random, weights: dict[str, float], exclude: str, k: int) -> list[str]:
    """k distinct keys other than `exclude`, drawn by weight."""
    names = [n for n in weights if n != exclude]
    picked: list[str] = []
    while len(picked) < min(k, len(names)):
        name = rng.choices(names, [weights[n] for n in names])[0]
        if name not in picked:
            picked.append(name)
    return picked


def _demo_link(
    rng: random.Random,
    site: _Host,
    by_domain: dict[str, list[_Host]],
    favourites: list[str],
) -> tuple[str, str, str]:
    roll = rng.random()
    if roll < 0.5:  # same host: root-relative, as sites write them
        i = rng.randrange(len(site.paths))
        return site.paths[i], site.titles[i], ""
    if roll < 0.62:
        target = rng.choice(by_domain[site.domain])
    else:
        target = rng.choice(by_domain[rng.choice(favourites)])
    i = 0 if rng.random() < 0.4 else rng.randrange(len(target.paths))
    anchor = rng.choice([target.titles[i], target.domain, "read more", "this site", ""])
    rel = rng.choices(["", "nofollow", "sponsored", "ugc", "noopener"], [84, 8, 3, 3, 2])[0]
    return f"http://{target.name}:{{port}}{target.paths[i]}", anchor, rel


def _page(title: str, links: list[tuple[str, str, str]], rng: random.Random) -> str:
    parts = [
        f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>{title}</title>",
        f"</head><body><h1>{title}</h1>\n",
    ]
    for href, anchor, rel in links:
        rel_attr = f' rel="{rel}"' if rel else ""
        label = anchor or '<img src="/logo.png" alt="">'
        parts.append(f'<p>{sentence(rng, 12)} <a href="{href}"{rel_attr}>{label}</a></p>\n')
    parts.append("</body></html>\n")
    return "".join(parts)
