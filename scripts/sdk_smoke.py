#!/usr/bin/env python3
"""SDK smoke test: gproxy's answers as the official SDKs parse them.

Runs every client SDK (openai Chat + Responses, anthropic, google-genai)
against every upstream protocol (custom providers up-chat, up-resp,
up-claude, up-gemini; the same-protocol one included), streamed and not:

- "mock" rounds: the testkit mock (`gproxy-bench mock`) answers text;
- "text" / "tools" / "thinking" rounds: a replay server in this script
  answers with the golden transcripts
  crates/gproxy-protocol/tests/fixtures/convert/<protocol>/response_<case>.json
  and stream_<case>.sse (the case is taken from the model name
  `replay-<case>`).

plus rounds on the replay server: "error" (an upstream 400 must surface as
the SDK's own 400 error with the upstream's message), "midstream" (an
upstream error event after the first text), "loop" (a two-turn tool loop
built from the SDK's parsed answer: both results must reach the upstream
with their call ids), "thinkloop" (a thinking answer handed back: the
signature must come back untouched with the whole thinking), "image" (an
SDK-built inline image must reach the upstream), and "count" (token
counting through the SDKs, against the mock).

Each round checks that the SDK parses without exceptions (also through its
stream helpers), that the raw JSON / each raw stream event validates
strictly against the SDK's own pydantic types, and that text, reasoning,
tool calls (name + JSON arguments), finish reason and usage are as the
upstream said.

Run (never touches a real provider):
    cargo build -p gproxy -p gproxy-bench
    python3 -m venv /tmp/sdkvenv
    /tmp/sdkvenv/bin/pip install openai anthropic google-genai
    /tmp/sdkvenv/bin/python scripts/sdk_smoke.py [-v] [-k FILTER]
Binaries are taken from $CARGO_TARGET_DIR/debug (default ./target/debug).
Exit status 1 when any round fails. Same-protocol rounds are forwarded as
the upstream's bytes, so a strict-schema gap there is a "warn" (the
upstream's answer), not a failure.
"""

import argparse
import http.server
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates/gproxy-protocol/tests/fixtures/convert"
USER_KEY = "sk-smoke-user-0123456789"
PROVIDERS = {
    "up-chat": "openai_chat",
    "up-resp": "openai_responses",
    "up-claude": "claude",
    "up-gemini": "gemini",
}
CLIENTS = ["openai_chat", "openai_responses", "claude", "gemini"]
CLIENT_PROTOCOL = {c: c for c in CLIENTS}

# ---------------------------------------------------------------- replay


def replay_case(path, body):
    if path.startswith("/v1beta/") or path.startswith("/v1/models/"):
        m = re.search(r"models/([^:/]+):(\w+)", path)
        model, method = (m.group(1), m.group(2)) if m else ("", "")
        return "gemini", model, method == "streamGenerateContent"
    proto = {
        "/v1/chat/completions": "openai_chat",
        "/v1/responses": "openai_responses",
        "/v1/messages": "claude",
    }.get(path.split("?")[0])
    return proto, body.get("model", ""), bool(body.get("stream"))


# The fixtures' "sig-abc" is served as a signature shaped like the
# upstream's real ones: Anthropic signatures are standard base64 (with `+`
# and `/`), OpenAI's encrypted_content is a Fernet token (URL-safe base64),
# Gemini's thoughtSignature is base64 bytes. google-genai decodes and
# re-encodes signatures (as URL-safe base64), so the alphabet matters.
SIGNATURES = {
    "claude": "EqQBCkYIBxgCKkD++//" + "A" * 20 + "=",
    "openai_responses": "gAAAAABo--__" + "A" * 20,
    "gemini": "CiIBVKhc7+/" + "A" * 16 + "=",
    "openai_chat": "sig-abc",
}
SIG_STEM = {k: v[:12] for k, v in SIGNATURES.items()}

OVERLOADED = "Overloaded (smoke test)"
# Each upstream protocol's mid-stream error event.
MIDSTREAM_ERRORS = {
    "openai_chat": 'data: {"error":{"message":"%s","type":"server_error","param":null,"code":null}}' % OVERLOADED,
    "openai_responses": 'event: error\ndata: {"type":"error","code":"server_error","message":"%s",'
                        '"param":null,"sequence_number":4}' % OVERLOADED,
    "claude": 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"%s"}}' % OVERLOADED,
    "gemini": 'data: {"error":{"code":503,"message":"%s","status":"UNAVAILABLE"}}' % OVERLOADED,
}

# Request bodies the replay server received, in order.
REQUESTS = []
ERROR_MESSAGE = "Invalid value for 'temperature': smoke test error"
# Each upstream protocol's real 400 shape.
ERROR_BODIES = {
    "openai_chat": {"error": {"message": ERROR_MESSAGE, "type": "invalid_request_error",
                              "param": "temperature", "code": None}},
    "openai_responses": {"error": {"message": ERROR_MESSAGE, "type": "invalid_request_error",
                                   "param": "temperature", "code": None}},
    "claude": {"type": "error", "error": {"type": "invalid_request_error", "message": ERROR_MESSAGE},
               "request_id": "req_smoke"},
    "gemini": {"error": {"code": 400, "message": ERROR_MESSAGE, "status": "INVALID_ARGUMENT"}},
}


