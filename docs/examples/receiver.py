# A bbb-chat callback receiver: it accepts a callback whose Standard Webhooks signature or original bbb-chat
# checksum is right (one is enough), drops repeated deliveries by webhook-id, and prints each chat message. Standard
# library only. A secret written whsec_<base64> keys the signature with its decoded bytes.
#
#   SECRET='the callback_secret' PORT=8080 python3 receiver.py
import base64, hashlib, hmac, json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["SECRET"]
seen = set()  # webhook-ids handled; keep them in a store of yours for real


def signature_ok(headers, body):
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    key = base64.b64decode(SECRET[6:]) if SECRET.startswith("whsec_") else SECRET.encode()
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, s) for s in headers.get("webhook-signature", "").split())


def checksum_ok(call, params):
    got = params.pop("checksum", "")
    now = int(time.time())
    for t in range(now - 30, now + 6):
        want = hashlib.sha512((call + json.dumps(params) + SECRET + str(t)).encode()).hexdigest()
        if hmac.compare_digest(want, got):
            return True
    return False


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        msg = json.loads(body)
        # Every kind but the first version's three carries its type, which is also its call name.
        call = msg.get("type") or ("sendChatMessage" if "message" in msg else "chatCleared" if "chat_id" in msg else "meetingEnded")
        if not (signature_ok(self.headers, body) or checksum_ok(call, dict(msg))):
            self.send_response(401)
            self.end_headers()
            return
        if self.headers["webhook-id"] not in seen:
            seen.add(self.headers["webhook-id"])
            if call == "sendChatMessage":
                print(f'{msg["user_name"]}: {msg["message"]}', flush=True)
            else:
                print(call, msg["meeting_id"], flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hook).serve_forever()
