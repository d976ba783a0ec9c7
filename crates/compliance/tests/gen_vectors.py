#!/usr/bin/env python3
"""Generates known-answer vectors for the validators from independent oracles:
python-stdnum (cn.ric, cn.uscc, luhn), phonenumbers (libphonenumber's metadata, for PRC
mobiles) and Python's ipaddress module. Writes tests/vectors/*.jsonl, one
{"value": ..., "valid": bool} per line. Deterministic (fixed seed).

Usage (from crates/compliance): python3 tests/gen_vectors.py
Needs: pip install python-stdnum phonenumbers
"""
import ipaddress
import json
import os
import random
import re

import phonenumbers
import stdnum
from stdnum import luhn
from stdnum.cn import ric, uscc

rng = random.Random(11643)
out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors")
os.makedirs(out_dir, exist_ok=True)

# County codes in use, with their validity years, from stdnum's own data file.
counties = []
with open(os.path.join(os.path.dirname(stdnum.__file__), "cn", "loc.dat"), encoding="utf-8") as f:
    province = None
    for line in f:
        m = re.match(r"^(\d\d) ", line)
        if m:
            province = m.group(1)
            continue
        m = re.match(r"^  (\d{4}) ", line)
        if m and province:
            counties.append(province + m.group(1))
prefixes = {c[:4] for c in counties}


def ric_valid(number):
    """stdnum's verdict; a lookup error inside stdnum (a province without that prefecture)
    means the region is unknown, so the number is invalid."""
    try:
        return ric.is_valid(number)
    except KeyError:
        return False


def write(name, rows):
    with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def rid_body():
    county = rng.choice(counties)
    y = rng.randint(1930, 2015)
    m = rng.randint(1, 12)
    d = rng.randint(1, 28)
    return f"{county}{y:04d}{m:02d}{d:02d}{rng.randint(0, 999):03d}"


rows = []
while sum(r["valid"] for r in rows) < 300:
    body = rid_body()
    number = body + ric.calc_check_digit(body + "0")
    if ric_valid(number):
        rows.append({"value": number, "valid": True})
valid_ids = [r["value"] for r in rows]
for _ in range(300):
    valid = rng.choice(valid_ids)
    kind = rng.randrange(3)
    if kind == 0:  # wrong check character
        wrong = rng.choice([c for c in "0123456789X" if c != valid[-1]])
        number = valid[:-1] + wrong
    elif kind == 1:  # impossible date, correct check character
        body = valid[:10] + rng.choice(["1301", "0230", "0431", "0000", "0632", "1100"]) + valid[14:17]
        number = body + ric.calc_check_digit(body + "0")
    else:  # unknown province/prefecture, correct check character
        while True:
            p = f"{rng.randint(0, 9999):04d}"
            if p not in prefixes:
                break
        body = p + valid[4:17]
        number = body + ric.calc_check_digit(body + "0")
    assert not ric_valid(number)
    rows.append({"value": number, "valid": False})
write("cn_resident_id.jsonl", rows)

ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
rows = []
for _ in range(300):
    body = rng.choice("123456789") + rng.choice("123459") + rng.choice(counties) + "".join(rng.choice(ALPHA) for _ in range(9))
    number = body + uscc.calc_check_digit(body)
    assert uscc.is_valid(number)
    rows.append({"value": number, "valid": True})
    wrong = rng.choice([c for c in ALPHA if c != number[-1]])
    assert not uscc.is_valid(number[:-1] + wrong)
    rows.append({"value": number[:-1] + wrong, "valid": False})
write("cn_uscc.jsonl", rows)

rows = []
for _ in range(600):
    n = "".join(rng.choice("0123456789") for _ in range(rng.randint(13, 19)))
    rows.append({"value": n, "valid": luhn.is_valid(n)})
write("luhn.jsonl", rows)

rows = []
# 161 and 174 are allocated by sub-range in libphonenumber's metadata; the scanner leaves
# them out.
for seg in [s for s in range(130, 200) if s not in (161, 174)]:
    for _ in range(4):
        n = f"{seg}{rng.randint(0, 99999999):08d}"
        p = phonenumbers.parse(n, "CN")
        ok = phonenumbers.is_valid_number(p) and phonenumbers.number_type(p) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
        rows.append({"value": n, "valid": ok})
write("cn_mobile.jsonl", rows)

rows = []
for _ in range(200):
    parts = [rng.randint(0, 255) for _ in range(4)]
    text = ".".join(str(p) for p in parts)
    if rng.random() < 0.3:
        i = rng.randrange(4)
        parts[i] = rng.choice([256, 300, 999, "01", "00"])
        text = ".".join(str(p) for p in parts)
    try:
        ipaddress.IPv4Address(text)
        ok = True
    except ValueError:
        ok = False
    rows.append({"value": text, "valid": ok})
for _ in range(200):
    addr = ipaddress.IPv6Address(rng.getrandbits(128) & ~((1 << rng.choice([0, 16, 32, 64])) - 1))
    text = addr.compressed if rng.random() < 0.5 else addr.exploded
    if rng.random() < 0.3:
        text = text.replace(":", ":::", 1) if rng.random() < 0.5 else text + ":12345"
    try:
        ipaddress.IPv6Address(text)
        ok = True
    except ValueError:
        ok = False
    rows.append({"value": text, "valid": ok})
write("ip_address.jsonl", rows)
print("vectors written to", out_dir)