class Replay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        proto, model, stream = replay_case(self.path, body)
        case = model.removeprefix("replay-")
        REQUESTS.append((proto, raw.decode("utf-8", "replace")))
        if case == "error":
            data = json.dumps(ERROR_BODIES.get(proto, {})).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        kind = "stream" if stream else "response"
        ext = "sse" if stream else "json"
        f = FIXTURES / str(proto) / f"{kind}_{case}.{ext}"
        if case == "midstream":
            f = FIXTURES / str(proto) / "stream_text.sse"
        if proto is None or not f.exists():
            data = json.dumps({"error": {"message": f"no fixture {f}"}}).encode()
            self.send_response(404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        text = f.read_text().replace("sig-abc", SIGNATURES[proto])
        if not stream:
            data = text.encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        events = [e for e in re.split(r"\r?\n\r?\n", text) if e.strip()]
        if case == "midstream":
            # The text stream up to its first text, then the upstream's
            # mid-stream error event.
            first = next(i for i, e in enumerate(events) if "Bon" in e)
            events = events[:first + 1] + [MIDSTREAM_ERRORS[proto]]
        for event in events:
            if event.strip():
                self.wfile.write((event.strip("\r\n") + "\n\n").encode())
                self.wfile.flush()
        self.close_connection = True


def start_replay():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


# ---------------------------------------------------------------- processes


def bin_dir():
    target = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    return pathlib.Path(target) / "debug"


def wait_banner(proc, what):
    for line in proc.stdout:
        if "listening on " in line:
            return line.split("listening on ", 1)[1].strip()
    raise RuntimeError(f"{what} exited without a banner")


def start_gateway(upstream, tmp, name):
    cfg = [f'[[users]]\nname = "smoke"\nkeys = ["{USER_KEY}"]\n']
    for prov, proto in PROVIDERS.items():
        base = f"{upstream}/v1" if proto.startswith("openai") else upstream
        cfg.append(
            f'[[providers]]\nname = "{prov}"\nkind = "custom"\nprotocol = "{proto}"\n'
            f'base_url = "{base}"\n[[providers.credentials]]\napi_key = "sk-{prov}"\n'
        )
    d = pathlib.Path(tmp) / name
    d.mkdir()
    (d / "gproxy.toml").write_text("\n".join(cfg))
    env = dict(os.environ, GPROXY_LOG="warn")
    for k in ("GPROXY_ADMIN_KEY", "GPROXY_DSN", "GPROXY_PROXY"):
        env.pop(k, None)
    proc = subprocess.Popen(
        [str(bin_dir() / "gproxy"), "--port", "0", "--data-dir", str(d / "data"),
         "--config", str(d / "gproxy.toml")],
        stdout=subprocess.PIPE, stderr=open(d / "stderr.log", "w"), text=True, env=env,
    )
    return proc, wait_banner(proc, "gproxy")


# ---------------------------------------------------------------- expectations

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TOOL_CALLS = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})]

# Canonical usage (input incl. cache, output incl. reasoning, reasoning).
MOCK_USAGE = {
    "openai_chat": (11, 7, 5),
    "openai_responses": (11, 7, 5),
    "claude": (16, 7, 0),  # 11 + cache read 3 + cache write 2
    "gemini": (11, 12, 5),  # candidates 7 + thoughts 5
}


def expected(case, upstream):
    if case == "mock":
        return dict(text="Hello from mock test-model", reasoning="", calls=[],
                    finish="stop", usage=MOCK_USAGE[upstream])
    if case == "text":
        return dict(text="Bonjour !", reasoning="", calls=[], finish="stop",
                    usage=(21, 4, 0))
    if case == "tools":
        return dict(text="", reasoning="", calls=TOOL_CALLS, finish="tool_calls",
                    usage=(80, 30, 0))
    return dict(text="1161.", reasoning="27*43 = 1161", calls=[], finish="stop",
                usage=(15, 40, 0 if upstream == "claude" else 25))


# Finish reasons each client protocol names.
FINISH = {
    "openai_chat": {"stop": "stop", "tool_calls": "tool_calls"},
    "openai_responses": {"stop": "completed", "tool_calls": "completed"},
    "claude": {"stop": "end_turn", "tool_calls": "tool_use"},
    "gemini": {"stop": "STOP", "tool_calls": "STOP"},
}


