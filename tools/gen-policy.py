#!/usr/bin/env python3
"""gen-policy.py: generate scopegate's Losant policy from the Losant data.

Reads data/losant-api/routes.json (the 273 actions of losant-rest, MIT) and
writes conf/policy.json, whose body schemas live in conf/schemas/ (verbatim
copies of losant-rest's lib/schemas).  Python 3, standard library only.
This script keeps what is Losant's (the data, the umbrella scopes, the token
lifecycle); the policy file itself is written by scopegate's one policy
writer, `scopegate-policy from-actions`, which the OpenAPI importer uses too.
The output is deterministic so that tests/policy-regen.sh can regenerate it
and compare byte for byte.

Usage: tools/gen-policy.py [--routes FILE] [--schemas-dir DIR] [--out FILE]
                           [--writer PATH-TO-scopegate-policy]
"""

import argparse
import json
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Path parameters whose name ends in "Id" are Mongo ObjectIds (24 hex
# characters) in Losant, with these exceptions documented by losant-rest:
# flowVersionId is "Version ID or version name associated with the flow
# version", so a name such as "develop" is valid.  experienceVersionIdOrName
# does not end in "Id" and is a string by the same rule.
NOT_OBJECTID = {"flowVersionId"}

# Token lifecycle: an upstream-confirmed delete, or a patch that sets the
# token inactive, revokes the token named by the path parameter.
REVOKING = {
    "applicationApiToken.delete": ("delete", "apiTokenId"),
    "applicationApiToken.patch": ("patch_status", "apiTokenId"),
    "userApiToken.delete": ("delete", "apiTokenId"),
    "userApiToken.patch": ("patch_status", "apiTokenId"),
    "instanceApiToken.delete": ("delete", "apiTokenId"),
    "instanceApiToken.patch": ("patch_status", "apiTokenId"),
}

# Actions that mint tokens: the body member listing the requested scopes,
# and what the upstream grants when the member is absent. Losant documents
# no default; the example upstream (like Losant) gives application tokens
# all.Application. For the others the owner's broadest umbrella is assumed
# (a user token: all.User; an instance token: all.Instance), so that a
# request naming no scopes is allowed only to a caller who could grant
# everything such a token can hold.
CREATES_TOKEN = {
    "applicationApiTokens.post": ("scope", ["all.Application"]),
    "userApiTokens.post": ("scope", ["all.User"]),
    "instanceApiTokens.post": ("scope", ["all.Instance"]),
}

# Umbrella scopes that cover the members of a family the policy does not
# list (Losant's token schema accepts application.debug, org.invoices, ...,
# which no action names). The full-access scope of each kind of owner
# covers family X when it already allows every action of X.*; X.* covers
# its own family. Restricted umbrellas (.read, .cli, all.Device) hold only
# part of a family's power and cover nothing: an unknown scope may be any
# part of it.
UMBRELLAS = ["all.Application", "all.Instance", "all.Organization", "all.User"]

EXPECTED_ACTIONS = 273
EXPECTED_PUBLIC = 9


def fail(msg):
    sys.stderr.write("gen-policy: %s\n" % msg)
    sys.exit(1)


def param_type(name):
    if name.endswith("Id") and name not in NOT_OBJECTID:
        return "objectid"
    return "string"


def convert(a, schemas_dir):
    names = re.findall(r"\{([^}]*)\}", a["path"])
    if names != a["path_params"]:
        fail("%s: path %s disagrees with path_params %s"
             % (a["action"], a["path"], a["path_params"]))
    out = {
        "action": a["action"],
        "method": a["method"],
        "path": a["path"],
    }
    if a["public"]:
        if a["scopes"]:
            fail("%s: public action lists scopes" % a["action"])
        out["public"] = True
    else:
        if not a["scopes"]:
            fail("%s: protected action without scopes" % a["action"])
        out["scopes"] = list(a["scopes"])
    if names:
        out["params"] = {n: param_type(n) for n in names}
    if a["body"] is not None:
        schema = a["body"]["schema"]
        if not os.path.isfile(os.path.join(schemas_dir, schema + ".json")):
            fail("%s: body schema %s not found in %s"
                 % (a["action"], schema, schemas_dir))
        out["body"] = {"schema": schema}
    if a["sse"]:
        out["sse"] = True
    if a["action"] in REVOKING:
        on, param = REVOKING[a["action"]]
        if param not in names:
            fail("%s: no path parameter %s" % (a["action"], param))
        out["effects"] = [{"on": on, "revoke_param": param}]
    if a["action"] in CREATES_TOKEN:
        field, defaults = CREATES_TOKEN[a["action"]]
        out["creates_token"] = {"scope_field": field,
                                "default_scopes": defaults}
    return out


def covers(actions):
    """The "covers" map: umbrella scope -> family prefixes ("X.*")."""
    allowed = {}
    for a in actions:
        for s in a["scopes"] or []:
            allowed.setdefault(s, set()).add(a["action"])
    families = sorted(s[:-2] for s in allowed if s.endswith(".*"))
    out = {}
    for u in UMBRELLAS:
        if u not in allowed:
            fail("umbrella %s is in no action's scopes" % u)
        out[u] = [f + ".*" for f in families
                  if allowed[f + ".*"] <= allowed[u]]
    for f in families:
        out[f + ".*"] = [f + ".*"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes",
                    default=os.path.join(TOP, "data/losant-api/routes.json"))
    ap.add_argument("--schemas-dir",
                    default=os.path.join(TOP, "conf/schemas"),
                    help="where the body schemas are checked for")
    ap.add_argument("--out", default=os.path.join(TOP, "conf/policy.json"))
    ap.add_argument("--writer",
                    default=os.environ.get("SCOPEGATE_POLICY",
                                           os.path.join(TOP, "build/scopegate-policy")),
                    help="the scopegate-policy program that writes the file")
    args = ap.parse_args()

    with open(args.routes, encoding="utf-8") as fp:
        data = json.load(fp)
    actions = data["actions"]
    seen = set()
    for a in actions:
        if a["action"] in seen:
            fail("duplicate action %s" % a["action"])
        seen.add(a["action"])
    for name in list(REVOKING) + list(CREATES_TOKEN):
        if name not in seen:
            fail("action %s not in the data" % name)
    if len(actions) != EXPECTED_ACTIONS:
        fail("expected %d actions, found %d" % (EXPECTED_ACTIONS, len(actions)))
    npublic = sum(1 for a in actions if a["public"])
    if npublic != EXPECTED_PUBLIC:
        fail("expected %d public actions, found %d" % (EXPECTED_PUBLIC, npublic))

    policy = {
        "comment": "Generated by tools/gen-policy.py from %s; do not edit."
                   % data.get("source", "losant-rest"),
        "schemas_dir": "schemas",
        "covers": covers(actions),
        "actions": [convert(a, args.schemas_dir)
                    for a in sorted(actions, key=lambda x: x["action"])],
    }
    # The writer orders the actions and their keys itself, checks them,
    # writes the file atomically and loads it back with the daemon's loader.
    run = subprocess.run([args.writer, "from-actions", "-", "--out", args.out],
                         input=json.dumps(policy).encode("ascii"))
    if run.returncode != 0:
        fail("%s from-actions failed" % args.writer)


if __name__ == "__main__":
    main()
