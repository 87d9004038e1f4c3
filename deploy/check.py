#!/usr/bin/env python3
"""Offline consistency checks of the files under deploy/ (run by deploy/check.sh).

  check.py unit    <unit file>
  check.py compose <compose-spec.json> <compose.yaml>
  check.py k8s     <manifest dir>
  check.py k8s-schemas <kubernetes_validate wheel> <k8s version> <out dir>

`compose` validates the Compose file against the Compose Specification's JSON
schema; every subcommand also checks what a schema cannot see: references
between the pieces (services, volumes, secrets, labels and selectors, ports,
files that a build copies). Each prints one line per check group and exits 1
on the first group that has errors (after printing all of that group's errors).
"""
import fnmatch
import json
import os
import re
import sys

import yaml


class Problems:
    def __init__(self, what):
        self.what = what
        self.errors = []
        self.checked = 0

    def check(self, ok, message):
        self.checked += 1
        if not ok and message not in self.errors:
            self.errors.append(message)

    def done(self, detail=""):
        if self.errors:
            for e in self.errors:
                print(f"  FAIL {self.what}: {e}", file=sys.stderr, flush=True)
            sys.exit(1)
        print(f"  ok   {self.what}: {self.checked} checks{detail}", flush=True)


# --- systemd unit --------------------------------------------------------------------------

def parse_unit(path):
    entries, section = [], None
    for raw in open(path, encoding="utf-8"):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def check_unit(path):
    entries = parse_unit(path)
    p = Problems(f"unit settings ({os.path.basename(path)})")

    def values(section, key):
        return [v for s, k, v in entries if s == section and k == key]

    def one(section, key):
        v = values(section, key)
        return v[-1] if v else None

    exec_start = one("Service", "ExecStart") or ""
    for flag in ("--headless", "--port %i", "--no-auto-update", "--host ${COPILOT_BIND_HOST}"):
        p.check(flag in exec_start, f"ExecStart lacks {flag!r}")
    p.check(exec_start.startswith("/usr/local/bin/copilot "), "ExecStart is not /usr/local/bin/copilot")
    envs = values("Service", "Environment")
    p.check("COPILOT_HOME=/var/lib/copilot" in envs, "COPILOT_HOME is not /var/lib/copilot")
    p.check("COPILOT_BIND_HOST=127.0.0.1" in envs, "the default bind address is not loopback")
    p.check(one("Service", "EnvironmentFile") == "/etc/copilot/cli.env", "EnvironmentFile is not /etc/copilot/cli.env")
    p.check(one("Service", "Restart") == "always", "Restart is not always")
    p.check(one("Service", "RestartSec") is not None, "RestartSec missing")
    p.check(one("Service", "User") not in (None, "root", "0"), "no dedicated User")
    p.check("/var/lib/copilot" in (one("Service", "ReadWritePaths") or "").split(),
            "ReadWritePaths lacks the state directory")
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
        "LockPersonality": "yes", "RestrictRealtime": "yes", "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }
    for key, want in expected.items():
        got = one("Service", key)
        p.check(got == want, f"{key}={got!r}, expected {want!r}")
    p.check(not values("Service", "MemoryDenyWriteExecute"),
            "MemoryDenyWriteExecute must stay unset (the embedded JS runtime's JIT needs W+X memory)")
    p.check(values("Install", "WantedBy") == ["multi-user.target"], "WantedBy is not multi-user.target")
    p.done()


# --- Compose -------------------------------------------------------------------------------

def dockerignore_allows(patterns, rel):
    """Docker's rule: the last pattern that matches decides; '!' re-includes."""
    allowed = True
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.strip("/")
        if fnmatch.fnmatchcase(rel, pat) or rel.startswith(pat + "/"):
            allowed = neg
    return allowed


def read_dockerignore(context, dockerfile):
    for candidate in (dockerfile + ".dockerignore", os.path.join(context, ".dockerignore")):
        if os.path.isfile(candidate):
            lines = [l.strip() for l in open(candidate, encoding="utf-8")]
            return candidate, [l for l in lines if l and not l.startswith("#")]
    return None, []


