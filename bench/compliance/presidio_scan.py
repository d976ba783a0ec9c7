#!/usr/bin/env python3
"""Runs Microsoft Presidio's analyzer over a corpus written by `encore scan-bench corpus` and
prints its findings as JSON lines in the label shape (path, locator, byte offset, length, kind),
then a summary line with the bytes analysed and the analysis time (one core, one process).

Presidio is configured with pattern recognizers only, no NLP model (NoOpNlpEngine):
 - built-in EmailRecognizer, IpRecognizer, CreditCardRecognizer (Luhn) and PhoneRecognizer
   (libphonenumber, region CN);
 - PatternRecognizers for the PRC kinds it lacks, each with the same validation the standard
   defines (GB 11643 check digit and birth date, GB 32100 check character, via python-stdnum),
   as Presidio's own recognizers validate with a checksum.

Usage: presidio_scan.py CORPUS_DIR > predictions.jsonl
"""
import json
import os
import sqlite3
import sys
import time

import tldextract

# Offline: use the public-suffix snapshot bundled with tldextract instead of fetching the list
# (Presidio's e-mail recognizer calls tldextract.extract).
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry  # noqa: E402
from presidio_analyzer.nlp_engine import NoOpNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    CreditCardRecognizer,
    EmailRecognizer,
    IpRecognizer,
    PhoneRecognizer,
)
from stdnum.cn import ric, uscc  # noqa: E402

KINDS = {
    "CN_RESIDENT_ID": "cn_resident_id",
    "PHONE_NUMBER": "cn_mobile",
    "CREDIT_CARD": "bank_card",
    "EMAIL_ADDRESS": "email",
    "CN_USCC": "cn_uscc",
    "CN_PASSPORT": "passport",
    "IP_ADDRESS": "ip_address",
}


class ResidentIdRecognizer(PatternRecognizer):
    def __init__(self):
        super().__init__(
            supported_entity="CN_RESIDENT_ID",
            patterns=[Pattern("cn_resident_id", r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])", 0.5)],
            context=["身份证", "id", "证件"],
        )

    def validate_result(self, pattern_text):
        # GB 11643 check character and a real birth date, via python-stdnum. stdnum's county
        # lookup is left out: the corpus (like encore) works with prefecture-level region codes.
        number = pattern_text.upper()
        try:
            ric.get_birth_date(number)
        except Exception:
            return False
        return number[-1] == ric.calc_check_digit(number)


class UsccRecognizer(PatternRecognizer):
    def __init__(self):
        super().__init__(
            supported_entity="CN_USCC",
            patterns=[Pattern("cn_uscc", r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])", 0.5)],
            context=["信用代码", "uscc", "税号"],
        )

    def validate_result(self, pattern_text):
        return bool(uscc.is_valid(pattern_text))


def analyzer():
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(EmailRecognizer())
    registry.add_recognizer(IpRecognizer())
    registry.add_recognizer(CreditCardRecognizer())
    registry.add_recognizer(PhoneRecognizer(supported_regions=["CN"]))
    registry.add_recognizer(ResidentIdRecognizer())
    registry.add_recognizer(UsccRecognizer())
    registry.add_recognizer(
        PatternRecognizer(
            supported_entity="CN_PASSPORT",
            patterns=[Pattern("cn_passport", r"(?<![0-9A-Za-z])(E\d{8}|E[A-HJ-NP-Z]\d{7}|G\d{8})(?![0-9A-Za-z])", 0.5)],
            context=["护照", "passport"],
        )
    )
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=["en"])


def pieces(root):
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, "rb") as f:
                data = f.read()
            if data.startswith(b"SQLite format 3\0"):
                con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
                tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
                for t in tables:
                    cur = con.execute(f'SELECT rowid, * FROM "{t}"')
                    cols = [d[0] for d in cur.description]
                    for row in cur:
                        for col, val in zip(cols[1:], row[1:]):
                            if isinstance(val, str):
                                yield rel, f"{t}/{row[0]}/{col}", val
                con.close()
            elif b"\0" not in data[:8192]:
                yield rel, None, data.decode("utf-8", errors="replace")


def main():
    root = sys.argv[1]
    engine = analyzer()
    entities = list(KINDS)
    total_bytes = 0
    elapsed = 0.0
    out = sys.stdout
    for rel, locator, text in pieces(root):
        encoded = text.encode("utf-8")
        total_bytes += len(encoded)
        started = time.perf_counter()
        results = engine.analyze(text=text, language="en", entities=entities)
        elapsed += time.perf_counter() - started
        for r in sorted(results, key=lambda r: r.start):
            start = len(text[: r.start].encode("utf-8"))
            length = len(text[r.start : r.end].encode("utf-8"))
            rec = {"path": rel, "offset": start, "length": length, "kind": KINDS[r.entity_type], "score": round(r.score, 3)}
            if locator:
                rec["locator"] = locator
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out.write(json.dumps({"summary": {"bytes": total_bytes, "elapsed_ms": elapsed * 1000.0}}) + "\n")


if __name__ == "__main__":
    main()
