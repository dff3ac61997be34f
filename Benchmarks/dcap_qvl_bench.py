"""Times dcap-qvl (PyPI, Phala's Rust verifier with Python bindings) on the same quote and
collateral as `keyrelease bench verify`, in the same run, as the external reference.

usage: dcap_qvl_bench.py QUOTE AT_ISO8601 ITERATIONS COLLATERAL_JSON
cold: collateral JSON parsed + quote verified on every iteration; warm: the parsed collateral
object reused (dcap-qvl keeps no other cache). Prints one JSON object with medians in µs.
"""
import json, statistics, sys, time
from datetime import datetime

import dcap_qvl

quote_path, at, iterations, coll_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
quote = open(quote_path, "rb").read()
coll = json.load(open(coll_path))
coll_json = json.dumps(coll)
now = int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())

status = dcap_qvl.verify(quote, dcap_qvl.QuoteCollateralV3.from_json(coll_json), now).status

def median_us(fn):
    samples = []
    for _ in range(iterations):
        t = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t) / 1000)
    return statistics.median(samples)

parsed = dcap_qvl.QuoteCollateralV3.from_json(coll_json)
cold = median_us(lambda: dcap_qvl.verify(quote, dcap_qvl.QuoteCollateralV3.from_json(coll_json), now))
warm = median_us(lambda: dcap_qvl.verify(quote, parsed, now))
print(json.dumps({"status": status, "coldMicros": cold, "warmMicros": warm, "version": dcap_qvl.__version__}))