def check_error(client, run):
    """The upstream's 400 must surface as the SDK's own 400 error with the
    upstream's message."""
    try:
        run()
    except Exception as e:  # noqa: BLE001 - classified below
        status = getattr(e, "status_code", None) or getattr(e, "code", None)
        cls = type(e).__name__
        want = "ClientError" if client == "gemini" else "BadRequestError"
        errs = []
        if cls != want:
            errs.append(f"raised {cls} ({str(e)[:200]}), want {want}")
        if status != 400:
            errs.append(f"status {status!r} != 400")
        if ERROR_MESSAGE not in str(e):
            errs.append(f"message not passed on: {str(e)[:300]}")
        return errs
    return ["no exception for an upstream 400"]


def compare(client, got, exp):
    errs = []
    if got["text"] != exp["text"]:
        errs.append(f"text {got['text']!r} != {exp['text']!r}")
    if got["calls"] != exp["calls"]:
        errs.append(f"tool calls {got['calls']!r} != {exp['calls']!r}")
    want_finish = FINISH[client][exp["finish"]]
    if got["finish"] != want_finish:
        errs.append(f"finish {got['finish']!r} != {want_finish!r}")
    gu, eu = got["usage"], exp["usage"]
    if gu is None:
        errs.append("no usage")
    else:
        if gu[:2] != eu[:2]:
            errs.append(f"usage in/out {gu[:2]} != {eu[:2]}")
        # Anthropic has no reasoning-token count.
        if client != "claude" and (gu[2] or 0) != eu[2]:
            errs.append(f"reasoning tokens {gu[2]} != {eu[2]}")
    if exp["reasoning"] and got["reasoning"] != exp["reasoning"]:
        errs.append(f"reasoning {got['reasoning']!r} != {exp['reasoning']!r}")
    if not exp["reasoning"] and got["reasoning"]:
        errs.append(f"unexpected reasoning {got['reasoning']!r}")
    return errs


STRICT = []


def strict(cls, data):
    """Validates `data` against the SDK's own pydantic type (the SDKs
    themselves build objects without validation); failures are recorded
    for the round rather than raised, so the content checks still run."""
    try:
        cls.model_validate(data)
    except Exception as e:  # noqa: BLE001
        STRICT.append(f"strict {cls.__name__}: {str(e)[:400]}")


def args_of(s):
    return json.loads(s) if isinstance(s, str) else s


# ---------------------------------------------------------------- OpenAI Chat


def chat_norm(c):
    ch = c.choices[0]
    m = ch.message
    u = c.usage
    extra = m.model_extra or {}
    return dict(
        text=m.content or "",
        reasoning=extra.get("reasoning_content") or extra.get("reasoning") or "",
        calls=[(t.function.name, args_of(t.function.arguments)) for t in (m.tool_calls or [])],
        finish=ch.finish_reason,
        usage=None if u is None else (
            u.prompt_tokens, u.completion_tokens,
            (u.completion_tokens_details.reasoning_tokens or 0) if u.completion_tokens_details else 0),
    )


def chat_kwargs(case):
    kw = dict(model=f"replay-{case}" if case != "mock" else "test-model",
              messages=[{"role": "user", "content": "Say hello"}])
    if case == "tools":
        kw["tools"] = [{"type": "function", "function": WEATHER_TOOL}]
    if case == "thinking":
        kw["reasoning_effort"] = "low"
    return kw


def run_chat(base, prov, case, stream):
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
    kw = chat_kwargs(case)
    if not stream:
        raw = cl.chat.completions.with_raw_response.create(**kw)
        strict(ChatCompletion, raw.http_response.json())
        return [chat_norm(raw.parse())]
    out = []
    # Raw chunks, each validated strictly against the SDK's type.
    acc = dict(text="", reasoning="", calls={}, finish=None, usage=None)
    for chunk in cl.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw):
        strict(ChatCompletionChunk, chunk.model_dump(exclude_unset=True))
        if chunk.usage:
            u = chunk.usage
            acc["usage"] = (u.prompt_tokens, u.completion_tokens,
                            (u.completion_tokens_details.reasoning_tokens or 0) if u.completion_tokens_details else 0)
        for ch in chunk.choices:
            d = ch.delta
            acc["text"] += d.content or ""
            ex = d.model_extra or {}
            acc["reasoning"] += ex.get("reasoning_content") or ex.get("reasoning") or ""
            for t in d.tool_calls or []:
                slot = acc["calls"].setdefault(t.index, ["", ""])
                if t.function and t.function.name:
                    slot[0] += t.function.name
                if t.function and t.function.arguments:
                    slot[1] += t.function.arguments
            if ch.finish_reason:
                acc["finish"] = ch.finish_reason
    acc["calls"] = [(n, args_of(a)) for _, (n, a) in sorted(acc["calls"].items())]
    out.append(acc)
    # Without stream_options (the SDK default): no usage chunk, same text.
    plain_text, ids = "", set()
    for chunk in cl.chat.completions.create(stream=True, **kw):
        strict(ChatCompletionChunk, chunk.model_dump(exclude_unset=True))
        ids.add(chunk.id)
        if chunk.usage is not None or not chunk.choices:
            raise AssertionError(f"usage chunk without include_usage: {chunk}")
        plain_text += "".join(ch.delta.content or "" for ch in chunk.choices)
    if plain_text != acc["text"] or len(ids) != 1:
        raise AssertionError(f"stream without usage: text {plain_text!r}, ids {ids}")
    # The stream helper.
    with cl.chat.completions.stream(stream_options={"include_usage": True}, **kw) as s:
        for _ in s:
            pass
        out.append(chat_norm(s.get_final_completion()))
    return out