def check_dockerfile(p, context, dockerfile):
    p.check(os.path.isfile(dockerfile), f"{dockerfile} missing")
    if not os.path.isfile(dockerfile):
        return
    ignore_file, patterns = read_dockerignore(context, dockerfile)
    text = open(dockerfile, encoding="utf-8").read().replace("\\\n", " ")
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    p.check(lines and lines[0].split()[0].upper() == "FROM", f"{dockerfile}: first instruction is not FROM")
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
             "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    for l in lines:
        word = l.split()[0].upper()
        p.check(word in known, f"{dockerfile}: unknown instruction {word}")
        if word in ("CMD", "ENTRYPOINT") and l.split(None, 1)[1].startswith("["):
            try:
                json.loads(l.split(None, 1)[1])
            except ValueError:
                p.check(False, f"{dockerfile}: {word} is not a valid JSON array")
        if word != "COPY":
            continue
        args = [a for a in l.split()[1:] if not a.startswith("--")]
        if any(a.startswith("--from") for a in l.split()[1:]):
            continue
        for src in args[:-1]:
            path = os.path.join(context, src)
            p.check(os.path.exists(path), f"{dockerfile}: COPY source {src} does not exist in context {context}")
            p.check(dockerignore_allows(patterns, os.path.normpath(src)),
                    f"{dockerfile}: COPY source {src} is excluded by {ignore_file}")


