#!/usr/bin/env python3
"""Records what a coding agent sends, for the golden fixtures in
crates/gproxy-protocol/tests/fixtures/agents/ (see route.md, "Coding agents").

Usage: agent_capture.py PORT OUT_DIR

A tiny local upstream that speaks just enough Anthropic Messages, OpenAI
Responses and Gemini to keep an agent going: each request is written to
OUT_DIR/NNN.json (path, headers, body) and answered with a streamed text,
or, when the conversation contains the word RUNTOOL and its last turn is
not a tool result, with a call of the agent's shell tool (`Bash`,
`exec_command`, `run_shell_command`) running `echo hi-from-tool`, so the
agent really runs its tool and sends a tool-loop turn. No network access
beyond 127.0.0.1. Examples (telemetry and update checks off):

  claude -p "RUNTOOL: run echo hi-from-tool with Bash" --model gpt-5 --allowedTools Bash
    with ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_API_KEY=sk-test
    DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
  codex exec --skip-git-repo-check -s workspace-write -c model=gpt-5 -c model_provider=mock \
    -c 'model_providers.mock={name="mock",base_url="http://127.0.0.1:PORT/v1",wire_api="responses",env_key="MOCK_KEY"}' \
    -c analytics.enabled=false "RUNTOOL: run echo hi-from-tool"
  gemini -p "RUNTOOL: run echo hi-from-tool" -m gemini-2.5-flash --yolo
    with GEMINI_API_KEY=test-key GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT

Scrub machine paths and ids from the captures before committing them.
"""
import json, sys, os, itertools
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
OUT = sys.argv[2]; n = itertools.count()
def sse(h, events):
    h.send_response(200); h.send_header('content-type','text/event-stream'); h.end_headers()
    for ev, data in events:
        s = (f"event: {ev}\n" if ev else "") + "data: " + json.dumps(data) + "\n\n"
        h.wfile.write(s.encode()); h.wfile.flush()
def wants_tool(body):
    s = json.dumps(body)
    last = json.dumps(body.get('messages', body.get('input', body.get('contents', [])))[-1:] if isinstance(body.get('messages', body.get('input', body.get('contents', []))), list) else '')
    return 'RUNTOOL' in s and not any(k in last for k in ('tool_result','function_call_output','functionResponse'))
class H(BaseHTTPRequestHandler):
    def log_message(self,*a): pass
    def do_GET(self):
        i = next(n); json.dump({'method':'GET','path':self.path,'headers':dict(self.headers)}, open(f"{OUT}/{i:03d}.json",'w'), indent=1)
        self.send_response(200); self.send_header('content-type','application/json'); self.end_headers(); self.wfile.write(b'{"data":[],"models":[]}')
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get('content-length','0') or 0))
        try: body = json.loads(raw)
        except Exception: body = raw.decode('utf8','replace')
        i = next(n)
        json.dump({'method':'POST','path':self.path,'headers':dict(self.headers),'body':body}, open(f"{OUT}/{i:03d}.json",'w'), indent=1)
        p = self.path
        tool = isinstance(body, dict) and wants_tool(body)
        if 'count_tokens' in p:
            return self.json({'input_tokens': 10, 'totalTokens': 10})
        if '/messages' in p:
            ev = [('message_start', {'type':'message_start','message':{'id':'msg_1','type':'message','role':'assistant','model':body.get('model'),'content':[],'stop_reason':None,'usage':{'input_tokens':10,'output_tokens':1}}})]
            if tool:
                ev += [('content_block_start',{'type':'content_block_start','index':0,'content_block':{'type':'tool_use','id':'toolu_1','name':'Bash','input':{}}}),
                       ('content_block_delta',{'type':'content_block_delta','index':0,'delta':{'type':'input_json_delta','partial_json':json.dumps({'command':'echo hi-from-tool','description':'say hi'})}}),
                       ('content_block_stop',{'type':'content_block_stop','index':0}),
                       ('message_delta',{'type':'message_delta','delta':{'stop_reason':'tool_use'},'usage':{'output_tokens':5}})]
            else:
                ev += [('content_block_start',{'type':'content_block_start','index':0,'content_block':{'type':'text','text':''}}),
                       ('content_block_delta',{'type':'content_block_delta','index':0,'delta':{'type':'text_delta','text':'Done: hello'}}),
                       ('content_block_stop',{'type':'content_block_stop','index':0}),
                       ('message_delta',{'type':'message_delta','delta':{'stop_reason':'end_turn'},'usage':{'output_tokens':5}})]
            ev.append(('message_stop',{'type':'message_stop'}))
            if body.get('stream'): return sse(self, ev)
            content = [{'type':'tool_use','id':'toolu_1','name':'Bash','input':{'command':'echo hi-from-tool'}}] if tool else [{'type':'text','text':'Done: hello'}]
            return self.json({'id':'msg_1','type':'message','role':'assistant','model':body.get('model'),'content':content,'stop_reason':'tool_use' if tool else 'end_turn','usage':{'input_tokens':10,'output_tokens':5}})
        if '/responses' in p:
            if tool:
                item = {'type':'function_call','id':'fc_1','call_id':'call_1','name':'exec_command','arguments':json.dumps({'cmd':'echo hi-from-tool'}),'status':'completed'}
            else:
                item = {'type':'message','id':'msg_1','role':'assistant','status':'completed','content':[{'type':'output_text','text':'Done: hello','annotations':[]}]}
            resp = {'id':'resp_1','object':'response','status':'completed','model':body.get('model'),'output':[item],'usage':{'input_tokens':10,'output_tokens':5,'total_tokens':15}}
            return sse(self, [('response.created',{'type':'response.created','response':dict(resp,status='in_progress',output=[])}),
                              ('response.output_item.done',{'type':'response.output_item.done','output_index':0,'item':item}),
                              ('response.completed',{'type':'response.completed','response':resp})])
        if 'generateContent' in p or 'GenerateContent' in p:
            part = {'functionCall':{'name':'run_shell_command','args':{'command':'echo hi-from-tool'}}} if tool else {'text':'Done: hello'}
            chunk = {'candidates':[{'content':{'role':'model','parts':[part]},'finishReason':'STOP','index':0}],'usageMetadata':{'promptTokenCount':10,'candidatesTokenCount':5,'totalTokenCount':15},'modelVersion':'gemini-2.5-flash'}
            if 'stream' in p: return sse(self, [(None, chunk)])
            return self.json(chunk)
        return self.json({})
    def json(self, v):
        b = json.dumps(v).encode(); self.send_response(200); self.send_header('content-type','application/json'); self.send_header('content-length',str(len(b))); self.end_headers(); self.wfile.write(b)
ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