# ---------------------------------------------------------------- OpenAI Responses


def resp_norm(r):
    calls, reasoning = [], ""
    for item in r.output:
        if item.type == "function_call":
            calls.append((item.name, args_of(item.arguments)))
        elif item.type == "reasoning":
            reasoning += "".join(s.text for s in item.summary or [])
    u = r.usage
    return dict(
        text=r.output_text, reasoning=reasoning, calls=calls, finish=r.status,
        usage=None if u is None else (
            u.input_tokens, u.output_tokens,
            u.output_tokens_details.reasoning_tokens if u.output_tokens_details else 0),
    )


def resp_kwargs(case):
    kw = dict(model=f"replay-{case}" if case != "mock" else "test-model", input="Say hello")
    if case == "tools":
        kw["tools"] = [dict(type="function", **WEATHER_TOOL)]
    if case == "thinking":
        kw["reasoning"] = {"effort": "low", "summary": "auto"}
    return kw


def run_resp(base, prov, case, stream):
    import openai
    from openai.types.responses import Response
    cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
    kw = resp_kwargs(case)
    if not stream:
        raw = cl.responses.with_raw_response.create(**kw)
        strict(Response, raw.http_response.json())
        return [resp_norm(raw.parse())]
    out = []
    final = None
    seqs = []
    for ev in cl.responses.create(stream=True, **kw):
        strict(type(ev), ev.model_dump(exclude_unset=True))
        seqs.append(ev.sequence_number)
        if ev.type in ("response.completed", "response.incomplete", "response.failed"):
            final = ev.response
    if seqs != list(range(len(seqs))):
        raise AssertionError(f"sequence numbers {seqs}")
    if final is None:
        raise AssertionError("no response.completed")
    out.append(resp_norm(final))
    with cl.responses.stream(**kw) as s:
        for _ in s:
            pass
        out.append(resp_norm(s.get_final_response()))
    return out


# ---------------------------------------------------------------- Anthropic


def claude_norm(m):
    text = "".join(b.text for b in m.content if b.type == "text")
    reasoning = "".join(b.thinking for b in m.content if b.type == "thinking")
    calls = [(b.name, b.input) for b in m.content if b.type == "tool_use"]
    u = m.usage
    inp = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
    return dict(text=text, reasoning=reasoning, calls=calls, finish=m.stop_reason,
                usage=(inp, u.output_tokens, None))


