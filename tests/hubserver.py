"""A small Hub-compatible HTTP server for tests (standard library only).

It implements the endpoints the real `huggingface_hub` client calls for our upload
path (whoami, create repo, model info with file metadata, validate-yaml, preupload,
ndjson commit with `create_pr`, refs, commits, tree, LFS batch/PUT/verify, resolve),
keeps repos in memory (commits, branches, `refs/pr/N`), and can inject faults per test:

    hub.fault("POST", r"/commit/", status=503, times=2)
    hub.fault("POST", r"/commit/", status=429, headers={"Retry-After": "1"})
    hub.fault("POST", r"/commit/", drop=True, after=True)      # apply, then drop the socket
    hub.fault("POST", r"/commit/", delay=3.0, after=True)      # apply, then stall

`after=True` means the request is fully processed (a commit lands) before the fault
hits the response -- the "did my commit land?" case. Files whose preupload mode is
"lfs" must arrive through the LFS batch API (run the client with Xet disabled); the
default mode "regular" sends everything inline, so neither LFS nor Xet is involved.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

USER = "local-user"
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n"
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".msgpack", ".h5")


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Blob:
    """A file in a tree: bytes plus whether it is stored as an LFS pointer."""

    data: bytes
    lfs: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @property
    def oid(self) -> str:
        """Git blob id (of the pointer file for LFS files, as on the Hub)."""
        return git_sha1(self.pointer() if self.lfs else self.data)

    def sibling(self, path: str) -> dict[str, Any]:
        item: dict[str, Any] = {"rfilename": path, "size": len(self.data), "blobId": self.oid}
        if self.lfs:
            item["lfs"] = {"size": len(self.data), "sha256": self.sha256, "pointerSize": len(self.pointer())}
        return item


@dataclass
class Commit:
    sha: str
    parent: str | None
    title: str
    description: str
    tree: dict[str, Blob]
    date: str


@dataclass
class Repo:
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "main" / "refs/pr/N" -> sha
    prs: dict[int, dict[str, Any]] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)

    def history(self, ref: str) -> list[Commit]:
        out: list[Commit] = []
        sha: str | None = self.refs.get(ref)
        while sha is not None:
            commit = self.commits[sha]
            out.append(commit)
            sha = commit.parent
        return out


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    times: int = 1
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "injected fault"
    drop: bool = False
    delay: float | None = None
    after: bool = False
    hits: int = 0


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}


class HubState:
    """Everything the server knows; thread-safe via one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.token: str | None = None  # when set: writes need it, any other bearer gets 401
        self.mode = "regular"  # preupload answer: regular | lfs | auto
        self.base_url = ""
        self._counter = 0

    # -- test helpers -------------------------------------------------------------------
    def fault(self, method: str, path: str, *, times: int = 1, status: int | None = None,
              headers: dict[str, str] | None = None, error: str = "injected fault", drop: bool = False,
              delay: float | None = None, after: bool = False) -> Fault:
        rule = Fault(method.upper(), re.compile(path), times, status, headers or {}, error, drop, delay, after)
        with self.lock:
            self.faults.append(rule)
        return rule

    def repo(self, repo_id: str) -> Repo:
        with self.lock:
            return self.repos[repo_id]

    def commits(self, repo_id: str) -> list[Commit]:
        """Every commit of the repo (all refs), oldest first; the initial commit included."""
        with self.lock:
            return sorted(self.repos[repo_id].commits.values(), key=lambda c: c.date)

    def file(self, repo_id: str, path: str, ref: str = "main") -> bytes:
        with self.lock:
            repo = self.repos[repo_id]
            return repo.commits[repo.refs[ref]].tree[path].data

    def calls(self, method: str, pattern: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["method"] == method and re.search(pattern, r["path"])]

    # -- internals ----------------------------------------------------------------------
    def new_sha(self, *parts: str) -> str:
        with self.lock:
            self._counter += 1
            return hashlib.sha1("\0".join((*parts, str(self._counter), uuid.uuid4().hex)).encode()).hexdigest()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for rule in self.faults:
                if rule.times > 0 and rule.method == method and rule.path.search(path):
                    rule.times -= 1
                    rule.hits += 1
                    return rule
        return None

    def add_commit(self, repo: Repo, parent: str | None, title: str, description: str,
                   tree: dict[str, Blob]) -> Commit:
        commit = Commit(self.new_sha(repo.repo_id, title), parent, title, description, tree, _now())
        # Dates must order commits even within one millisecond.
        time.sleep(0.002)
        repo.commits[commit.sha] = commit
        return commit


