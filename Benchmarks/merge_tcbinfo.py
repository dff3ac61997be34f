"""Writes a dcap-qvl collateral JSON whose TCB Info is replaced by a PCS TCB Info response's
exact signed bytes and signature, so that dcap-qvl and `keyrelease bench verify` read one and
the same collateral file (no verifier parses a document the other does not).

usage: merge_tcbinfo.py COLLATERAL_JSON PCS_TCBINFO_RESPONSE OUT_JSON
"""
import json, sys

coll_path, pcs_path, out_path = sys.argv[1:4]
coll = json.load(open(coll_path))
raw = open(pcs_path).read()
start = raw.index("{", raw.index('"tcbInfo"'))
_, end = json.JSONDecoder().raw_decode(raw, start)
coll["tcb_info"] = raw[start:end]
coll["tcb_info_signature"] = json.loads(raw)["signature"]
with open(out_path, "w") as f:
    json.dump(coll, f)