def claude_kwargs(case):
    kw = dict(model=f"replay-{case}" if case != "mock" else "test-model", max_tokens=2048,
              messages=[{"role": "user", "content": "Say hello"}])
    if case == "tools":
        kw["tools"] = [dict(name=WEATHER_TOOL["name"], description=WEATHER_TOOL["description"],
                            input_schema=WEATHER_TOOL["parameters"])]
    if case == "thinking":
        kw["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    return kw


def run_claude(base, prov, case, stream):
    import anthropic
    from anthropic.types import Message
    cl = anthropic.Anthropic(base_url=f"{base}/{prov}", api_key=USER_KEY, max_retries=0)
    kw = claude_kwargs(case)
    if not stream:
        raw = cl.messages.with_raw_response.create(**kw)
        strict(Message, raw.http_response.json())
        return [claude_norm(raw.parse())]
    for ev in cl.messages.create(stream=True, **kw):
        strict(type(ev), ev.model_dump(exclude_unset=True))
    with cl.messages.stream(**kw) as s:
        for _ in s:
            pass
        msg = s.get_final_message()
    strict(Message, msg.model_dump(exclude_unset=True))
    return [claude_norm(msg)]


# ---------------------------------------------------------------- Gemini


def gemini_acc(chunks):
    acc = dict(text="", reasoning="", calls=[], finish=None, usage=None)
    for c in chunks:
        for cand in c.candidates or []:
            for p in (cand.content.parts if cand.content and cand.content.parts else []):
                if p.function_call:
                    acc["calls"].append((p.function_call.name, dict(p.function_call.args or {})))
                elif p.text is not None:
                    if p.thought:
                        acc["reasoning"] += p.text
                    else:
                        acc["text"] += p.text
            if cand.finish_reason:
                acc["finish"] = cand.finish_reason.value if hasattr(cand.finish_reason, "value") else cand.finish_reason
        u = c.usage_metadata
        if u:
            th = u.thoughts_token_count or 0
            acc["usage"] = (u.prompt_token_count or 0, (u.candidates_token_count or 0) + th, th)
    return acc


def run_gemini(base, prov, case, stream):
    from google import genai
    from google.genai import types
    cl = genai.Client(api_key=USER_KEY, http_options=types.HttpOptions(base_url=f"{base}/{prov}"))
    model = f"replay-{case}" if case != "mock" else "test-model"
    cfg = {}
    if case == "tools":
        cfg["tools"] = [types.Tool(function_declarations=[types.FunctionDeclaration(
            name=WEATHER_TOOL["name"], description=WEATHER_TOOL["description"],
            parameters_json_schema=WEATHER_TOOL["parameters"])])]
        cfg["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(disable=True)
    if case == "thinking":
        cfg["thinking_config"] = types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    config = types.GenerateContentConfig(**cfg)
    if not stream:
        r = cl.models.generate_content(model=model, contents="Say hello", config=config)
        strict(types.GenerateContentResponse, r.model_dump(exclude_unset=True))
        return [gemini_acc([r])]
    chunks = list(cl.models.generate_content_stream(model=model, contents="Say hello", config=config))
    return [gemini_acc(chunks)]


# ---------------------------------------------------------------- tool loop
#
# The second turn of a tool loop, built the SDKs' idiomatic way from the
# first answer's parsed objects (which the SDKs echo back with every field
# they parsed): gproxy must accept it, and the upstream must get both tool
# results with the calls they answer.

RESULTS = {"Paris": "sunny 20C", "Tokyo": "rainy 15C"}


def loop_chat(base, prov, stream):
    import openai
    cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
    kw = chat_kwargs("tools")
    if stream:
        with cl.chat.completions.stream(**kw) as s:
            msg = s.get_final_completion().choices[0].message
    else:
        msg = cl.chat.completions.create(**kw).choices[0].message
    messages = kw["messages"] + [msg] + [
        {"role": "tool", "tool_call_id": tc.id,
         "content": RESULTS[json.loads(tc.function.arguments)["city"]]}
        for tc in msg.tool_calls]
    kw.update(model="replay-text", messages=messages)
    return cl.chat.completions.create(**kw).choices[0].message.content


def loop_resp(base, prov, stream):
    import openai
    cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
    kw = resp_kwargs("tools")
    if stream:
        with cl.responses.stream(**kw) as s:
            r = s.get_final_response()
    else:
        r = cl.responses.create(**kw)
    items = [{"role": "user", "content": kw["input"]}] + list(r.output) + [
        {"type": "function_call_output", "call_id": it.call_id,
         "output": RESULTS[json.loads(it.arguments)["city"]]}
        for it in r.output if it.type == "function_call"]
    kw.update(model="replay-text", input=items)
    return cl.responses.create(**kw).output_text


def loop_claude(base, prov, stream):
    import anthropic
    cl = anthropic.Anthropic(base_url=f"{base}/{prov}", api_key=USER_KEY, max_retries=0)
    kw = claude_kwargs("tools")
    if stream:
        with cl.messages.stream(**kw) as s:
            m = s.get_final_message()
    else:
        m = cl.messages.create(**kw)
    results = [{"type": "tool_result", "tool_use_id": b.id, "content": RESULTS[b.input["city"]]}
               for b in m.content if b.type == "tool_use"]
    kw.update(model="replay-text", messages=kw["messages"] + [
        {"role": "assistant", "content": m.content}, {"role": "user", "content": results}])
    return "".join(b.text for b in cl.messages.create(**kw).content if b.type == "text")


def loop_gemini(base, prov, stream):
    from google import genai
    from google.genai import types
    cl = genai.Client(api_key=USER_KEY, http_options=types.HttpOptions(base_url=f"{base}/{prov}"))
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(
            name=WEATHER_TOOL["name"], description=WEATHER_TOOL["description"],
            parameters_json_schema=WEATHER_TOOL["parameters"])])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    first = types.Content(role="user", parts=[types.Part.from_text(text="Say hello")])
    if stream:
        parts = []
        for c in cl.models.generate_content_stream(model="replay-tools", contents=[first], config=config):
            parts += c.candidates[0].content.parts or []
        answer = types.Content(role="model", parts=parts)
    else:
        answer = cl.models.generate_content(
            model="replay-tools", contents=[first], config=config).candidates[0].content
    results = types.Content(role="user", parts=[
        types.Part(function_response=types.FunctionResponse(
            id=p.function_call.id, name=p.function_call.name,
            response={"result": RESULTS[p.function_call.args["city"]]}))
        for p in answer.parts if p.function_call])
    r = cl.models.generate_content(model="replay-text", contents=[first, answer, results], config=config)
    return r.text


LOOPS = {
    "openai_chat": loop_chat,
    "openai_responses": loop_resp,
    "claude": loop_claude,
    "gemini": loop_gemini,
}