class _Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing -----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    @property
    def state(self) -> HubState:
        return self.server.state

    def _handle(self) -> None:
        split = urlsplit(self.path)
        raw_path, query = split.path, parse_qs(split.query)
        body = self._read_body()
        auth = self.headers.get("authorization") or ""
        entry = {"method": self.command, "path": raw_path, "query": split.query, "t": time.monotonic(),
                 "authenticated": bool(auth), "status": None, "fault": None}
        with self.state.lock:
            self.state.requests.append(entry)
        rule = self.state.take_fault(self.command, raw_path)
        if rule is not None and not rule.after:
            entry["fault"] = "before"
            if self._apply_fault(rule, entry):
                return
        try:
            status, headers, payload = self._route(raw_path, query, body, auth)
        except HubError as exc:
            status, payload = exc.status, {"error": exc.message, **exc.extra}
            headers = {"X-Error-Message": exc.message}
            if exc.code:
                headers["X-Error-Code"] = exc.code
        except Exception as exc:  # noqa: BLE001 - a server bug must be a visible 500, not a hang
            status, headers, payload = 500, {}, {"error": f"test server bug: {exc!r}"}
        if rule is not None and rule.after:
            entry["fault"] = "after"
            if self._apply_fault(rule, entry):
                return
        self._send(status, headers, payload, entry)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # blank line after the last chunk
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _apply_fault(self, rule: Fault, entry: dict[str, Any]) -> bool:
        """True when the fault replaced the response entirely."""
        if rule.delay:
            self.state.stop.wait(rule.delay)
        if rule.drop:
            entry["status"] = "dropped"
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if rule.status is not None:
            self._send(rule.status, {"X-Error-Message": rule.error, **rule.headers}, {"error": rule.error}, entry)
            return True
        return False

    def _send(self, status: int, headers: dict[str, str], payload: Any, entry: dict[str, Any]) -> None:
        if isinstance(payload, bytes):
            data = payload
            headers = {"Content-Type": "application/octet-stream", **headers}
        else:
            data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **headers}
        entry["status"] = status
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("X-Request-Id", uuid.uuid4().hex[:12])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout): nothing to do

    # -- auth ---------------------------------------------------------------------------
    def _check_auth(self, auth: str, write: bool) -> None:
        expected = self.state.token
        if expected is None:
            return
        given = auth[7:] if auth.lower().startswith("bearer ") else None
        if given is not None and given != expected:
            raise HubError(401, "Invalid credentials in Authorization header")
        if write and given is None:
            raise HubError(401, "You must be authenticated to do this")

    # -- routing ------------------------------------------------------------------------
    def _route(self, raw: str, query: dict[str, list[str]], body: bytes, auth: str) -> tuple[int, dict, Any]:
        m = self.command
        if raw == "/api/agent-harnesses":
            return 200, {}, {"standardEnvVars": [], "harnesses": {}}
        if raw.startswith("/_lfs/"):
            return self._lfs_transfer(raw, query, body)
        self._check_auth(auth, write=m in ("POST", "PUT"))
        if raw == "/api/whoami-v2" and m == "GET":
            if not auth:
                raise HubError(401, "Invalid credentials in Authorization header")
            return 200, {}, {"type": "user", "name": USER, "orgs": [{"name": "org", "type": "org"}],
                             "auth": {"accessToken": {"displayName": "test", "role": "write"}}}
        if raw == "/api/repos/create" and m == "POST":
            return self._create_repo(json.loads(body or b"{}"))
        if raw == "/api/validate-yaml" and m == "POST":
            return 200, {}, {"errors": [], "warnings": []}
        mm = re.fullmatch(r"/api/models/([^/]+)/([^/]+)(?:/(.*))?", raw)
        if mm:
            repo_id, rest = f"{mm.group(1)}/{mm.group(2)}", mm.group(3) or ""
            return self._repo_api(repo_id, rest, query, body, auth)
        mm = re.fullmatch(r"/([^/]+)/([^/]+)\.git/info/lfs/objects/batch", raw)
        if mm and m == "POST":
            return self._lfs_batch(f"{mm.group(1)}/{mm.group(2)}", json.loads(body))
        mm = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", raw)
        if mm and m in ("GET", "HEAD"):
            return self._resolve(f"{mm.group(1)}/{mm.group(2)}", unquote(mm.group(3)), unquote(mm.group(4)))
        raise HubError(404, f"no route for {m} {raw}")

    def _get_repo(self, repo_id: str) -> Repo:
        repo = self.state.repos.get(repo_id)
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _resolve_rev(self, repo: Repo, rev: str) -> Commit:
        sha = repo.refs.get(rev) or repo.refs.get(rev.removeprefix("refs/heads/"))
        if sha is None and rev in repo.commits:
            sha = rev
        if sha is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return repo.commits[sha]

    def _create_repo(self, req: dict[str, Any]) -> tuple[int, dict, Any]:
        ns = req.get("organization") or USER
        repo_id = f"{ns}/{req['name']}"
        url = f"{self.state.base_url}/{repo_id}"
        with self.state.lock:
            if repo_id in self.state.repos:
                return 409, {}, {"error": "You already created this model repo", "url": url}
            repo = Repo(repo_id)
            first = self.state.add_commit(repo, None, "initial commit", "",
                                          {".gitattributes": Blob(GITATTRIBUTES)})
            repo.refs["main"] = first.sha
            self.state.repos[repo_id] = repo
        return 200, {}, {"url": url, "name": repo_id}

    def _repo_api(self, repo_id: str, rest: str, query: dict, body: bytes, auth: str) -> tuple[int, dict, Any]:
        m = self.command
        with self.state.lock:
            repo = self._get_repo(repo_id)
            if m == "GET" and (rest == "" or rest.startswith("revision/")):
                rev = unquote(rest[len("revision/"):]) if rest else "main"
                commit = self._resolve_rev(repo, rev)
                blobs = query.get("blobs", ["false"])[0].lower() in ("1", "true")
                siblings = [b.sibling(p) if blobs else {"rfilename": p} for p, b in sorted(commit.tree.items())]
                return 200, {}, {"id": repo_id, "modelId": repo_id, "sha": commit.sha, "private": False,
                                 "disabled": False, "gated": False, "tags": [], "siblings": siblings,
                                 "lastModified": commit.date, "createdAt": repo.created_at}
            if m == "GET" and rest == "refs":
                branches = [{"name": r, "ref": f"refs/heads/{r}", "targetCommit": s}
                            for r, s in repo.refs.items() if not r.startswith("refs/")]
                prs = [{"name": r, "ref": r, "targetCommit": s} for r, s in repo.refs.items()
                       if r.startswith("refs/pr/")]
                data: dict[str, Any] = {"branches": branches, "tags": [], "converts": []}
                if query.get("include_prs"):
                    data["pullRequests"] = prs
                return 200, {}, data
            if m == "GET" and rest.startswith("commits/"):
                commits = repo.history(unquote(rest[len("commits/"):]))
                return 200, {}, [{"id": c.sha, "title": c.title, "message": c.description, "date": c.date,
                                  "authors": [{"user": USER}]} for c in commits]
            if m == "GET" and rest.startswith("tree/"):
                parts = rest[len("tree/"):].split("/", 1)
                commit = self._resolve_rev(repo, unquote(parts[0]))
                prefix = unquote(parts[1]).rstrip("/") + "/" if len(parts) > 1 and parts[1] else ""
                out = []
                for p, b in sorted(commit.tree.items()):
                    if p.startswith(prefix):
                        item = {"type": "file", "oid": b.oid, "size": len(b.data), "path": p}
                        if b.lfs:
                            item["lfs"] = {"oid": b.sha256, "size": len(b.data), "pointerSize": len(b.pointer())}
                        out.append(item)
                return 200, {}, out
        if m == "POST" and rest.startswith("preupload/"):
            return self._preupload(repo, unquote(rest[len("preupload/"):]), json.loads(body))
        if m == "POST" and rest.startswith("commit/"):
            create_pr = query.get("create_pr", ["0"])[0] in ("1", "true")
            return self._commit(repo, unquote(rest[len("commit/"):]), body, create_pr)
        raise HubError(404, f"no route for {m} /api/models/{repo_id}/{rest}")

    def _mode_for(self, path: str, size: int) -> str:
        mode = self.state.mode
        if size == 0 or mode == "regular":
            return "regular"
        if mode == "lfs":
            return "lfs"
        return "lfs" if path.endswith(LFS_SUFFIXES) or size >= 10 * 1024 * 1024 else "regular"

    def _preupload(self, repo: Repo, rev: str, req: dict[str, Any]) -> tuple[int, dict, Any]:
        with self.state.lock:
            commit = self._resolve_rev(repo, rev)
            files = []
            for f in req["files"]:
                mode = self._mode_for(f["path"], f["size"])
                blob = commit.tree.get(f["path"])
                oid = None
                if blob is not None:
                    oid = blob.sha256 if mode == "lfs" else git_sha1(blob.data)
                files.append({"path": f["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return 200, {}, {"files": files}

    def _commit(self, repo: Repo, rev: str, body: bytes, create_pr: bool) -> tuple[int, dict, Any]:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next((x["value"] for x in lines if x["key"] == "header"), {})
        with self.state.lock:
            head = self._resolve_rev(repo, rev)
            parent_sha = header.get("parentCommit")
            if parent_sha and create_pr:
                if parent_sha not in repo.commits:
                    raise HubError(404, f"Invalid parent commit {parent_sha}", "RevisionNotFound")
                base = repo.commits[parent_sha]
            else:
                if parent_sha and parent_sha != head.sha:
                    raise HubError(412, "A commit has happened since. Please refresh and try again.")
                base = head
            tree = dict(base.tree)
            for item in lines:
                key, value = item["key"], item["value"]
                if key == "file":
                    tree[value["path"]] = Blob(base64.b64decode(value["content"]))
                elif key == "lfsFile":
                    data = self.state.lfs_objects.get(value["oid"])
                    if data is None:
                        raise HubError(422, f"LFS object {value['oid']} was not uploaded")
                    tree[value["path"]] = Blob(data, lfs=True)
                elif key == "deletedFile":
                    if value["path"] not in tree:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                    del tree[value["path"]]
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    tree = {p: b for p, b in tree.items() if not p.startswith(prefix)}
            commit = self.state.add_commit(repo, base.sha, header.get("summary", ""), header.get("description", ""),
                                           tree)
            result: dict[str, Any] = {"success": True, "commitOid": commit.sha,
                                      "commitUrl": f"{self.state.base_url}/{repo.repo_id}/commit/{commit.sha}",
                                      "hookOutput": ""}
            if create_pr:
                num = max(repo.prs, default=0) + 1
                repo.prs[num] = {"title": header.get("summary", ""), "status": "open", "base": rev}
                repo.refs[f"refs/pr/{num}"] = commit.sha
                result["pullRequestUrl"] = f"{self.state.base_url}/{repo.repo_id}/discussions/{num}"
            else:
                ref = rev if rev in repo.refs else rev.removeprefix("refs/heads/")
                repo.refs[ref] = commit.sha
        return 200, {}, result

    def _lfs_batch(self, repo_id: str, req: dict[str, Any]) -> tuple[int, dict, Any]:
        with self.state.lock:
            self._get_repo(repo_id)
        objects = []
        for obj in req["objects"]:
            item: dict[str, Any] = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.state.lfs_objects:
                # The PUT carries no auth header: the href authorizes itself.
                sig = hashlib.sha256(f"{obj['oid']}:{self.state.token}".encode()).hexdigest()[:16]
                base = f"{self.state.base_url}/_lfs/{obj['oid']}"
                item["actions"] = {"upload": {"href": f"{base}?sig={sig}", "header": {}},
                                   "verify": {"href": f"{base}/verify", "header": {}}}
            objects.append(item)
        return 200, {}, {"transfer": "basic", "objects": objects}

    def _lfs_transfer(self, raw: str, query: dict, body: bytes) -> tuple[int, dict, Any]:
        mm = re.fullmatch(r"/_lfs/([0-9a-f]{64})(/verify)?", raw)
        if not mm:
            raise HubError(404, "no such LFS route")
        oid = mm.group(1)
        if mm.group(2):
            with self.state.lock:
                if oid not in self.state.lfs_objects:
                    raise HubError(404, "object missing")
            return 200, {}, {}
        sig = hashlib.sha256(f"{oid}:{self.state.token}".encode()).hexdigest()[:16]
        if query.get("sig", [""])[0] != sig:
            raise HubError(403, "bad signature")
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, "sha256 mismatch")
        with self.state.lock:
            self.state.lfs_objects[oid] = body
        return 200, {}, b""

    def _resolve(self, repo_id: str, rev: str, path: str) -> tuple[int, dict, Any]:
        with self.state.lock:
            repo = self._get_repo(repo_id)
            commit = self._resolve_rev(repo, rev)
            blob = commit.tree.get(path)
            if blob is None:
                raise HubError(404, "Entry not found", "EntryNotFound")
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{blob.sha256 if blob.lfs else blob.oid}"'}
        if blob.lfs:
            headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data))})
        return 200, headers, blob.data


class HubServer(ThreadingHTTPServer):
    """`with HubServer() as hub: hub.url ...` -- serves on 127.0.0.1, ephemeral port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = HubState()
        self.state.base_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stop.set()  # wake stalled handlers
        self.shutdown()
        self.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Shortcuts to the state for tests.
    def fault(self, *args: Any, **kwargs: Any) -> Fault:
        return self.state.fault(*args, **kwargs)


if __name__ == "__main__":  # manual use: python tests/hubserver.py
    with HubServer() as hub:
        print(hub.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