def check_compose(schema_path, compose_path):
    import jsonschema

    schema = json.load(open(schema_path, encoding="utf-8"))
    doc = yaml.safe_load(open(compose_path, encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    for e in errors:
        where = ".".join(map(str, e.absolute_path)) or "<root>"
        print(f"  FAIL Compose schema: {where}: {e.message}", file=sys.stderr, flush=True)
    if errors:
        sys.exit(1)
    services = doc.get("services", {})
    print(f"  ok   Compose schema: valid ({cls.__name__}, {schema.get('title')}); "
          f"{len(services)} services: {', '.join(services)}", flush=True)

    base = os.path.dirname(os.path.abspath(compose_path))
    p = Problems("Compose references")
    top_volumes = doc.get("volumes", {}) or {}
    top_secrets = doc.get("secrets", {}) or {}
    for name, svc in services.items():
        for dep in (svc.get("depends_on") or {}):
            p.check(dep in services, f"{name}: depends_on unknown service {dep}")
        for sec in svc.get("secrets", []):
            sec = sec if isinstance(sec, str) else sec["source"]
            p.check(sec in top_secrets, f"{name}: unknown secret {sec}")
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith((".", "/")):
                p.check(os.path.exists(os.path.join(base, src)), f"{name}: bind source {src} missing")
            else:
                p.check(src in top_volumes, f"{name}: unknown volume {src}")
        p.check("healthcheck" in svc, f"{name}: no healthcheck")
        build = svc.get("build")
        if build:
            context = os.path.normpath(os.path.join(base, build["context"]))
            p.check(os.path.isdir(context), f"{name}: build context {context} missing")
            check_dockerfile(p, context, os.path.join(context, build.get("dockerfile", "Dockerfile")))
        env = svc.get("environment") or {}
        for url in filter(None, str(env.get("COPILOT_POOL_URLS", "")).split(",")):
            host, _, port = url.partition(":")
            p.check(host in services, f"{name}: pool URL {url} names no service")
            if host in services:
                p.check(port in [str(x) for x in services[host].get("expose", [])],
                        f"{name}: pool URL {url}: {host} does not expose {port}")
        redis = env.get("REDIS_URL")
        if redis:
            m = re.match(r"redis://([^:/]+)(?::(\d+))?", str(redis))
            p.check(bool(m) and m.group(1) in services, f"{name}: REDIS_URL {redis} names no service")
    for sec, spec in top_secrets.items():
        p.check(bool(spec.get("environment") or spec.get("file") or spec.get("external")),
                f"secret {sec} has no source")
    pool = [n for n in services if n.startswith("cli-")]
    shared = {n: [v.split(":")[0] for v in services[n].get("volumes", []) if isinstance(v, str)] for n in pool}
    common = set.intersection(*(set(v) for v in shared.values())) if shared else set()
    p.check(len(pool) >= 2 and any(v in top_volumes for v in common),
            "the CLI servers do not share one named state volume")
    p.done(f" (CLI servers {', '.join(pool)} share volume {', '.join(sorted(common))})")


# --- Kubernetes ----------------------------------------------------------------------------

def load_manifests(root):
    docs = []
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                for d in yaml.safe_load_all(open(os.path.join(dirpath, f), encoding="utf-8")):
                    if d:
                        docs.append(d)
    return docs


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_k8s(root):
    docs = load_manifests(root)
    p = Problems("Kubernetes references")
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    namespaces = {d["metadata"]["name"] for d in by_kind.get("Namespace", [])}
    workloads = by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
    pods = [(w, w["spec"]["template"]) for w in workloads]
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    pvcs = {c["metadata"]["name"]: c for c in by_kind.get("PersistentVolumeClaim", [])}

    for d in docs:
        if d["kind"] != "Namespace":
            p.check(d["metadata"].get("namespace") in namespaces,
                    f"{d['kind']}/{d['metadata']['name']}: namespace not defined here")

    def container_ports(template):
        return {port.get("name"): port["containerPort"]
                for c in template["spec"]["containers"] for port in c.get("ports", [])}

    for w, t in pods:
        wname = f"{w['kind']}/{w['metadata']['name']}"
        p.check(matches(w["spec"]["selector"]["matchLabels"], t["metadata"]["labels"]),
                f"{wname}: selector does not match its pod labels")
        ports = container_ports(t)
        for c in t["spec"]["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                p.check(probe in c, f"{wname}: container {c['name']} has no {probe}")
                port = (c.get(probe, {}).get("tcpSocket") or {}).get("port")
                if isinstance(port, str):
                    p.check(port in ports, f"{wname}: {probe} names unknown port {port}")
            for env in c.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    sec = secrets.get(ref["name"])
                    p.check(sec is not None, f"{wname}: unknown Secret {ref['name']}")
                    if sec:
                        keys = set((sec.get("stringData") or {}) | (sec.get("data") or {}))
                        p.check(ref["key"] in keys, f"{wname}: Secret {ref['name']} has no key {ref['key']}")
        for v in t["spec"].get("volumes", []):
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                p.check(claim in pvcs, f"{wname}: unknown PVC {claim}")
                if claim in pvcs:
                    shared = w["kind"] == "Deployment" and w["spec"].get("replicas", 1) == 1
                    p.check(shared or "ReadWriteMany" in pvcs[claim]["spec"]["accessModes"],
                            f"{wname}: PVC {claim} is mounted by several pods but is not ReadWriteMany")

    for name, s in services.items():
        sel = s["spec"].get("selector") or {}
        targets = [t for _, t in pods if matches(sel, t["metadata"]["labels"])]
        p.check(bool(targets), f"Service/{name}: selector matches no pod template")
        for port in s["spec"]["ports"]:
            tp = port.get("targetPort", port["port"])
            for t in targets:
                ports = container_ports(t)
                p.check(tp in ports if isinstance(tp, str) else tp in ports.values(),
                        f"Service/{name}: targetPort {tp} is not a container port")

    sts_list = by_kind.get("StatefulSet", [])
    for sts in sts_list:
        svc = services.get(sts["spec"]["serviceName"])
        p.check(svc is not None and svc["spec"].get("clusterIP") == "None",
                f"StatefulSet/{sts['metadata']['name']}: serviceName is not a headless Service")
    pool_checked = 0
    for w, t in pods:
        for c in t["spec"]["containers"]:
            for env in c.get("env", []):
                if env["name"] != "COPILOT_POOL_URLS":
                    continue
                urls = env["value"].split(",")
                want = []
                for sts in sts_list:
                    port = next(iter(services[sts["spec"]["serviceName"]]["spec"]["ports"]))["port"]
                    want += [f"{sts['metadata']['name']}-{i}.{sts['spec']['serviceName']}:{port}"
                             for i in range(sts["spec"]["replicas"])]
                p.check(urls == want, f"{w['metadata']['name']}: COPILOT_POOL_URLS {urls} != pods {want}")
                pool_checked += 1
            redis = next((e["value"] for e in c.get("env", []) if e["name"] == "REDIS_URL"), None)
            if redis:
                host = re.match(r"redis://([^:/]+)", redis).group(1)
                p.check(host in services, f"{w['metadata']['name']}: REDIS_URL names no Service")
    p.check(pool_checked > 0, "no workload sets COPILOT_POOL_URLS")

    for np in by_kind.get("NetworkPolicy", []):
        p.check(any(matches(np["spec"]["podSelector"]["matchLabels"], t["metadata"]["labels"]) for _, t in pods),
                f"NetworkPolicy/{np['metadata']['name']}: podSelector matches no pod")
        for rule in np["spec"].get("ingress", []):
            for frm in rule.get("from", []):
                sel = (frm.get("podSelector") or {}).get("matchLabels")
                p.check(any(matches(sel, t["metadata"]["labels"]) for _, t in pods),
                        f"NetworkPolicy/{np['metadata']['name']}: from-selector matches no pod")
    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                p.check(svc is not None, f"Ingress/{ing['metadata']['name']}: unknown Service {backend['name']}")
                if svc:
                    names = [x.get("name") for x in svc["spec"]["ports"]]
                    numbers = [x["port"] for x in svc["spec"]["ports"]]
                    want = backend["port"]
                    p.check(want.get("name") in names or want.get("number") in numbers,
                            f"Ingress/{ing['metadata']['name']}: Service {backend['name']} has no port {want}")
    p.done(f", {len(docs)} objects")


# --- Kubernetes JSON schemas for kubeconform, from the kubernetes-validate wheel ------------

def k8s_schemas(wheel, version, out):
    """Extracts the schemas of one Kubernetes version from the wheel of the PyPI package
    kubernetes-validate (kubernetes_validate/kubernetes-json-schema/v<ver>-local[-strict]/) and
    makes them loadable from files: those schemas carry an https://kubernetes.io/... "$id" and
    point at the shared definitions with "$ref": "/api/_definitions.json#...", which would
    resolve to a URL on the network. Without "$id" the base is the file itself, and the
    rewritten "_definitions.json#..." names the sibling file. Nothing else is changed."""
    import zipfile

    n = 0
    with zipfile.ZipFile(wheel) as z:
        for variant in ("local", "local-strict"):
            prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-{variant}/"
            dest = os.path.join(out, f"v{version}-{variant}")
            os.makedirs(dest, exist_ok=True)
            for name in z.namelist():
                if not name.startswith(prefix) or not name.endswith(".json"):
                    continue
                schema = json.loads(z.read(name))
                schema.pop("$id", None)
                text = json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#')
                with open(os.path.join(dest, name[len(prefix):]), "w", encoding="utf-8") as f:
                    f.write(text)
                n += 1
    if n == 0:
        sys.exit(f"no schemas for Kubernetes {version} in {wheel}")
    print(f"  ok   Kubernetes {version} schemas: {n} files prepared from {os.path.basename(wheel)}", flush=True)


def main(argv):
    if len(argv) >= 2 and argv[0] == "unit":
        check_unit(argv[1])
    elif len(argv) >= 3 and argv[0] == "compose":
        check_compose(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "k8s-schemas":
        k8s_schemas(argv[1], argv[2], argv[3])
    elif len(argv) >= 2 and argv[0] == "k8s":
        check_k8s(argv[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