def check_loop(client, upstream, base, prov, stream):
    REQUESTS.clear()
    text = LOOPS[client](base, prov, stream)
    errs = []
    if text != "Bonjour !":
        errs.append(f"second turn text {text!r}")
    if len(REQUESTS) != 2:
        return errs + [f"{len(REQUESTS)} upstream requests, want 2"]
    flat = REQUESTS[1][1]
    for city, result in RESULTS.items():
        if result not in flat:
            errs.append(f"upstream request lacks the {city} result")
    # Call ids travel (Gemini upstreams match by name and order, no ids).
    if upstream != "gemini":
        for cid in ("call_paris", "call_tokyo"):
            if flat.count(cid) < 2:
                errs.append(f"upstream request does not pair {cid} with its result")
    return errs


# ---------------------------------------------------------------- thinking loop
#
# A thinking answer handed back as the next turn's history, the SDKs' way:
# gproxy must accept the echoed reasoning, and an upstream that issued a
# signature must get it back untouched.

NEXT = "And 2*2?"


def think_chat(base, prov, stream):
    import openai
    cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
    kw = chat_kwargs("thinking")
    if stream:
        with cl.chat.completions.stream(**kw) as s:
            msg = s.get_final_completion().choices[0].message
    else:
        msg = cl.chat.completions.create(**kw).choices[0].message
    kw.update(model="replay-text", messages=kw["messages"] + [msg, {"role": "user", "content": NEXT}])
    return cl.chat.completions.create(**kw).choices[0].message.content


def think_resp(base, prov, stream):
    import openai
    cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
    kw = resp_kwargs("thinking")
    kw["include"] = ["reasoning.encrypted_content"]
    if stream:
        with cl.responses.stream(**kw) as s:
            r = s.get_final_response()
    else:
        r = cl.responses.create(**kw)
    kw.update(model="replay-text", input=[{"role": "user", "content": kw["input"]}] + list(r.output)
              + [{"role": "user", "content": NEXT}])
    return cl.responses.create(**kw).output_text


def think_claude(base, prov, stream):
    import anthropic
    cl = anthropic.Anthropic(base_url=f"{base}/{prov}", api_key=USER_KEY, max_retries=0)
    kw = claude_kwargs("thinking")
    if stream:
        with cl.messages.stream(**kw) as s:
            m = s.get_final_message()
    else:
        m = cl.messages.create(**kw)
    kw.update(model="replay-text", messages=kw["messages"] + [
        {"role": "assistant", "content": m.content}, {"role": "user", "content": NEXT}])
    return "".join(b.text for b in cl.messages.create(**kw).content if b.type == "text")


def think_gemini(base, prov, stream):
    from google import genai
    from google.genai import types
    cl = genai.Client(api_key=USER_KEY, http_options=types.HttpOptions(base_url=f"{base}/{prov}"))
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024))
    first = types.Content(role="user", parts=[types.Part.from_text(text="Say hello")])
    if stream:
        parts = []
        for c in cl.models.generate_content_stream(model="replay-thinking", contents=[first], config=config):
            parts += c.candidates[0].content.parts or []
        answer = types.Content(role="model", parts=parts)
    else:
        answer = cl.models.generate_content(
            model="replay-thinking", contents=[first], config=config).candidates[0].content
    nxt = types.Content(role="user", parts=[types.Part.from_text(text=NEXT)])
    return cl.models.generate_content(model="replay-text", contents=[first, answer, nxt], config=config).text


THINK_LOOPS = {
    "openai_chat": think_chat,
    "openai_responses": think_resp,
    "claude": think_claude,
    "gemini": think_gemini,
}


def check_think_loop(client, upstream, base, prov, stream):
    REQUESTS.clear()
    text = THINK_LOOPS[client](base, prov, stream)
    errs = []
    if text != "Bonjour !":
        errs.append(f"second turn text {text!r}")
    if len(REQUESTS) != 2:
        return errs + [f"{len(REQUESTS)} upstream requests, want 2"]
    flat = REQUESTS[1][1]
    if NEXT not in flat or "1161" not in flat:
        errs.append("upstream request lacks the history")
    # Chat has no signature to issue or carry; where one travels, it must
    # come back with the whole thinking text it signs.
    if client != "openai_chat" and upstream != "openai_chat":
        sig = SIGNATURES[upstream]
        # Gemini takes its bytes fields in either base64 alphabet (and
        # google-genai writes them URL-safe); the others need the very string.
        same = {sig, sig.replace("+", "-").replace("/", "_")} if upstream == "gemini" else {sig}
        if not any(v in flat for v in same):
            sent = re.findall(re.escape(SIG_STEM[upstream][:6]) + '[^"]*', flat)
            errs.append(f"upstream's signature not handed back untouched: sent {sent}")
        if "27*43" not in flat:
            errs.append("signed thinking handed back without its first part")
    return errs


# ---------------------------------------------------------------- counting
#
# The SDKs' token-count calls (Chat has none), against the mock: upstream
# counting where the provider's protocol has an endpoint, local otherwise.


def count_round(client, base, prov):
    if client == "openai_responses":
        import openai
        from openai.types.responses import InputTokenCountResponse
        cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
        raw = cl.responses.input_tokens.with_raw_response.count(model="test-model", input="Say hello")
        strict(InputTokenCountResponse, raw.http_response.json())
        return raw.parse().input_tokens
    if client == "claude":
        import anthropic
        from anthropic.types import MessageTokensCount
        cl = anthropic.Anthropic(base_url=f"{base}/{prov}", api_key=USER_KEY, max_retries=0)
        raw = cl.messages.with_raw_response.count_tokens(
            model="test-model", messages=[{"role": "user", "content": "Say hello"}])
        strict(MessageTokensCount, raw.http_response.json())
        return raw.parse().input_tokens
    from google import genai
    from google.genai import types
    cl = genai.Client(api_key=USER_KEY, http_options=types.HttpOptions(base_url=f"{base}/{prov}"))
    r = cl.models.count_tokens(model="test-model", contents="Say hello")
    strict(types.CountTokensResponse, r.model_dump(exclude_unset=True))
    return r.total_tokens


# ---------------------------------------------------------------- mid-stream error


def midstream_round(client, base, prov):
    """The upstream fails after the first text: the client's SDK must see
    its own protocol's stream error (an exception, or Responses' `error` /
    `response.failed` event) carrying the upstream's message."""
    kw = {"openai_chat": chat_kwargs, "openai_responses": resp_kwargs,
          "claude": claude_kwargs}.get(client, lambda c: None)("text")
    if kw:
        kw["model"] = "replay-midstream"
    seen = []
    try:
        if client == "openai_chat":
            import openai
            cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
            for c in cl.chat.completions.create(stream=True, **kw):
                seen.append(c)
        elif client == "openai_responses":
            import openai
            cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
            for ev in cl.responses.create(stream=True, **kw):
                strict(type(ev), ev.model_dump(exclude_unset=True))
                seen.append(ev)
            bad = [ev for ev in seen if ev.type in ("error", "response.failed")]
            if not bad:
                return [f"no error event: {[ev.type for ev in seen]}"]
            if OVERLOADED not in json.dumps([ev.model_dump() for ev in bad]):
                return [f"error event without the upstream's message: {bad}"]
            if seen[-1].type not in ("error", "response.failed"):
                return [f"stream went on after the error: {[ev.type for ev in seen]}"]
            return []
        elif client == "claude":
            import anthropic
            cl = anthropic.Anthropic(base_url=f"{base}/{prov}", api_key=USER_KEY, max_retries=0)
            for ev in cl.messages.create(stream=True, **kw):
                seen.append(ev)
        else:
            from google import genai
            from google.genai import types
            cl = genai.Client(api_key=USER_KEY, http_options=types.HttpOptions(base_url=f"{base}/{prov}"))
            for c in cl.models.generate_content_stream(model="replay-midstream", contents="Say hello"):
                seen.append(c)
    except Exception as e:  # noqa: BLE001 - classified below
        want = {"openai_chat": "APIError", "claude": "APIStatusError", "gemini": "APIError",
                "openai_responses": "(no exception: an error event)"}[client]
        names = [k.__name__ for k in type(e).__mro__]
        errs = []
        if want not in names:
            errs.append(f"raised {type(e).__name__}, want a {want}")
        if OVERLOADED not in str(e):
            errs.append(f"message not passed on: {str(e)[:300]}")
        if not seen:
            errs.append("the text before the error was lost")
        return errs
    return [f"no exception; stream ended normally after {len(seen)} events"]


# ---------------------------------------------------------------- image input

# A 1x1 PNG.
PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def image_round(client, upstream, base, prov):
    """An image built with the SDK's own helpers/shapes must reach the
    upstream (as its protocol's inline image) and the answer come back."""
    import base64
    REQUESTS.clear()
    url = f"data:image/png;base64,{PNG_B64}"
    if client == "openai_chat":
        import openai
        cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
        text = cl.chat.completions.create(model="replay-text", messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}}]}]).choices[0].message.content
    elif client == "openai_responses":
        import openai
        cl = openai.OpenAI(base_url=f"{base}/{prov}/v1", api_key=USER_KEY, max_retries=0)
        text = cl.responses.create(model="replay-text", input=[{"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": url, "detail": "auto"}]}]).output_text
    elif client == "claude":
        import anthropic
        cl = anthropic.Anthropic(base_url=f"{base}/{prov}", api_key=USER_KEY, max_retries=0)
        m = cl.messages.create(model="replay-text", max_tokens=256, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
            {"type": "text", "text": "What is this?"}]}])
        text = "".join(b.text for b in m.content if b.type == "text")
    else:
        from google import genai
        from google.genai import types
        cl = genai.Client(api_key=USER_KEY, http_options=types.HttpOptions(base_url=f"{base}/{prov}"))
        text = cl.models.generate_content(model="replay-text", contents=[
            types.Part.from_bytes(data=base64.b64decode(PNG_B64), mime_type="image/png"),
            "What is this?"]).text
    errs = [] if text == "Bonjour !" else [f"text {text!r}"]
    if len(REQUESTS) != 1:
        return errs + [f"{len(REQUESTS)} upstream requests"]
    if PNG_B64 not in REQUESTS[0][1] and PNG_B64.replace("+", "-").replace("/", "_") not in REQUESTS[0][1]:
        errs.append("the image did not reach the upstream")
    return errs


RUNNERS = {
    "openai_chat": run_chat,
    "openai_responses": run_resp,
    "claude": run_claude,
    "gemini": run_gemini,
}

# ---------------------------------------------------------------- main


def run_round(client, prov, upstream, case, stream, base, verbose):
    """One round: (errors, warnings)."""
    def call():
        return RUNNERS[client](base, prov, case, stream)

    if case == "error":
        return check_error(client, call), []
    if case == "midstream":
        STRICT.clear()
        try:
            errs = midstream_round(client, base, prov)
        except Exception as e:  # noqa: BLE001 - reported per round
            if verbose:
                traceback.print_exc()
            errs = [f"{type(e).__name__}: {str(e)[:600]}"]
        return (errs, list(STRICT)) if client == upstream else (errs + STRICT, [])
    if case == "image":
        try:
            return image_round(client, upstream, base, prov), []
        except Exception as e:  # noqa: BLE001 - reported per round
            if verbose:
                traceback.print_exc()
            return [f"{type(e).__name__}: {str(e)[:600]}"], []
    if case == "count":
        STRICT.clear()
        try:
            n = count_round(client, base, prov)
        except Exception as e:  # noqa: BLE001 - reported per round
            if verbose:
                traceback.print_exc()
            return [f"{type(e).__name__}: {str(e)[:600]}"], []
        errs = [] if isinstance(n, int) and n > 0 else [f"count {n!r}"]
        return errs + STRICT, []
    if case in ("loop", "thinkloop"):
        check = check_loop if case == "loop" else check_think_loop
        try:
            return check(client, upstream, base, prov, stream), []
        except Exception as e:  # noqa: BLE001 - reported per round
            if verbose:
                traceback.print_exc()
            return [f"{type(e).__name__}: {str(e)[:600]}"], []
    exp = expected(case, upstream)
    STRICT.clear()
    errs = []
    try:
        for got in call():
            errs += compare(client, got, exp)
    except Exception as e:  # noqa: BLE001 - reported per round
        errs.append(f"{type(e).__name__}: {str(e)[:600]}")
        if verbose:
            traceback.print_exc()
    if client == upstream:
        # Same protocol: the upstream's bytes, forwarded untouched; a
        # schema gap there is the upstream's.
        return errs, list(STRICT)
    return errs + STRICT, []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", action="store_true", help="print tracebacks")
    ap.add_argument("-k", default="", help="only rounds whose name contains this")
    opts = ap.parse_args()

    procs = []
    tmp = tempfile.mkdtemp(prefix="gproxy-sdk-smoke-")
    try:
        mock = subprocess.Popen([str(bin_dir() / "gproxy-bench"), "mock", "--port", "0"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(mock)
        mock_url = wait_banner(mock, "mock")
        replay_url = start_replay()
        gw_mock, gw_mock_url = start_gateway(mock_url, tmp, "gw-mock")
        procs.append(gw_mock)
        gw_replay, gw_replay_url = start_gateway(replay_url, tmp, "gw-replay")
        procs.append(gw_replay)

        results = []
        for client in CLIENTS:
            for prov, upstream in PROVIDERS.items():
                for case in ("mock", "text", "tools", "thinking", "error", "midstream", "loop",
                             "thinkloop", "image", "count"):
                    if case == "count" and client == "openai_chat":
                        continue
                    for stream in {"count": (False,), "image": (False,),
                                   "midstream": (True,)}.get(case, (False, True)):
                        name = f"{client} <- {prov} {case} {'stream' if stream else 'plain'}"
                        if opts.k and opts.k not in name:
                            continue
                        base = gw_mock_url if case in ("mock", "count") else gw_replay_url
                        errs, warns = run_round(client, prov, upstream, case, stream, base, opts.v)
                        results.append((name, errs))
                        status = "FAIL" if errs else ("warn" if warns else "ok  ")
                        notes = [e.splitlines()[0] + " " + " ".join(e.splitlines()[1:2]) for e in errs + warns]
                        print(f"{status} {name}" + "".join(f"\n       {n}" for n in dict.fromkeys(notes)),
                              flush=True)
        failed = [r for r in results if r[1]]
        print(f"\n{len(results) - len(failed)}/{len(results)} rounds passed")
        return 1 if failed else 0
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
